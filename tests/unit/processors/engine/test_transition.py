"""Step's compaction (issue 17): the node steps one call to `advance` decides for one execution,
consecutive on the executions topic, are one ExecutionSteps record; a lone step is its own record."""

from __future__ import annotations

from datetime import UTC, datetime

from processors.engine.ids import derive_id
from processors.engine.transition import Step
from schemas.codec import decode
from schemas.envelope import RecordData, deterministic_id, make_envelope
from schemas.records import (
    DataRecordCreated,
    EventIngested,
    ExecutionCompleted,
    ExecutionSteps,
    NodeError,
    NodeFailed,
    NodeRetryScheduled,
    NodeScheduled,
    NodeSucceeded,
    NodeWorkOrdered,
    TimerScheduled,
)
from schemas.topics import EVENTS, EXECUTIONS, NODE_WORK, TIMERS
from schemas.workflow import NodeType, WorkflowSnapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EX = "ex-1"
WORKFLOW = WorkflowSnapshot(id="wf", workspace_id="ws", version=1, name="w", created_at=T0, updated_at=T0)
ERROR = NodeError(code="HTTP_503", message="busy", retryable=True)


def step() -> Step:
    state = {"execution_id": EX, "workspace_id": "ws", "subject": "u-1", "correlation_id": "c-1", "depth": 1,
             "status": "running"}
    cause = make_envelope(EventIngested(event_type="X"), id="cause-1", source="tests", workspace_id="ws", time=T0)
    return Step(state, WORKFLOW, cause, T0)


def ok(node_id: str) -> NodeSucceeded:
    return NodeSucceeded(execution_id=EX, node_id=node_id, node_type=NodeType.CONDITION, attempt=1,
                         output={"result": True}, started_at=T0, completed_at=T0)


def scheduled(node_id: str) -> NodeScheduled:
    return NodeScheduled(execution_id=EX, node_id=node_id, node_type=NodeType.ACTION, attempt=1, input={"url": "http://x"})


def order(node_id: str) -> NodeWorkOrdered:
    return NodeWorkOrdered(execution_id=EX, workflow_id="wf", node_id=node_id, node_type=NodeType.ACTION,
                           action_type="webhook", attempt=1, config={}, idempotency_key=f"{EX}:{node_id}:1",
                           timeout_seconds=30)


def completed() -> ExecutionCompleted:
    return ExecutionCompleted(execution_id=EX, workflow_id="wf", workflow_version=1, started_at=T0, completed_at=T0)


def rid(kind: str, node_id: str) -> str:
    return derive_id(kind, EX, node_id, 1, None)


def written(s: Step) -> list[tuple[str, str, RecordData]]:
    out = []
    for o in s.flush():
        assert o.value is not None
        env, data = decode(o.value)
        out.append((o.topic.name, env.id, data))
    return out


def test_consecutive_steps_are_one_record_holding_them_in_order() -> None:
    s = step()
    records: list[NodeSucceeded | NodeScheduled] = [ok("trigger"), ok("check"), scheduled("call")]
    for r, kind in zip(records, ("succeeded", "succeeded", "scheduled"), strict=True):
        s.emit(r, rid(kind, r.node_id))
    s.emit(order("call"), rid("work", "call"), topic=NODE_WORK)
    out = written(s)
    assert [(topic, type(d).__name__) for topic, _, d in out] == [
        (EXECUTIONS.name, "ExecutionSteps"), (NODE_WORK.name, "NodeWorkOrdered")]
    _, record_id, steps = out[0]
    assert isinstance(steps, ExecutionSteps) and steps.execution_id == EX
    assert steps.records() == records  # the same records, content and order
    # Derived from the first step's id: a re-run of the same input writes the same record.
    assert record_id == deterministic_id("steps", rid("succeeded", "trigger"))


