"""What makes a workflow unrunnable or unfit to activate, and plans' trial figures: the
decisions routers share, called without HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from api.services.plans import trial_info
from api.services.workflows import activation_problems, graph_problems
from schemas.workflow import Edge, Node, NodeType, TriggerType, WorkflowSnapshot, WorkflowStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def wf(**kw: Any) -> WorkflowSnapshot:
    base: dict[str, Any] = {"id": "w1", "workspace_id": "ws", "version": 1, "name": "n", "status": WorkflowStatus.DRAFT,
                            "trigger_config": {"event_type": "signup"}, "created_at": T0, "updated_at": T0}
    return WorkflowSnapshot(**(base | kw))


def node(node_id: str, **kw: Any) -> Node:
    return Node(id=node_id, node_type=NodeType.ACTION, **kw)


def test_a_sound_graph_has_no_problems() -> None:
    workflow = wf(nodes=(node("a"), node("b")), edges=(Edge(id="e1", source_node="a", target_node="b"),))
    assert graph_problems(workflow) == {}
    assert activation_problems(workflow) == {}


def test_graph_problems_name_the_field_at_fault() -> None:
    workflow = wf(
        nodes=(node("a"), node("a"), node("c", config={"condition": {"field": "x", "operator": "between"}})),
        edges=(Edge(id="e1", source_node="a", target_node="ghost"),),
    )
    problems = graph_problems(workflow)
    assert set(problems) == {"nodes.1.id", "edges.0.target_node", "nodes.2.config.condition"}
    assert problems["nodes.1.id"] == "duplicate node id a"
    assert problems["edges.0.target_node"] == "no node 'ghost' in this workflow"


def test_activation_needs_nodes_an_event_type_and_a_valid_schedule() -> None:
    assert set(activation_problems(wf(trigger_config={}))) == {"nodes", "trigger_config.event_type"}
    no_schedule = wf(nodes=(node("a"),), trigger_type=TriggerType.CRON)
    assert "trigger_config.schedule" in activation_problems(no_schedule)
    bad = wf(nodes=(node("a"),), trigger_type=TriggerType.CRON, trigger_config={"schedule": "every tuesday"})
    assert "not a valid cron expression" in activation_problems(bad)["trigger_config.schedule"]
    good = wf(nodes=(node("a"),), trigger_type=TriggerType.CRON, trigger_config={"schedule": "*/5 * * * *"})
    assert activation_problems(good) == {}


def test_trial_info_counts_days_left_and_expiry() -> None:
    on_trial = trial_info("trial", T0, date(2026, 1, 10))
    assert (on_trial["is_trial"], on_trial["trial_ends_at"], on_trial["days_left"], on_trial["trial_expired"]) == (
        True, "2026-01-15", 5, False,
    )
    assert trial_info("trial", T0, date(2026, 1, 16))["trial_expired"] is True
    paid = trial_info("pro", T0, date(2026, 1, 10))
    assert (paid["is_trial"], paid["trial_ends_at"], paid["days_left"], paid["trial_expired"]) == (False, None, None, False)
