"""Kafka, PostgreSQL, and each processor's liveness and consumer lag (/health, /metrics, queue status)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from api.state import AppState
from infra.kafka_io import topic_partitions
from projections.runner import PROJECTION
from projections.runner import TOPICS as PROJECTED_TOPICS
from schemas.topics import EVENTS, EXECUTIONS, NODE_WORK, TIMERS, TRIGGER_LOG, TopicSpec

PROCESSORS: dict[str, tuple[TopicSpec, ...]] = {
    "matcher": (EVENTS, TRIGGER_LOG),
    "executor": (EXECUTIONS,),
    "worker": (NODE_WORK,),
    "timers": (TIMERS,),
}
_TIMEOUT = 3.0


async def _partitions(state: AppState, specs: tuple[TopicSpec, ...]) -> list[TopicPartition]:
    return await topic_partitions(state.offsets, state.settings, specs)


def _lag_view(end: dict[TopicPartition, int], done: dict[TopicPartition, int]) -> dict[str, Any]:
    partitions = [
        {"topic": tp.topic, "partition": tp.partition, "end_offset": end[tp],
         "committed": done.get(tp, 0), "lag": max(0, end[tp] - done.get(tp, 0))}
        for tp in sorted(end, key=lambda t: (t.topic, t.partition))
    ]
    return {"lag": sum(p["lag"] for p in partitions), "partitions": partitions}


async def processor_view(state: AppState, name: str, specs: tuple[TopicSpec, ...]) -> dict[str, Any]:
    group = state.settings.group(name)
    described = await state.admin.describe_consumer_groups([group])
    group_state, members = "Unknown", 0
    for response in described:
        for entry in response.groups:
            group_state, members = entry[2] or "Empty", len(entry[5])
    committed = await state.admin.list_consumer_group_offsets(group)
    tps = await _partitions(state, specs)
    end = await state.offsets.end_offsets(tps)
    done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
    view = _lag_view(end, done)
    view.update(group=group, state=group_state, members=members, alive=members > 0)
    return view


async def projection_view(state: AppState) -> dict[str, Any]:
    rows = await state.pool.fetch(
        "SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = $1", PROJECTION
    )
    done = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    tps = await _partitions(state, PROJECTED_TOPICS)
    end = await state.offsets.end_offsets(tps)
    view = _lag_view(end, done)
    view["alive"] = None  # offsets live in PostgreSQL; liveness shows as lag not shrinking
    return view


async def health_report(state: AppState) -> tuple[bool, dict[str, Any]]:
    report: dict[str, Any] = {}
    feed = state.directory
    staleness = feed.staleness()
    report["directory"] = {
        "status": "ready" if feed.ready else "catching_up",
        "staleness_seconds": round(staleness, 3) if staleness is not None else None,
        "bound_seconds": feed.bound,
    }
    ready = True
    try:
        cluster = await asyncio.wait_for(state.admin.describe_cluster(), _TIMEOUT)
        report["kafka"] = {"status": "up", "brokers": len(cluster.get("brokers", []))}
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a health check
        report["kafka"] = {"status": "down", "error": type(exc).__name__}
        ready = False
    try:
        await asyncio.wait_for(state.pool.fetchval("SELECT 1"), _TIMEOUT)
        report["postgres"] = {"status": "up"}
    except Exception as exc:  # noqa: BLE001
        report["postgres"] = {"status": "down", "error": type(exc).__name__}
        ready = False
    processors: dict[str, Any] = {}
    if ready:
        for name, specs in PROCESSORS.items():
            try:
                processors[name] = await asyncio.wait_for(processor_view(state, name, specs), _TIMEOUT)
            except Exception as exc:  # noqa: BLE001
                processors[name] = {"alive": False, "error": type(exc).__name__}
            ready = ready and bool(processors[name].get("alive"))
        try:
            processors["projection"] = await asyncio.wait_for(projection_view(state), _TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            processors["projection"] = {"error": type(exc).__name__}
            ready = False
    report["processors"] = processors
    ready = ready and feed.ready  # authenticating from memory needs the whole topic read
    report["status"] = "ready" if ready else "degraded"
    return ready, report
