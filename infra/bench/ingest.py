"""The ingest API alone: POST /triggers/process_event under load, for events no trigger matches."""

from __future__ import annotations

from typing import Any

from infra.bench.harness import Harness
from infra.bench.load import post_paced
from infra.bench.monitor import ResourceMonitor, cpu_ms_per_item
from infra.bench.stats import latency_summary, rate

INGEST_EVENT_TYPE = "BENCH_INGEST"


def ingest_body(i: int) -> dict[str, Any]:
    return {"event_type": INGEST_EVENT_TYPE, "user_id": f"bench-i{i % 1000}", "data": {"n": i}}


async def run_ingest(h: Harness, *, n: int, target_rate: float | None, concurrency: int) -> dict[str, Any]:
    assert h.session is not None
    monitor = ResourceMonitor(h.pids())
    monitor.start()
    try:
        result = await post_paced(h.session, "/api/v1/triggers/process_event", ingest_body, n, target_rate, concurrency)
    finally:
        resources = await monitor.stop()
    return {
        "requests": n,
        "target_rate": target_rate,
        "concurrency": concurrency,
        "requests_per_second": rate(len(result.latencies_ms), result.elapsed),
        "seconds": result.elapsed,
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "http_errors": result.errors,
        "max_lag_ms": result.max_lag_ms,
        "latency_ms": latency_summary(result.latencies_ms),
        # Includes the matcher reading the events: ingest's whole cost per request.
        "cpu_ms_per_request": cpu_ms_per_item(resources, len(result.latencies_ms)),
        "resources": resources,
    }
