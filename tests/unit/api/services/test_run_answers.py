"""The dry run's answer (POST /workflows/{id}/test) built from the simulation's records:
seed 004's `test_results` counted as the projection counts a real execution."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from api.services.runs import dry_run_answer
from processors.engine.simulate import Simulation, simulate
from schemas.answers.runs import WorkflowTest
from schemas.records import ExecutionStarted, NodeError, NodeWorkOrdered
from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def flow(*nodes: Node) -> WorkflowSnapshot:
    edges = tuple(Edge(id=f"e{i}", source_node=a.id, target_node=b.id) for i, (a, b) in enumerate(pairwise(nodes)))
    return WorkflowSnapshot(id="wf", workspace_id="ws", version=2, name="n", created_at=T0, updated_at=T0, nodes=nodes, edges=edges)


def run(workflow: WorkflowSnapshot, **kw: Any) -> Simulation:
    started = ExecutionStarted(execution_id="dry-run-1", workflow=workflow, trigger_type="test",
                               context={"input_data": {"client_id": 999}, "event": {"data": {}}, "user": {}})
    return simulate(started, workspace_id="ws", now=T0, **kw)


WAIT_THEN_MAIL = flow(
    Node(id="t", node_type=NodeType.TRIGGER),
    Node(id="wait", node_type=NodeType.DELAY, config={"duration": 2, "unit": "minutes"}),
    Node(id="mail", node_type=NodeType.ACTION, config={"action_type": "webhook", "url": "http://x/hook"}),
)


def answer(sim: Simulation, *, capture_outputs: bool = True) -> dict[str, Any]:
    out = dry_run_answer(sim, execution_id="dry-run-1", started_at=T0, elapsed_seconds=0.01, capture_outputs=capture_outputs)
    # The route adds these two; the rest must already be a valid answer.
    full = {**out, "workflow_version": 2, "validation_results": {
        "all_nodes_connected": True, "no_circular_dependencies": True, "all_required_inputs_provided": True,
        "is_valid": True, "issues": [], "warnings": []}}
    WorkflowTest.model_validate(full)
    return out


def test_a_completed_dry_run_answers_seed_004s_test_results() -> None:
    out = answer(run(WAIT_THEN_MAIL))
    assert out["test_execution_id"] == "dry-run-1" and out["status"] == "completed" and out["success"] is True
    results = out["test_results"]
    assert {k: results[k] for k in ("nodes_executed", "nodes_success", "nodes_failed")} == {
        "nodes_executed": 3, "nodes_success": 3, "nodes_failed": 0}
    assert results["execution_path"] == out["execution_path"] == ["t", "wait", "mail"]
    # What a real run answers as its output_data: the path's node outputs merged (the trigger's left out).
    assert results["outputs"]["would_send"] == {"action_type": "webhook", "url": "http://x/hook"}
    assert results["performance"] == {"duration_seconds": 120.0, "execution_time_seconds": 0.01}
    assert "memory_usage_mb" not in results["performance"]  # not measured, so not answered
    assert set(out["results"]) == {"t", "wait", "mail"}
    assert all("output_data" in step for step in out["node_results"])


def test_capture_outputs_false_leaves_every_node_output_out() -> None:
    out = answer(run(WAIT_THEN_MAIL), capture_outputs=False)
    assert "results" not in out and "outputs" not in out["test_results"]
    assert [s["status"] for s in out["node_results"]] == ["completed"] * 3
    assert not any("output_data" in step for step in out["node_results"])
    assert out["test_results"]["nodes_executed"] == 3


def test_a_failed_dry_run_counts_the_failure_and_has_no_outputs() -> None:
    def perform(order: NodeWorkOrdered) -> dict[str, Any] | NodeError:
        return NodeError(code="HTTP_400", message="refused", retryable=False)

    out = answer(run(WAIT_THEN_MAIL, perform=perform))
    assert out["status"] == "failed" and out["success"] is False
    assert out["error"] == {"code": "HTTP_400", "message": "refused", "failed_node": "mail"}
    assert {k: out["test_results"][k] for k in ("nodes_executed", "nodes_success", "nodes_failed")} == {
        "nodes_executed": 3, "nodes_success": 2, "nodes_failed": 1}
    assert out["test_results"]["outputs"] is None
