"""How many Kafka records one execution costs, per topic: the engine's budget is 8, changelogs
included (DESIGN.md, "The hot path"), and every record is a write, a fetch and a decode.

Counted from the broker, not from our code: each topic's end offsets before and after a run,
and a read_committed read of that range. Committed records are what consumers get; the rest
of the offset range is transaction control markers (one per partition a transaction wrote,
per commit) and records of aborted transactions, reported apart as `markers_or_aborted`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition

from infra.kafka_io import make_consumer, topic_partitions
from infra.settings import Settings
from schemas.topics import ALL_TOPICS

Offsets = dict[TopicPartition, int]


async def end_offsets(settings: Settings) -> Offsets:
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, settings, ALL_TOPICS)
        ends: Offsets = await consumer.end_offsets(tps)
        return ends
    finally:
        await consumer.stop()


async def settled_end_offsets(settings: Settings, *, quiet_seconds: float = 1.0, limit_seconds: float = 15.0) -> Offsets:
    """End offsets once nothing has been written for `quiet_seconds` (the last contact events,
    their trigger logs and the state tombstones land after the execution completed)."""
    deadline = time.monotonic() + limit_seconds
    last = await end_offsets(settings)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_seconds)
        now = await end_offsets(settings)
        if now == last:
            break
        last = now
    return last


async def _committed_between(
    settings: Settings, start: Offsets, end: Offsets,
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Committed records, and their key + value bytes, per partition in the range."""
    ranges = {tp: (start.get(tp, 0), end[tp]) for tp in end if end[tp] > start.get(tp, 0)}
    counts = dict.fromkeys(ranges, 0)
    sizes = dict.fromkeys(ranges, 0)
    if not ranges:
        return counts, sizes
    consumer = make_consumer(settings)
    consumer.assign(list(ranges))
    await consumer.start()
    try:
        for tp, (low, _) in ranges.items():
            consumer.seek(tp, low)
        remaining = set(ranges)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=10_000)
            for tp, records in batches.items():
                high = ranges[tp][1]
                inside = [r for r in records if r.offset < high]
                counts[tp] += len(inside)
                sizes[tp] += sum(len(r.key or b"") + len(r.value or b"") for r in inside)
            for tp in list(remaining):
                # Past the range: control markers have offsets but are never delivered.
                if await consumer.position(tp) >= ranges[tp][1]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return counts, sizes


async def records_by_topic(settings: Settings, start: Offsets, end: Offsets, executions: int) -> dict[str, Any]:
    """Per topic (its registry name): committed records, their bytes (key + value: what the executor's
    state carries shows here), and markers/aborted, in all and per execution."""
    committed, sizes = await _committed_between(settings, start, end)
    by_name = {settings.topic(spec): spec for spec in ALL_TOPICS}
    topics: dict[str, dict[str, Any]] = {}
    for tp, high in end.items():
        spec = by_name.get(tp.topic)
        if spec is None:
            continue
        row = topics.setdefault(spec.name, {"records": 0, "bytes": 0, "markers_or_aborted": 0, "changelog": spec.internal})
        span = high - start.get(tp, 0)
        row["records"] += committed.get(tp, 0)
        row["bytes"] += sizes.get(tp, 0)
        row["markers_or_aborted"] += span - committed.get(tp, 0)
    per = max(executions, 1)
    for row in topics.values():
        row["records_per_execution"] = row["records"] / per
        row["bytes_per_execution"] = row["bytes"] / per
        row["markers_or_aborted_per_execution"] = row["markers_or_aborted"] / per
    topics = {name: row for name, row in sorted(topics.items()) if row["records"] or row["markers_or_aborted"]}
    records = sum(r["records"] for r in topics.values())
    changelog = sum(r["records"] for r in topics.values() if r["changelog"])
    markers = sum(r["markers_or_aborted"] for r in topics.values())
    return {
        "executions": executions,
        "topics": topics,
        "records_per_execution": records / per,
        "bytes_per_execution": sum(r["bytes"] for r in topics.values()) / per,
        "changelog_records_per_execution": changelog / per,
        "markers_or_aborted_per_execution": markers / per,
    }
