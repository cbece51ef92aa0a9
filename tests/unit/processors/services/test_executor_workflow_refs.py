"""The executor's state names its pinned workflow; the snapshot is kept once per partition in the changelog.

Driven through `Executor.handle` with a real StateStore and the changelog codec, as the
runner drives it (tests/unit/processors/streams/ holds the runner's own contract).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from processors.engine.machine import Workflows, advance
from processors.services.executor import Executor
from processors.streams.runner import Incoming
from processors.streams.state import StateStore
from schemas.codec import decode
from schemas.envelope import RecordData, make_envelope
from schemas.errors import UnknownWorkflowSnapshot
from schemas.outputs import Output
from schemas.records import (
    ExecutionCompleted,
    ExecutionStarted,
    NodeSucceeded,
    NodeWorkOrdered,
    TimerFired,
    TimerScheduled,
)
from schemas.state_versions import EXECUTOR_STATE_CODEC, WORKFLOW_KEY_PREFIX, workflow_reference
from schemas.topics import DEADLETTER, EXECUTOR_STATE
from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STORED_V1 = Path(__file__).resolve().parents[1] / "streams" / "stored" / "v1" / "executions"


def workflow(version: int = 1, workflow_id: str = "wf-1") -> WorkflowSnapshot:
    return WorkflowSnapshot(
        id=workflow_id, workspace_id="ws", version=version, name="hook then shape", created_at=T0, updated_at=T0,
        nodes=(Node(id="t", node_type=NodeType.TRIGGER),
               Node(id="h", node_type=NodeType.HTTP_REQUEST, config={"url": "http://sink.test/x", "method": "POST"}),
               Node(id="s", node_type=NodeType.TRANSFORM, config={"mapping": {"v": "{{nodes.h.status}}"}})),
        edges=(Edge(id="t->h", source_node="t", target_node="h"), Edge(id="h->s", source_node="h", target_node="s")),
    )


def incoming(data: RecordData, execution_id: str, partition: int = 0) -> Incoming:
    env = make_envelope(data, source="tests", workspace_id="ws", execution_id=execution_id, time=T0)
    record = ConsumerRecord("t", partition, 0, 0, 0, None, None, None, 0, 0, [])
    return Incoming(record, env, data)


def start(execution_id: str, snapshot: WorkflowSnapshot, partition: int = 0) -> Incoming:
    data = ExecutionStarted(execution_id=execution_id, workflow=snapshot, trigger_type="event", event_id=f"ev-{execution_id}",
                            subject="u-1", context={"user": {"id": "u-1"}})
    return incoming(data, execution_id, partition)


def result(execution_id: str, outputs: list[Output]) -> Incoming:
    (order,) = [d for d in (decode(o.value)[1] for o in outputs if o.value) if isinstance(d, NodeWorkOrdered)]
    done = NodeSucceeded(execution_id=execution_id, node_id=order.node_id, node_type=order.node_type, attempt=order.attempt,
                         output={"status": 200}, started_at=T0, completed_at=T0)
    return incoming(done, execution_id)


async def run(executor: Executor, store: StateStore, *items: Incoming) -> tuple[list[Output], dict[tuple[int, str], Any]]:
    """One batch: its outputs, and the changelog values it writes (decoded), then committed."""
    outputs = await executor.handle(list(items), store)
    written = {
        (out.partition or 0, out.key): None if out.value is None else EXECUTOR_STATE_CODEC.decode(out.key, out.value)
        for out in store.changelog(EXECUTOR_STATE)
    }
    store.commit()
    return outputs, written


async def test_a_running_state_names_its_workflow_and_the_snapshot_is_written_once_per_partition() -> None:
    executor, store = Executor(), StateStore()
    snapshot = workflow()
    ref = workflow_reference(snapshot.model_dump(mode="json"))
    _, written = await run(executor, store, start("ex-1", snapshot))
    state = written[(0, "ex-1")]
    assert "workflow" not in state
    assert (state["workflow_id"], state["workflow_version"], state["workflow_ref"]) == ("wf-1", 1, ref)
    assert WorkflowSnapshot.model_validate(written[(0, WORKFLOW_KEY_PREFIX + ref)]) == snapshot
    # A second execution of the same snapshot in the same partition writes no second copy,
    # one in another partition writes that partition's copy.
    _, written = await run(executor, store, start("ex-2", snapshot), start("ex-3", snapshot, partition=1))
    assert sorted(written) == [(0, "ex-2"), (1, "ex-3"), (1, WORKFLOW_KEY_PREFIX + ref)]


async def test_state_is_written_once_per_execution_per_batch_and_its_end_replaces_it() -> None:
    executor, store = Executor(), StateStore()
    outputs, _ = await run(executor, store, start("ex-1", workflow()))
    # The result and a duplicate of it in one batch: one state value, the finished marker.
    done = result("ex-1", outputs)
    outputs, written = await run(executor, store, done, done)
    assert list(written) == [(0, "ex-1")] and written[(0, "ex-1")]["status"] == "completed"
    assert [type(decode(o.value)[1]) for o in outputs if o.value].count(ExecutionCompleted) == 1


async def test_a_restarted_executor_finds_the_snapshot_in_its_changelog_even_when_the_workflow_is_gone() -> None:
    """The definitions topic keeps only a workflow's newest version and tombstones deleted ones:
    the snapshot a running execution needs after a restart comes from the executor's own changelog."""
    first, store = Executor(), StateStore()
    outputs, _ = await run(first, store, start("ex-1", workflow(version=4)))
    values = {key: value for (_, key), value in store_values(store).items()}
    # A new process: a fresh store restored from the changelog values, a fresh catalogue.
    restored_store = StateStore()
    for key, value in values.items():
        restored_store.load(0, key, EXECUTOR_STATE_CODEC.decode(key, EXECUTOR_STATE_CODEC.encode(key, value)))
    second = Executor()
    assert len(second.workflows) == 0
    second.restored(restored_store, {0})
    outputs, written = await run(second, restored_store, result("ex-1", outputs))
    completed = [d for d in (decode(o.value)[1] for o in outputs if o.value) if isinstance(d, ExecutionCompleted)]
    assert len(completed) == 1 and completed[0].workflow_version == 4
    assert written[(0, "ex-1")]["status"] == "completed"


