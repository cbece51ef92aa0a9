"""The execution state machine, without Kafka: the same `advance` the executor runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from processors.machine import advance
from schemas.codec import decode
from schemas.envelope import Envelope, RecordData, make_envelope
from schemas.records import (
    ExecutionCompleted, ExecutionFailed, ExecutionStarted, NodeError, NodeFailed, NodeScheduled,
    NodeSucceeded, NodeWorkOrdered,
)
from schemas.topics import EXECUTIONS, NODE_WORK
from schemas.workflow import Edge, Node, NodeType, WorkflowSettings, WorkflowSnapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def workflow(**overrides: Any) -> WorkflowSnapshot:
    base: dict[str, Any] = dict(
        id="wf", workspace_id="ws", version=3, name="slice", created_at=T0, updated_at=T0,
        nodes=(
            Node(id="t", node_type=NodeType.TRIGGER),
            Node(id="c", node_type=NodeType.CONDITION, config={"condition": "user.email.endsWith('@example.com')"}),
            Node(id="w", node_type=NodeType.ACTION, config={"action_type": "webhook", "url": "http://x/h", "payload": {"e": "{{user.email}}"}}),
        ),
        edges=(Edge(id="e1", source_node="t", target_node="c"), Edge(id="e2", source_node="c", target_node="w", label="true")),
    )
    base.update(overrides)
    return WorkflowSnapshot(**base)


def env(data: RecordData) -> Envelope:
    return make_envelope(data, source="test", workspace_id="ws", execution_id="ex", time=T0)


def start(wf: WorkflowSnapshot, email: str) -> tuple[Any, list[tuple[str, RecordData]]]:
    started = ExecutionStarted(execution_id="ex", workflow=wf, trigger_type="event",
                               context={"user": {"id": "u1", "email": email}, "input_data": {"k": 1}})
    state, outputs = advance(None, env(started), started, T0)
    return state, decoded(outputs)


def decoded(outputs: list[Any]) -> list[tuple[str, RecordData]]:
    return [(o.topic.name, decode(o.value)[1]) for o in outputs]


def test_start_runs_inline_nodes_and_orders_the_webhook() -> None:
    state, out = start(workflow(), "ada@example.com")
    kinds = [type(d).__name__ for _, d in out]
    assert kinds == ["NodeSucceeded", "NodeSucceeded", "NodeScheduled", "NodeWorkOrdered"]
    order = out[-1][1]
    assert isinstance(order, NodeWorkOrdered) and out[-1][0] == NODE_WORK.name
    assert order.config["payload"] == {"e": "ada@example.com"}
    assert order.idempotency_key == "ex:w:1"
    assert state["pending"] == ["w"] and state["status"] == "running"


def test_worker_success_completes_with_path_and_output() -> None:
    state, _ = start(workflow(), "ada@example.com")
    done = NodeSucceeded(execution_id="ex", node_id="w", node_type=NodeType.ACTION, attempt=1,
                         output={"status_code": 200}, started_at=T0, completed_at=T0)
    state, outputs = advance(state, env(done), done, T0)
    (_, completed), = decoded(outputs)
    assert isinstance(completed, ExecutionCompleted)
    assert completed.execution_path == ("t", "c", "w")
    assert completed.output["status_code"] == 200
    # The same result delivered again changes nothing.
    again, more = advance(state, env(done), done, T0)
    assert more == [] and again == state


def test_false_condition_takes_no_branch_and_completes() -> None:
    state, out = start(workflow(), "eve@elsewhere.org")
    assert isinstance(out[-1][1], ExecutionCompleted)
    assert out[-1][1].execution_path == ("t", "c")
    assert not any(isinstance(d, NodeWorkOrdered) for _, d in out)


def test_false_labelled_edge_is_taken_when_condition_fails() -> None:
    wf = workflow(edges=(
        Edge(id="e1", source_node="t", target_node="c"),
        Edge(id="e2", source_node="c", target_node="w", label="false"),
    ))
    _, out = start(wf, "eve@elsewhere.org")
    assert isinstance(out[-1][1], NodeWorkOrdered)


def test_edge_condition_in_cel_over_the_source_output() -> None:
    wf = workflow(
        nodes=workflow().nodes[:2] + (Node(id="w", node_type=NodeType.ACTION, config={"action_type": "webhook", "url": "http://x"}),),
        edges=(Edge(id="e1", source_node="t", target_node="c"),
               Edge(id="e2", source_node="c", target_node="w", condition="result == true")),
    )
    _, out = start(wf, "a@example.com")
    assert isinstance(out[-1][1], NodeWorkOrdered)


def test_non_retryable_failure_fails_the_execution() -> None:
    state, _ = start(workflow(), "ada@example.com")
    failed = NodeFailed(execution_id="ex", node_id="w", node_type=NodeType.ACTION, attempt=1,
                        error=NodeError(code="HTTP_404", message="nope"), started_at=T0, completed_at=T0)
    state, outputs = advance(state, env(failed), failed, T0)
    (_, result), = decoded(outputs)
    assert isinstance(result, ExecutionFailed) and result.failed_node == "w"
    assert state["status"] == "failed"


def test_retryable_failure_is_retried_with_the_next_attempt() -> None:
    wf = workflow(settings=WorkflowSettings(retry_on_failure=True, max_retries=2))
    state, _ = start(wf, "ada@example.com")
    failed = NodeFailed(execution_id="ex", node_id="w", node_type=NodeType.ACTION, attempt=1,
                        error=NodeError(code="HTTP_503", message="busy", retryable=True), started_at=T0, completed_at=T0)
    state, outputs = advance(state, env(failed), failed, T0)
    kinds = decoded(outputs)
    assert isinstance(kinds[-1][1], NodeWorkOrdered) and kinds[-1][1].attempt == 2
    assert kinds[-1][1].idempotency_key == "ex:w:2"


def test_duplicate_start_and_unknown_execution_are_ignored() -> None:
    state, _ = start(workflow(), "ada@example.com")
    started = ExecutionStarted(execution_id="ex", workflow=workflow(), trigger_type="event")
    assert advance(state, env(started), started, T0) == (state, [])
    stray = NodeSucceeded(execution_id="zz", node_id="w", node_type=NodeType.ACTION, attempt=1, started_at=T0, completed_at=T0)
    assert advance(None, env(stray), stray, T0) == (None, [])


def test_unsupported_node_type_fails_clearly() -> None:
    wf = workflow(nodes=(Node(id="t", node_type=NodeType.TRIGGER), Node(id="d", node_type=NodeType.DELAY)),
                  edges=(Edge(id="e", source_node="t", target_node="d"),))
    _, out = start(wf, "a@example.com")
    assert isinstance(out[-1][1], ExecutionFailed)
    assert out[-1][1].error.code == "NODE_UNSUPPORTED"


def test_replay_is_deterministic() -> None:
    """Same input, same records, ids included: a re-processed batch is recognisable."""
    started = ExecutionStarted(execution_id="ex", workflow=workflow(), trigger_type="event",
                               context={"user": {"email": "ada@example.com"}})
    _, first = advance(None, env(started), started, T0)
    _, second = advance(None, env(started), started, T0)
    ids = [orjson.loads(o.value)["id"] for o in first]
    assert ids == [orjson.loads(o.value)["id"] for o in second]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("email,ordered", [("x@example.com", True), ("x@example.co", False), ("", False)])
def test_condition_table(email: str, ordered: bool) -> None:
    _, out = start(workflow(), email)
    assert any(isinstance(d, NodeWorkOrdered) for _, d in out) is ordered
    assert all(name in (EXECUTIONS.name, NODE_WORK.name) for name, _ in out)
    assert sum(isinstance(d, NodeScheduled) for _, d in out) == int(ordered)