def test_the_envelope_is_the_one_each_step_would_have_had() -> None:
    s = step()
    s.emit(ok("a"), rid("succeeded", "a"))
    s.emit(ok("b"), rid("succeeded", "b"))
    (o,) = s.flush()
    env, _ = decode(o.value or b"")
    assert o.key == EX
    assert (env.executionid, env.subject, env.workspaceid, env.time, env.causationid, env.correlationid, env.depth) == (
        EX, "u-1", "ws", T0, "cause-1", "c-1", 1)
    assert env.source == "urn:fluxo:processor/executor" and env.type == ExecutionSteps.TYPE


def test_a_lone_step_stays_its_own_record_with_its_own_id() -> None:
    s = step()
    s.emit(ok("tag"), rid("succeeded", "tag"))
    s.emit(completed(), deterministic_id("completed", EX))
    out = written(s)
    assert [(i, type(d).__name__) for _, i, d in out] == [
        (rid("succeeded", "tag"), "NodeSucceeded"), (deterministic_id("completed", EX), "ExecutionCompleted")]


def test_another_executions_record_ends_a_run_of_steps() -> None:
    """The order on the executions topic is kept: steps before a data record or an end are written before it."""
    s = step()
    s.emit(ok("a"), rid("succeeded", "a"))
    s.emit(ok("b"), rid("succeeded", "b"))
    s.emit(DataRecordCreated(record_id="r", table="t", data={}, execution_id=EX, node_id="save"), "rec-1")
    s.emit(ok("save"), rid("succeeded", "save"))
    s.emit(ok("c"), rid("succeeded", "c"))
    s.emit(completed(), deterministic_id("completed", EX))
    out = written(s)
    kinds = [type(d).__name__ for _, _, d in out]
    assert kinds == ["ExecutionSteps", "DataRecordCreated", "ExecutionSteps", "ExecutionCompleted"]
    assert [r.node_id for r in out[0][2].records()] == ["a", "b"]  # type: ignore[attr-defined]
    assert [r.node_id for r in out[2][2].records()] == ["save", "c"]  # type: ignore[attr-defined]


def test_other_topics_do_not_end_a_run_and_the_record_takes_the_first_steps_place() -> None:
    s = step()
    s.emit(ok("a"), rid("succeeded", "a"))
    s.outputs.append(s._output(EventIngested(event_type="TAG_ADDED"), "ev-1", EVENTS))  # as contact changes do
    s.emit(TimerScheduled(timer_id="t", execution_id=EX, purpose="wait", fire_at=T0), "timer-1", topic=TIMERS)
    s.emit(ok("b"), rid("succeeded", "b"))
    out = written(s)
    assert [(topic, type(d).__name__) for topic, _, d in out] == [
        (EXECUTIONS.name, "ExecutionSteps"), (EVENTS.name, "EventIngested"), (TIMERS.name, "TimerScheduled")]
    assert [r.node_id for r in out[0][2].records()] == ["a", "b"]  # type: ignore[attr-defined]


def test_failures_and_retries_are_steps_too() -> None:
    s = step()
    failed = NodeFailed(execution_id=EX, node_id="call", node_type=NodeType.ACTION, attempt=1, error=ERROR,
                        started_at=T0, completed_at=T0)
    retry = NodeRetryScheduled(execution_id=EX, node_id="call", attempt=1, next_attempt=2, delay_seconds=0,
                               retry_at=T0, error=ERROR)
    s.emit(failed, rid("failed", "call"))
    s.emit(retry, rid("retry", "call"))
    s.emit(scheduled("call"), derive_id("scheduled", EX, "call", 2, None))
    (out,) = written(s)
    assert isinstance(out[2], ExecutionSteps) and out[2].records() == [failed, retry, scheduled("call")]


def test_flush_twice_writes_nothing_twice() -> None:
    s = step()
    s.emit(ok("a"), rid("succeeded", "a"))
    s.emit(ok("b"), rid("succeeded", "b"))
    assert len(s.flush()) == 1
    assert len(s.flush()) == 1
    assert step().flush() == []
