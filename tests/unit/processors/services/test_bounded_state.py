"""Processor memory stays bounded: the executor's finished markers expire, the timer heap sheds dead entries."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiokafka.structs import ConsumerRecord

from processors.engine.machine import advance, finished_marker
from processors.services.executor import Executor, FinishedMarkers
from processors.services.timers import TimerService
from processors.streams.runner import Incoming
from processors.streams.state import StateStore
from schemas.envelope import RecordData, make_envelope, now
from schemas.records import ExecutionStarted, TimerCancelled, TimerScheduled
from schemas.workflow import Node, NodeType, WorkflowSnapshot


def incoming(data: RecordData, partition: int = 0, execution_id: str | None = None) -> Incoming:
    env = make_envelope(data, source="tests", workspace_id="ws", execution_id=execution_id)
    record = ConsumerRecord("t", partition, 0, 0, 0, None, None, None, 0, 0, [])
    return Incoming(record, env, data)


def marker_store(*entries: tuple[int, str, float]) -> tuple[StateStore, FinishedMarkers]:
    store = StateStore()
    markers = FinishedMarkers(horizon_seconds=60, max_markers=3)
    for partition, key, at in entries:
        store.put(partition, key, finished_marker({"status": "completed"}, at))
        markers.finished(partition, key, at)
    store.commit()
    return store, markers


def test_markers_past_the_horizon_become_tombstones() -> None:
    store, markers = marker_store((0, "old", 100.0), (1, "young", 150.0))
    assert markers.expire(store, {0, 1}, current=170.0) == 1
    assert store.mark() == {(0, "old"): None}  # a tombstone: the compacted changelog drops it too
    store.commit()
    assert store.get(0, "old") is None and store.get(1, "young") is not None
    assert markers.expire(store, {0, 1}, current=200.0) == 0 and len(markers) == 1


def test_the_cap_drops_the_oldest_first() -> None:
    store, markers = marker_store(*[(0, f"e{i}", 100.0 + i) for i in range(5)])
    assert markers.expire(store, {0}, current=101.0) == 2
    store.commit()
    assert [store.get(0, f"e{i}") is not None for i in range(5)] == [False, False, True, True, True]


def test_markers_of_partitions_no_longer_held_or_replaced_are_left_alone() -> None:
    store, markers = marker_store((0, "gone", 1.0), (1, "rerun", 2.0))
    store.put(1, "rerun", {"status": "running"})  # the key holds something else now
    store.commit()
    assert markers.expire(store, {1}, current=1000.0) == 0
    assert store.mark() == {} and len(markers) == 0


def test_restored_markers_are_indexed_oldest_first_and_old_format_counts_from_the_restore() -> None:
    store = StateStore()
    store.load(0, "b", {"status": "failed", "finished_at": 50.0})
    store.load(0, "legacy", {"execution_id": "legacy", "status": "completed"})
    store.load(0, "a", {"status": "completed", "finished_at": 10.0})
    store.load(0, "live", {"status": "running"})
    store.load(2, "elsewhere", {"status": "completed", "finished_at": 1.0})
    markers = FinishedMarkers(horizon_seconds=60, max_markers=100)
    assert markers.index(store, {0}, restored_at=500.0) == 3
    assert markers.expire(store, {0}, current=200.0) == 2  # a and b; legacy lives until 560
    assert set(store.mark()) == {(0, "a"), (0, "b")}


def test_a_duplicate_start_within_the_horizon_is_refused_and_after_it_runs_again() -> None:
    stamp = now()
    workflow = WorkflowSnapshot(id="wf", workspace_id="ws", version=1, name="w",
                                nodes=(Node(id="t", node_type=NodeType.TRIGGER),), created_at=stamp, updated_at=stamp)
    start = ExecutionStarted(execution_id="e1", workflow=workflow, trigger_type="event")
    executor = Executor()
    store = StateStore()
    executor._one(incoming(start, execution_id="e1"), store)
    store.commit()
    marker = store.get(0, "e1")
    assert marker is not None and marker["status"] == "completed" and len(executor.markers) == 1
    assert advance(marker, incoming(start).envelope, start, now()) == (marker, [])  # refused
    assert executor._one(incoming(start, execution_id="e1"), store) == []
    asyncio.run(executor.tick(store, {0}))
    assert store.mark() == {}  # within the horizon: kept
    executor.markers.horizon = 0.0
    asyncio.run(executor.tick(store, {0}))
    store.commit()
    assert store.get(0, "e1") is None
    # The documented trade-off: past the horizon the same start is a new execution.
    assert executor._one(incoming(start, execution_id="e1"), store) != []


def test_cancelled_timers_do_not_pile_up_in_the_heap() -> None:
    service = TimerService()
    store = StateStore()
    fire = now() + timedelta(hours=1)
    for i in range(5000):
        service._one(incoming(TimerScheduled(timer_id=f"t{i}", execution_id=f"e{i}", purpose="execution_timeout",
                                             fire_at=fire)), store)
        service._one(incoming(TimerCancelled(timer_id=f"t{i}", execution_id=f"e{i}")), store)
    service._one(incoming(TimerScheduled(timer_id="keep", execution_id="k", purpose="wait", fire_at=fire)), store)
    store.commit()
    assert len(service._heap) == 5001
    service._compact(store)
    assert [key for _, _, key in service._heap] == ["timer:keep"]
