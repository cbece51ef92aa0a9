"""The bench's completion tracker reads the records today's engine writes: the executor's steps
record (it names node "call" in the HTTP node's scheduling) is not the HTTP node's result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.bench.tracker import CompletionTracker
from infra.settings import Settings
from schemas.codec import encode
from schemas.envelope import RecordData, make_envelope
from schemas.records import ExecutionCompleted, ExecutionSteps, NodeScheduled, NodeSucceeded
from schemas.topics import EXECUTIONS
from schemas.workflow import NodeType

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(milliseconds=12)


def value(data: RecordData) -> bytes:
    return encode(make_envelope(data, source="tests", workspace_id="ws", execution_id="ex-1", time=T0))


def test_the_http_call_is_timed_from_the_workers_result_not_from_the_steps_record() -> None:
    tracker = CompletionTracker(Settings(), "wf-bench", "marker")
    steps = ExecutionSteps.of("ex-1", [
        NodeSucceeded(execution_id="ex-1", node_id="check", node_type=NodeType.CONDITION, attempt=1,
                      output={"result": True}, started_at=T0, completed_at=T0),
        NodeScheduled(execution_id="ex-1", node_id="call", node_type=NodeType.HTTP_REQUEST, attempt=1),
    ])
    tracker._take(EXECUTIONS.name, value(steps))
    assert tracker.timeline.call == {}
    tracker._take(EXECUTIONS.name, value(NodeSucceeded(
        execution_id="ex-1", node_id="call", node_type=NodeType.HTTP_REQUEST, attempt=1, started_at=T0, completed_at=T1)))
    assert tracker.timeline.call == {"ex-1": (T0, T1)}
    tracker._take(EXECUTIONS.name, value(ExecutionCompleted(
        execution_id="ex-1", workflow_id="wf-bench", workflow_version=1, started_at=T0, completed_at=T1)))
    assert tracker.timeline.completed_at == {"ex-1": T1}
