"""Static checks of what conditions read (issue 19 items 5-7): dangling true_path/false_path,
edge conditions naming what their source cannot output, reads that cannot exist."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.checks.workflow import validate_workflow
from schemas.workflow import Edge, Node, NodeType, Port, WorkflowSnapshot

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOOK = {"action_type": "webhook", "url": "https://example.com/x"}


def node(node_id: str, node_type: str = "action", outputs: tuple[Port, ...] = (), **config: Any) -> Node:
    if node_type == "action" and not config:
        config = HOOK
    return Node(id=node_id, node_type=NodeType(node_type), config=config, outputs=outputs)


def edge(source: str, target: str, condition: str | None = None, label: str | None = None) -> Edge:
    return Edge(id=f"{source}->{target}", source_node=source, target_node=target, condition=condition, label=label)


def wf(nodes: list[Node], edges: list[Edge], **kw: Any) -> WorkflowSnapshot:
    return WorkflowSnapshot(id="w", workspace_id="ws", version=1, name="w", nodes=tuple(nodes), edges=tuple(edges),
                            created_at=T0, updated_at=T0, **kw)


def seed_004(condition: dict[str, Any], edges: list[Edge] | None = None, check_outputs: tuple[Port, ...] = ()) -> WorkflowSnapshot:
    return wf([node("t", "trigger"), node("check", "condition", outputs=check_outputs, **condition), node("welcome"), node("task")],
              edges if edges is not None else [edge("t", "check"), edge("check", "welcome"), edge("check", "task")])


# -- item 7: true_path / false_path --------------------------------------------------------
def test_seed_004_node_put_body_names_no_node_of_the_workflow() -> None:
    w = seed_004({"condition": "input_data.client_exists == true && input_data.is_vip == true",
                  "true_path": "node-uuid-2", "false_path": "node-uuid-4"})
    report = validate_workflow(w)
    assert not report.is_valid
    assert [(i.code, i.field) for i in report.issues] == [
        ("AUTO_007", "nodes.1.config.true_path"), ("AUTO_007", "nodes.1.config.false_path")]
    assert "node-uuid-2" in report.issues[0].message and report.issues[0].node_id == "check"
    assert report.fields()["nodes.1.config.true_path"].startswith("AUTO_007")


def test_true_and_false_paths_naming_the_condition_s_targets_are_valid() -> None:
    report = validate_workflow(seed_004({"condition": "true", "true_path": "welcome", "false_path": "task"}))
    assert report.is_valid and report.warnings == []


def test_a_path_naming_a_node_no_edge_of_the_condition_reaches_is_a_warning() -> None:
    w = seed_004({"condition": "true", "true_path": "welcome", "false_path": "task"},
                 [edge("t", "check"), edge("check", "welcome"), edge("t", "task")])
    report = validate_workflow(w)
    assert report.is_valid
    assert [(w.code, w.field) for w in report.warnings] == [("AUTO_007", "nodes.1.config.false_path")]


@pytest.mark.parametrize("blank", [None, ""])
def test_a_blank_path_is_no_reference(blank: Any) -> None:
    assert validate_workflow(seed_004({"condition": "true", "true_path": blank})).is_valid


# -- item 6: edge conditions over the source's output ---------------------------------------
def test_validation_result_out_of_a_condition_node_is_valid_without_declared_outputs() -> None:
    w = seed_004({"condition": "input_data.client_exists == true"},
                 [edge("t", "check"), edge("check", "welcome", "validation_result == true"),
                  edge("check", "task", "validation_result == false")])
    report = validate_workflow(w)
    assert report.is_valid and report.warnings == []


@pytest.mark.parametrize("condition", ["result == true", "output.result", "is_client == true", "output.missing_fields == []",
                                       "input_data.x == 1", "user.email != ''", "nodes.t.k == 1"])
def test_names_a_condition_node_can_output_or_the_context_holds_are_valid(condition: str) -> None:
    w = seed_004({"condition": "true"}, [edge("t", "check"), edge("check", "welcome", condition), edge("check", "task")],
                 check_outputs=(Port(name="is_client", type="boolean"),))
    assert validate_workflow(w).is_valid


@pytest.mark.parametrize(("condition", "name"), [("email_sent == true", "email_sent"), ("output.email_sent", "output.email_sent"),
                                                 ("validation_result && valid", "valid")])
def test_an_edge_condition_naming_what_its_condition_source_cannot_output_is_an_issue(condition: str, name: str) -> None:
    w = seed_004({"condition": "true"}, [edge("t", "check"), edge("check", "welcome", condition), edge("check", "task")])
    report = validate_workflow(w)
    assert [(i.code, i.field, i.edge_id) for i in report.issues] == [("AUTO_007", "edges.1.condition", "check->welcome")]
    assert name in report.issues[0].message


def test_an_edge_out_of_a_worker_node_may_read_any_output_name() -> None:
    # Seed 004's `email_sent == true` out of send_email: the worker's output decides.
    w = wf([node("t", "trigger"), node("a"), node("b")], [edge("t", "a"), edge("a", "b", "email_sent == true")])
    assert validate_workflow(w).is_valid


def test_a_custom_code_condition_also_outputs_its_value() -> None:
    w = seed_004({"use_custom_code": True, "custom_code": "return True"},
                 [edge("t", "check"), edge("check", "welcome", "value == 1"), edge("check", "task")])
    assert not [i for i in validate_workflow(w).issues if i.field == "edges.1.condition"]


# -- item 5: reads that cannot exist are warnings -----------------------------------------------
def test_seed_004_condition_over_an_undeclared_input_is_valid_with_no_warning() -> None:
    # Nothing declares input_data's fields: the caller's input may hold client_exists.
    report = validate_workflow(seed_004({"condition": "input_data.client_exists == true"}))
    assert report.is_valid and report.warnings == []


def test_a_read_of_no_node_is_a_warning_never_an_issue() -> None:
    report = validate_workflow(seed_004({"condition": "nodes.nope.result == true"}))
    assert report.is_valid
    assert [(w.code, w.field) for w in report.warnings] == [("AUTO_007", "nodes.1.config.condition")]
    assert "no node nope" in report.warnings[0].message


def test_a_read_of_a_condition_node_field_it_never_outputs_is_a_warning() -> None:
    w = wf([node("t", "trigger"), node("c", "condition", condition="true"), node("a")],
           [edge("t", "c"), edge("c", "a", "nodes.c.validation_result && nodes.c.score > 1")])
    report = validate_workflow(w)
    assert report.is_valid
    assert [w.message for w in report.warnings] == ["reads nodes.c.score: node c outputs only error, missing_fields, result, validation_result"]


def test_a_read_of_an_input_the_trigger_does_not_declare_is_a_warning() -> None:
    trigger = Node(id="t", node_type=NodeType.TRIGGER, outputs=(Port(name="client_id"), Port(name="client_email")))
    w = wf([trigger, node("c", "condition", condition="input_data.client_exists == true || input_data.client_id == 1"), node("a")],
           [edge("t", "c"), edge("c", "a")])
    report = validate_workflow(w)
    assert report.is_valid
    assert [w.message for w in report.warnings] == [
        "reads input_data.client_exists: the trigger declares no input client_exists (it declares: client_email, client_id)"]


def test_trigger_filters_and_filter_trees_are_read_too() -> None:
    tree = {"operator": "and", "conditions": [{"field": "nodes.ghost.ok", "operator": "equals", "value": True}]}
    w = wf([node("t", "trigger"), node("c", "condition", filters=tree), node("a")], [edge("t", "c"), edge("c", "a")],
           trigger_config={"filters": {"field": "nodes.ghost2.x", "operator": "exists"}})
    report = validate_workflow(w)
    assert report.is_valid
    assert sorted(w.field for w in report.warnings) == ["nodes.1.config.filters", "trigger_config.filters"]


def test_a_condition_that_does_not_parse_is_an_issue_and_no_read_warning() -> None:
    report = validate_workflow(seed_004({"condition": "nodes.nope.x =="}))
    assert not report.is_valid and report.warnings == []
