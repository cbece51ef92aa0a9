"""End to end: events in (straight to the topic, or through POST /triggers/process_event),
executions of the 3-node workflow out; throughput, event-to-completion latency, resources.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from infra.bench.harness import EVENT_TYPE, Harness
from infra.bench.load import post_paced
from infra.bench.monitor import ResourceMonitor, cpu_ms_per_item
from infra.bench.records import end_offsets, records_by_topic, settled_end_offsets
from infra.bench.stats import latency_summary, rate
from infra.bench.tracker import CompletionTracker
from infra.kafka_io import make_producer
from ingest.events import event_record
from schemas.records import EventIngested

# A bounded set of contacts: the matcher's per-contact state stays the same size
# however long the run, so memory growth would be a leak, not more contacts.
SUBJECTS = 1000


def event_body(i: int) -> dict[str, Any]:
    user = f"bench-u{i % SUBJECTS}"
    email = f"{user}@example.com"
    return {"event_type": EVENT_TYPE, "user_id": user, "data": {"email": email, "n": i}, "user": {"email": email}}


async def _produce(h: Harness, n: int, target_rate: float | None) -> dict[str, Any]:
    """Write n events to fluxo.events.v1 the way a direct producer does (acks=all, idempotent)."""
    producer = make_producer(h.settings)
    await producer.start()
    pending: list[asyncio.Future[Any]] = []
    lag = 0.0
    start = time.perf_counter()
    try:
        for i in range(n):
            if target_rate:
                delay = start + i / target_rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    lag = max(lag, -delay)
            body = event_body(i)
            _, out = event_record(EventIngested(**body), workspace_id=h.workspace_id, source="bench")
            pending.append(await producer.send(
                h.settings.topic(out.topic), value=out.value, key=out.key.encode(), headers=out.headers
            ))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    elapsed = time.perf_counter() - start
    return {"produced": n, "produce_seconds": elapsed, "produce_rate": rate(n, elapsed), "max_lag_ms": lag * 1000}


async def _post(h: Harness, n: int, target_rate: float | None, concurrency: int) -> dict[str, Any]:
    assert h.session is not None
    result = await post_paced(h.session, "/api/v1/triggers/process_event", event_body, n, target_rate, concurrency)
    return {
        "produced": sum(c for s, c in result.statuses.items() if s == 202),
        "produce_seconds": result.elapsed,
        "produce_rate": rate(len(result.latencies_ms), result.elapsed),
        "max_lag_ms": result.max_lag_ms,
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "http_errors": result.errors,
        "request_latency_ms": latency_summary(result.latencies_ms),
    }


async def run_e2e(
    h: Harness, *, n: int, target_rate: float | None, via: str, concurrency: int = 64, timeout: float = 600
) -> dict[str, Any]:
    tracker = CompletionTracker(h.settings, h.workflow_id, EVENT_TYPE)
    await tracker.start()
    offsets_before = await end_offsets(h.settings)
    monitor = ResourceMonitor(h.pids())
    monitor.start()
    started = time.perf_counter()
    try:
        if via == "kafka":
            produced = await _produce(h, n, target_rate)
        else:
            produced = await _post(h, n, target_rate, concurrency)
        expected = int(produced["produced"])
        finished = await tracker.wait_for(expected, timeout)
    finally:
        resources = await monitor.stop()
        await tracker.stop()
    wall = time.perf_counter() - started
    t = tracker.timeline
    records = await records_by_topic(h.settings, offsets_before, await settled_end_offsets(h.settings), len(t.completed_at))
    window = t.window()
    span = (window[1] - window[0]).total_seconds() if window else 0.0
    return {
        "via": via,
        "events": n,
        "target_rate": target_rate,
        **produced,
        "completed": len(t.completed_at),
        "failed": t.failed,
        "all_finished": finished,
        "wall_seconds": wall,
        # Executions completed / (first event's time .. last completion): sustained throughput.
        "executions_per_second": rate(len(t.completed_at), span),
        "event_to_completion_ms": latency_summary(t.latencies_ms()),
        "stages_ms": {name: latency_summary(values) for name, values in t.stages_ms().items()},
        "cpu_ms_per_execution": cpu_ms_per_item(resources, len(t.completed_at)),
        "records": records,
        "resources": resources,
    }
