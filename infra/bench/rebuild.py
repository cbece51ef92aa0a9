"""Replay: a full rebuild of the read models (projections.replay.replay) over the run's history."""

from __future__ import annotations

import time
from typing import Any

from infra.bench.harness import Harness
from infra.bench.monitor import ResourceMonitor
from infra.bench.stats import rate
from projections.replay import replay


async def run_replay(h: Harness) -> dict[str, Any]:
    h.stop_component("projection")  # replay needs the live projection stopped
    monitor = ResourceMonitor(h.pids())
    monitor.start()
    start = time.perf_counter()
    try:
        applied = await replay(h.settings)
    finally:
        resources = await monitor.stop()
    seconds = time.perf_counter() - start
    # The replay runs in this (the bench) process: its CPU is in "bench".
    return {"records": applied, "seconds": seconds, "records_per_second": rate(applied, seconds), "resources": resources}
