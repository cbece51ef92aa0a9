"""An HTTP load generator: N requests at a fixed rate (or flat out), bounded concurrency."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    elapsed: float = 0.0
    # The request fell behind its schedule by this much (the generator could not keep up).
    max_lag_ms: float = 0.0


async def post_paced(
    session: aiohttp.ClientSession,
    path: str,
    body: Callable[[int], dict[str, Any]],
    n: int,
    rate: float | None,
    concurrency: int,
) -> LoadResult:
    """POST body(i) for i in range(n); request i is due at start + i/rate.

    Latency is from the moment a request is sent to its full response; a
    request that starts late (every worker busy) is counted in max_lag_ms.
    """
    result = LoadResult()
    counter = iter(range(n))
    start = time.perf_counter()

    async def worker() -> None:
        for i in counter:
            if rate:
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    result.max_lag_ms = max(result.max_lag_ms, -delay * 1000)
            sent = time.perf_counter()
            try:
                async with session.post(path, json=body(i)) as r:
                    await r.read()
                    result.statuses[r.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                result.errors += 1
                continue
            result.latencies_ms.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    result.elapsed = time.perf_counter() - start
    return result
