"""Static workflow checks and graph shape: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from processors.checks.node_config import config_problems
from processors.checks.workflow import (
    IntegrationRef,
    complexity_score,
    cycles,
    execution_paths,
    layout,
    validate_workflow,
)
from schemas.node_configs import ACTION_CONFIGS, config_schema
from schemas.workflow import Edge, Node, NodeType, Port, Position, WorkflowSnapshot

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def node(node_id: str, node_type: str = "action", **config: Any) -> Node:
    if node_type == "action" and not config:
        config = {"action_type": "webhook", "url": "https://example.com/x"}
    return Node(id=node_id, node_type=NodeType(node_type), config=config)


def edge(source: str, target: str, label: str | None = None, condition: str | None = None) -> Edge:
    return Edge(id=f"{source}-{target}-{label or ''}", source_node=source, target_node=target, label=label, condition=condition)


def wf(nodes: list[Node], edges: list[Edge], **kw: Any) -> WorkflowSnapshot:
    return WorkflowSnapshot(id="w", workspace_id="ws", version=1, name="w", nodes=tuple(nodes), edges=tuple(edges),
                            created_at=T0, updated_at=T0, **kw)


def codes(w: WorkflowSnapshot, integrations: list[IntegrationRef] | None = None) -> list[tuple[str, str]]:
    return [(i.code, i.field) for i in validate_workflow(w, integrations or []).issues]


TRIGGER = node("t", "trigger")


def test_a_linear_graph_is_valid_and_every_check_passes() -> None:
    w = wf([TRIGGER, node("a"), node("b")], [edge("t", "a"), edge("a", "b")])
    report = validate_workflow(w)
    assert report.is_valid and report.warnings == []
    assert {c["status"] for c in report.checks()} == {"passed"}
    assert execution_paths(w) == 1 and complexity_score(w) == 1


def test_an_edge_less_workflow_runs_linearly_and_is_valid() -> None:
    assert codes(wf([TRIGGER, node("a"), node("b")], [])) == []


def test_a_cycle_outside_a_loop_node_is_a_circular_dependency() -> None:
    w = wf([TRIGGER, node("a"), node("b"), node("c")], [edge("t", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a")])
    assert cycles(w) == [["a", "b", "c"]]
    report = validate_workflow(w)
    assert [(i.code, i.check) for i in report.issues] == [("AUTO_003", "no_circular_dependencies")]
    assert report.issues[0].field == "edges.1" and "a -> b -> c -> a" in report.issues[0].message
    assert execution_paths(w) == 1  # the closing edge is ignored when counting


def test_a_self_loop_is_a_cycle() -> None:
    assert codes(wf([TRIGGER, node("a")], [edge("t", "a"), edge("a", "a")])) == [("AUTO_003", "edges.1")]


def test_a_cycle_through_a_loop_node_body_is_allowed() -> None:
    loop = node("l", "loop", items="input_data.items")
    w = wf([TRIGGER, loop, node("each"), node("after")],
           [edge("t", "l"), edge("l", "each", "body"), edge("each", "l"), edge("l", "after", "done")])
    assert codes(w) == [] and cycles(w) == []
    # The body counts once, inside the loop: one path t -> l -> after.
    assert execution_paths(w) == 1


def test_a_cycle_back_to_a_loop_node_from_outside_its_body_is_not_allowed() -> None:
    loop = node("l", "loop", items="input_data.items")
    w = wf([TRIGGER, loop, node("each"), node("after")],
           [edge("t", "l"), edge("l", "each", "body"), edge("l", "after", "done"), edge("after", "l")])
    assert [c for c, _ in codes(w)] == ["AUTO_003"]


def test_disconnected_and_unreachable_nodes_are_reported() -> None:
    w = wf([TRIGGER, node("a"), node("alone"), node("x"), node("y")],
           [edge("t", "a"), edge("x", "y"), edge("y", "x")])
    report = validate_workflow(w)
    connected = [(i.code, i.node_id, i.message) for i in report.issues if i.check == "nodes_connected"]
    assert [(c, n) for c, n, _ in connected] == [("AUTO_002", "alone"), ("AUTO_002", "x"), ("AUTO_002", "y")]
    assert "not connected" in connected[0][2] and "cannot be reached" in connected[1][2]
    assert any(i.code == "AUTO_003" for i in report.issues)


def test_without_a_trigger_node_the_entry_is_the_nodes_nothing_points_to() -> None:
    assert codes(wf([node("a"), node("b")], [edge("a", "b")])) == []


def test_missing_required_config_and_inputs() -> None:
    http = Node(id="h", node_type=NodeType.HTTP_REQUEST, config={})
    cond = Node(id="c", node_type=NodeType.CONDITION, config={})
    port = Node(id="p", node_type=NodeType.ACTION, config={"action_type": "webhook", "url": "https://x.io"},
                inputs=(Port(name="client_email", required=True),))
    w = wf([TRIGGER, http, cond, port], [edge("t", "h"), edge("h", "c")])
    fields = {i.field for i in validate_workflow(w).issues}
    assert {"nodes.1.config.url", "nodes.2.config.condition", "nodes.3.inputs.0"} <= fields
    # An incoming edge or a config value provides a required input.
    fed = wf([TRIGGER, port], [edge("t", "p")])
    assert codes(fed) == []


def test_bad_conditions_on_nodes_and_edges() -> None:
    cond = node("c", "condition", condition="input_data.x >")
    w = wf([TRIGGER, cond, node("a")], [edge("t", "c"), edge("c", "a", condition="((")])
    report = validate_workflow(w)
    assert {(i.check, i.field) for i in report.issues} == {
        ("conditions_valid", "nodes.1.config.condition"), ("conditions_valid", "edges.1.condition"),
    }


def test_dangling_references_stop_the_other_checks() -> None:
    w = wf([TRIGGER, node("a")], [edge("t", "a"), edge("a", "ghost")])
    assert codes(w) == [("AUTO_007", "edges.1.target_node")]


def test_unknown_and_inactive_integrations_are_errors_test_mode_is_a_warning() -> None:
    email = node("e", "action", action_type="send_email", subject="hi", body="b", integration="smtp-main")
    w = wf([TRIGGER, email], [edge("t", "e")])
    assert codes(w) == [("AUTO_004", "nodes.1.config.integration")]
    inactive = IntegrationRef("i1", "smtp-main", "email", "smtp", is_active=False)
    assert codes(w, [inactive]) == [("AUTO_004", "nodes.1.config.integration")]
    testing = IntegrationRef("i1", "smtp-main", "email", "smtp", test_mode=True)
    report = validate_workflow(w, [testing])
    assert report.is_valid and [x.code for x in report.warnings] == ["AUTO_004"]
    assert "test mode" in report.warnings[0].message
    # No integration named and none of that type: a warning (the worker would fail the node).
    implicit = wf([TRIGGER, node("e2", "action", action_type="send_email", subject="s", body="b")], [edge("t", "e2")])
    report = validate_workflow(implicit)
    assert report.is_valid and "no active email integration" in report.warnings[0].message
    assert validate_workflow(implicit, [IntegrationRef("i2", "m", "email", "smtp")]).warnings == []


def test_a_named_email_template_must_exist_in_the_integration_the_node_uses() -> None:
    def mail(**config: Any) -> WorkflowSnapshot:
        return wf([TRIGGER, node("m", "action", action_type="send_email", recipient="a@b.co", **config)], [edge("t", "m")])

    smtp = IntegrationRef("i1", "smtp-main", "email", "smtp", templates=frozenset({"welcome", "bye"}))
    assert codes(mail(template="welcome", integration_id="i1"), [smtp]) == []
    report = validate_workflow(mail(template="nope", integration_id="i1"), [smtp])
    assert [(i.code, i.field, i.node_id) for i in report.issues] == [("AUTO_007", "nodes.1.config.template", "m")]
    assert "no email template 'nope' in integration smtp-main (it has: bye, welcome)" in report.issues[0].message
    assert report.checks()[-1]["status"] == "failed"
    # No integration named: the one the worker would pick (the first given, newest first).
    older = IntegrationRef("i0", "old", "email", "smtp", templates=frozenset({"nope"}))
    assert codes(mail(template="nope"), [smtp, older]) == [("AUTO_007", "nodes.1.config.template")]
    assert codes(mail(template="nope"), [older, smtp]) == []
    # An integration without templates has none; unknown templates (None) and templated names wait for the run.
    assert codes(mail(template="welcome"), [IntegrationRef("i2", "bare", "email", "smtp", templates=frozenset())]) == [
        ("AUTO_007", "nodes.1.config.template")]
    assert codes(mail(template="nope"), [IntegrationRef("i3", "legacy", "email", "smtp")]) == []
    assert codes(mail(template="{{input_data.kind}}", integration_id="i1"), [smtp]) == []
    # Other connectors' `template` (a WhatsApp template object) is not an email template.
    whatsapp = wf([TRIGGER, node("w", "action", action_type="whatsapp", to="+33600000000", template={"name": "x"})], [edge("t", "w")])
    assert codes(whatsapp, [IntegrationRef("i4", "wa", "whatsapp", "whatsapp", templates=frozenset())]) == []


def test_node_configs_are_checked_by_their_models_and_the_connectors() -> None:
    assert config_problems(NodeType.ACTION, {}) == {"config.action_type": "is required"}
    assert "unknown action type" in config_problems(NodeType.ACTION, {"action_type": "teleport"})["config.action_type"]
    assert config_problems(NodeType.ACTION, {"action_type": "webhook", "url": "ftp://x"}) == {"config.url": "must be an http(s) URL"}
    # A template is only known at run time.
    assert config_problems(NodeType.ACTION, {"action_type": "webhook", "url": "{{input_data.url}}"}) == {}
    assert "config.method" in config_problems(NodeType.HTTP_REQUEST, {"url": "https://x.io", "method": "FETCH"})
    assert config_problems(NodeType.DELAY, {}) == {"config.delay_seconds": "is required: delay_seconds, duration and unit, or until"}
    assert "config.unit" in config_problems(NodeType.DELAY, {"duration": 1, "unit": "fortnights"})
    assert config_problems(NodeType.LOOP, {"items": "input_data.items"}) == {}
    assert "config.limit" in config_problems(NodeType.DATABASE_QUERY, {"table": "t", "limit": 0})
    assert config_problems(NodeType.ACTION, {"action_type": "send_email", "subject": "s", "body": "b"}) == {}  # recipient defaults
    assert config_problems(NodeType.ACTION, {"action_type": "add_tag"}) == {"config.tag_name": "is required"}
    assert config_problems(NodeType.CONDITION, {"use_custom_code": True, "custom_code": "result = True"}) == {}


def test_every_node_and_action_type_has_a_json_schema() -> None:
    for name in [t.value for t in NodeType] + list(ACTION_CONFIGS):
        schema = config_schema(name)
        assert schema is not None and schema["type"] == "object", name
    assert "url" in config_schema("http_request")["required"]  # type: ignore[index]
    assert config_schema("teleport") is None


def test_paths_and_complexity_of_a_branching_graph() -> None:
    cond = node("c", "condition", condition="input_data.ok == true")
    w = wf([TRIGGER, cond, node("yes"), node("no"), node("join")],
           [edge("t", "c"), edge("c", "yes", "true"), edge("c", "no", "false"), edge("yes", "join"), edge("no", "join")])
    assert execution_paths(w) == 2
    assert complexity_score(w) == 5 - 5 + 2
    two_parts = wf([TRIGGER, node("a"), node("b"), node("c")], [edge("t", "a"), edge("b", "c")])
    assert complexity_score(two_parts) == 2 - 4 + 4
    assert complexity_score(wf([], [])) == 0


def test_layout_by_depth_when_every_position_is_zero() -> None:
    cond = node("c", "condition", condition="true")
    w = wf([TRIGGER, cond, node("yes"), node("no")], [edge("t", "c"), edge("c", "yes"), edge("c", "no")])
    algorithm, positions = layout(w)
    assert algorithm == "depth"
    assert positions["t"] == Position(x=50, y=50) and positions["c"] == Position(x=250, y=50)
    assert positions["yes"] == Position(x=450, y=50) and positions["no"] == Position(x=450, y=170)
    placed = w.model_copy(update={"nodes": (TRIGGER.model_copy(update={"position": Position(x=5, y=6)}), *w.nodes[1:])})
    assert layout(placed) == ("manual", {n.id: n.position for n in placed.nodes})


# -- waits against the execution timeout ------------------------------------------------------
def _waits(timeout: int | None, **wait: Any) -> list[tuple[str, str, str | None]]:
    from schemas.workflow import WorkflowSettings

    settings = WorkflowSettings(timeout_seconds=timeout)
    w = wf([node("t", "trigger"), node("d", "delay", **wait), node("a", "action", action_type="webhook", url="https://e.x/h", delay=900)],
           [edge("t", "d"), edge("d", "a")], settings=settings)
    report = validate_workflow(w)
    assert report.is_valid, report.issues
    return [(i.code, i.field, i.node_id) for i in report.warnings]


def test_no_timeout_no_warning_whatever_the_waits() -> None:
    assert _waits(None, duration=10, unit="minutes") == []


def test_a_fixed_wait_at_least_the_timeout_is_a_warning_naming_the_node() -> None:
    assert _waits(600, duration=10, unit="minutes") == [("AUTO_006", "nodes.1.config", "d"), ("AUTO_006", "nodes.2.config", "a")]
    assert _waits(601, duration=10, unit="minutes") == [("AUTO_006", "nodes.2.config", "a")]  # the action's own 900 s delay
    assert _waits(1000, duration=10, unit="minutes") == []


def test_waits_known_only_at_run_time_are_not_judged() -> None:
    assert _waits(60, delay_seconds="{{input_data.wait}}") == [("AUTO_006", "nodes.2.config", "a")]
    assert _waits(60, until="2030-01-01T00:00:00Z") == [("AUTO_006", "nodes.2.config", "a")]