def store_values(store: StateStore) -> dict[tuple[int, str], Any]:
    return {(partition, key): value for partition, key, value in store.items()}


def fired_of(timer: TimerScheduled) -> TimerFired:
    return TimerFired(timer_id=timer.timer_id, execution_id=timer.execution_id, purpose=timer.purpose, node_id=timer.node_id,
                      attempt=timer.attempt, fire_at=timer.fire_at, fired_at=timer.fire_at)


async def test_a_state_of_version_1_moves_its_inline_snapshot_out_when_next_written() -> None:
    """The stored v1 value (stored/v1/, the engine of fab473b) waits on its first delay's timer."""
    stored = orjson.loads((STORED_V1 / "ex-old-delay.json").read_bytes())
    state = EXECUTOR_STATE_CODEC.decode("ex-old-delay", orjson.dumps(stored["state"]))
    inline = stored["state"]["s"]["workflow"]
    assert stored["state"]["v"] == 1 and state["workflow"] == inline and state["workflow_ref"].startswith("wf-old-delay:3:")
    store = StateStore()
    store.load(0, "ex-old-delay", state)
    executor = Executor()
    executor.restored(store, {0})
    (timer,) = [TimerScheduled.model_validate(r["value"]["data"]) for r in stored["records"]
                if r["value"]["type"] == TimerScheduled.TYPE]
    outputs, written = await run(executor, store, incoming(fired_of(timer), "ex-old-delay"))
    # The first delay fired, the transform ran inline, the second delay waits: written back as
    # version 2, naming its snapshot, the snapshot in its own entry.
    after = written[(0, "ex-old-delay")]
    assert after["status"] == "running" and after["nodes"]["d2"]["status"] == "waiting" and "workflow" not in after
    assert written[(0, WORKFLOW_KEY_PREFIX + after["workflow_ref"])] == inline
    # A new process, from what the changelog now holds, runs it to its end.
    restored = StateStore()
    for (partition, key), value in store_values(store).items():
        restored.load(partition, key, EXECUTOR_STATE_CODEC.decode(key, EXECUTOR_STATE_CODEC.encode(key, value)))
    again = Executor()
    again.restored(restored, {0})
    (second,) = [d for d in (decode(o.value)[1] for o in outputs if o.value) if isinstance(d, TimerScheduled)]
    outputs, written = await run(again, restored, incoming(fired_of(second), "ex-old-delay"))
    completed = [d for d in (decode(o.value)[1] for o in outputs if o.value) if isinstance(d, ExecutionCompleted)]
    assert [c.execution_path for c in completed] == [("t", "d", "shape", "d2", "tag")]
    assert written[(0, "ex-old-delay")]["status"] == "completed"


