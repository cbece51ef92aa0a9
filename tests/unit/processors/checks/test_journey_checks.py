"""`/validate` on journeys: a wait_for_event's config, match and edge labels; exit_when and goal CEL."""

from __future__ import annotations

from typing import Any

from processors.checks.workflow import validate_workflow
from schemas.workflow import WorkflowSettings
from tests.unit.processors.checks.test_workflow_checks import edge, node, wf

GOOD = {"event_type": "ORDER_PAID", "match": "event.data.order_id == input_data.order_id", "timeout_seconds": 60}


def waiting(config: dict[str, Any], *labels: str, **kw: Any) -> Any:
    nodes = [node("t", "trigger"), node("w", "wait_for_event", **config), node("a"), node("b")]
    edges = [edge("t", "w"), *[edge("w", target, label) for target, label in zip("ab", labels, strict=False)]]
    return validate_workflow(wf(nodes, edges, **kw))


def fields(report: Any) -> list[str]:
    return [i.field for i in report.issues]


def test_a_well_formed_wait_passes() -> None:
    report = waiting(GOOD, "received", "timeout")
    assert report.issues == [] and report.warnings == []


def test_the_config_needs_an_event_type_and_a_timeout() -> None:
    assert set(fields(waiting({"match": "true"}, "received", "timeout"))) == {"nodes.1.config.event_type", "nodes.1.config.timeout_seconds"}
    assert fields(waiting({"event_type": "X", "duration": 2, "unit": "hours"}, "received", "timeout")) == []
    assert fields(waiting({"event_type": "X", "duration": 2, "unit": "fortnights"}, "received", "timeout")) == ["nodes.1.config.unit"]


def test_a_match_that_does_not_compile_is_refused() -> None:
    report = waiting({**GOOD, "match": "event.data.order_id =="}, "received", "timeout")
    assert fields(report) == ["nodes.1.config.match"]


def test_edge_labels_other_than_received_and_timeout_are_refused() -> None:
    report = waiting(GOOD, "received", "true")
    assert fields(report) == ["edges.2.label"]
    assert "received or timeout" in report.issues[0].message
    assert fields(waiting(GOOD, "received", "error")) == []  # an error edge is fine


def test_a_wait_with_no_labelled_edge_is_a_warning() -> None:
    report = waiting(GOOD, "", "")
    assert report.issues == [] and "no edge labelled received or timeout" in report.warnings[0].message


def test_exit_and_goal_conditions_are_compiled() -> None:
    settings = WorkflowSettings.model_validate({
        "exit_when": [{"event_type": "A", "condition": "event.data.x =="}],
        "goal": {"event_type": "B", "condition": "event.data.y ==", "within_seconds": 60},
    })
    report = waiting(GOOD, "received", "timeout", settings=settings)
    assert fields(report) == ["settings.exit_when.0.condition", "settings.goal.condition"]


def test_flow_control_keys_are_compiled() -> None:
    settings = WorkflowSettings.model_validate({"throttle": {"limit": 1, "period_seconds": 60, "key": "user.id =="},
                                                "concurrency": {"limit": 1, "key": "event.data.account"}})
    assert fields(waiting(GOOD, "received", "timeout", settings=settings)) == ["settings.throttle.key"]


def test_the_priority_expression_is_compiled() -> None:
    bad = WorkflowSettings.model_validate({"concurrency": {"limit": 1}, "priority": "input_data.vip ?"})
    assert fields(waiting(GOOD, "received", "timeout", settings=bad)) == ["settings.priority"]
    good = WorkflowSettings.model_validate({"concurrency": {"limit": 1}, "priority": "input_data.vip ? 10 : 0"})
    assert fields(waiting(GOOD, "received", "timeout", settings=good)) == []