async def test_a_running_v1_state_written_again_names_its_snapshot_and_the_snapshot_gets_its_entry() -> None:
    """A step that leaves it running (the first of two HTTP nodes answered): the write moves the copy out."""
    twice = workflow().model_copy(update={
        "nodes": (*workflow().nodes, Node(id="h2", node_type=NodeType.HTTP_REQUEST, config={"url": "http://sink.test/y"})),
        "edges": (*workflow().edges, Edge(id="s->h2", source_node="s", target_node="h2")),
    })
    raw = twice.model_dump(mode="json")
    first = start("ex-2", twice)
    state, outputs = advance(None, first.envelope, first.data, T0, Workflows())
    assert state is not None
    # As an executor of version 1 stored it: the snapshot inline, no reference.
    v1 = {k: v for k, v in state.items() if not k.startswith("workflow")} | {"workflow": raw}
    store = StateStore()
    store.load(0, "ex-2", EXECUTOR_STATE_CODEC.decode("ex-2", orjson.dumps({"k": "execution", "v": 1, "s": v1})))
    executor = Executor()
    executor.restored(store, {0})
    _, written = await run(executor, store, result("ex-2", outputs))
    after = written[(0, "ex-2")]
    assert after["status"] == "running" and "workflow" not in after
    assert after["workflow_ref"] == workflow_reference(raw)
    assert written[(0, WORKFLOW_KEY_PREFIX + workflow_reference(raw))] == raw


async def test_the_sweep_drops_only_snapshots_no_running_execution_names() -> None:
    executor, store = Executor(), StateStore()
    old, new = workflow(version=1), workflow(version=2)
    outputs_old, _ = await run(executor, store, start("ex-old", old))
    await run(executor, store, start("ex-new", new))
    assert len(executor.workflows) == 2
    assert executor.sweep_workflows(store, {0}) == 0  # both still named
    store.commit()
    await run(executor, store, result("ex-old", outputs_old))  # ex-old ends: a marker, which names nothing
    # Unnamed at one sweep is not enough (a workflow run once a minute would write its entry
    # and a tombstone with every execution): unnamed at two in a row.
    assert executor.sweep_workflows(store, {0}) == 0 and store.mark() == {}
    assert len(executor.workflows) == 2
    assert executor.sweep_workflows(store, {0}) == 1
    old_key = WORKFLOW_KEY_PREFIX + workflow_reference(old.model_dump(mode="json"))
    assert store.mark() == {(0, old_key): None}  # a tombstone: compaction drops the entry too
    store.commit()
    assert len(executor.workflows) == 1 and store.get(0, old_key) is None
    assert executor.sweep_workflows(store, {0}) == 0  # what is still named stays
    # The markers' index is not fooled by snapshot entries (they have a "status" field too).
    assert executor.markers.index(store, {0}, restored_at=0.0) == 1


async def test_a_state_whose_snapshot_is_lost_is_dead_lettered_not_run_against_another_workflow() -> None:
    executor, store = Executor(), StateStore()
    outputs, _ = await run(executor, store, start("ex-1", workflow()))
    executor.workflows.retain([])  # as if the changelog had lost the entry and the process restarted
    for partition, key, _ in list(store.items()):
        if key.startswith(WORKFLOW_KEY_PREFIX):
            store.load(partition, key, None)
    produced, written = await run(executor, store, result("ex-1", outputs))
    assert written == {}
    (dead,) = produced
    assert dead.topic == DEADLETTER and dead.value is not None
    reason = orjson.loads(dead.value)["data"]["reason"]
    assert "UnknownWorkflowSnapshot" in reason and "is not known to this executor" in reason, reason


def test_the_catalogue_resolves_only_what_it_holds() -> None:
    workflows = Workflows()
    ref, parsed = workflows.pin(workflow())
    assert workflows.get(ref) is parsed and ref in workflows
    with pytest.raises(UnknownWorkflowSnapshot):
        workflows.get("wf-1:1:000000000000000000000000")
    # A snapshot without edges is pinned with the linear edges the engine runs it with.
    bare = workflow().model_copy(update={"edges": ()})
    bare_ref, pinned = workflows.pin(bare)
    assert pinned.edges and bare_ref == workflow_reference(pinned.model_dump(mode="json"))
    assert workflows.retain([ref]) == 1 and bare_ref not in workflows
    bounded = Workflows(max_entries=1)
    first, _ = bounded.pin(workflow(version=1))
    bounded.pin(workflow(version=2))
    assert first not in bounded and len(bounded) == 1


def test_the_reference_depends_on_the_content_not_only_on_id_and_version() -> None:
    a = workflow().model_dump(mode="json")
    b = workflow().model_copy(update={"name": "renamed, same version"}).model_dump(mode="json")
    assert workflow_reference(a) != workflow_reference(b)
    assert workflow_reference(a).startswith("wf-1:1:") and workflow_reference(a) == workflow_reference(dict(reversed(a.items())))
