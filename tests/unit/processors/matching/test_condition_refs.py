"""Reusable conditions referenced from nodes and edges: pinned, checked, inlined, run. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.checks.workflow import validate_workflow
from processors.engine.flow import EdgeError, edge_spec
from processors.engine.simulate import simulate
from processors.matching.condition_refs import (
    inline_conditions,
    pin_conditions,
    reference_problems,
    referenced_ids,
)
from processors.matching.linking import compile_actions
from schemas.records import ConditionDefined, ExecutionStarted
from schemas.workflow import ConditionPin, Edge, Node, NodeType, WorkflowSnapshot, WorkflowStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PREMIUM = ({"field": "user.tags", "operator": "contains", "value": "premium"},)


def condition(cid: str = "c1", version: int = 1, **kw: Any) -> ConditionDefined:
    base: dict[str, Any] = {"id": cid, "workspace_id": "ws", "version": version, "name": f"cond {cid}",
                            "conditions": PREMIUM, "created_at": T0, "updated_at": T0}
    return ConditionDefined(**(base | kw))


def wf(nodes: list[Node], edges: list[Edge]) -> WorkflowSnapshot:
    return WorkflowSnapshot(id="w", workspace_id="ws", version=1, name="w", status=WorkflowStatus.ACTIVE,
                            nodes=tuple(nodes), edges=tuple(edges), created_at=T0, updated_at=T0)


def tag(node_id: str) -> Node:
    return Node(id=node_id, node_type=NodeType.ACTION, config={"action_type": "add_tag", "tag_name": node_id})


TRIGGER = Node(id="t", node_type=NodeType.TRIGGER)


def by_node(cid: str = "c1", **config: Any) -> WorkflowSnapshot:
    check = Node(id="check", node_type=NodeType.CONDITION, config={"condition_id": cid, **config})
    return wf([TRIGGER, check, tag("yes"), tag("no")], [
        Edge(id="e0", source_node="t", target_node="check"),
        Edge(id="e1", source_node="check", target_node="yes", label="true"),
        Edge(id="e2", source_node="check", target_node="no", label="false"),
    ])


def by_edge(cid: str = "c1", **extra: Any) -> WorkflowSnapshot:
    return wf([TRIGGER, tag("a"), tag("premium")], [
        Edge(id="e0", source_node="t", target_node="a"),
        Edge(id="e1", source_node="a", target_node="premium", condition_id=cid, **extra),
    ])


def run(workflow: WorkflowSnapshot, tags: list[str]) -> list[str]:
    started = ExecutionStarted(execution_id="x", workflow=compile_actions(workflow, {}), trigger_type="manual", subject="u1",
                               context={"event": {}, "user": {"id": "u1", "tags": tags}, "conversation": {}, "input_data": {}})
    sim = simulate(started, workspace_id="ws", now=T0)
    assert sim.status == "completed", sim.state
    return list(sim.state["path"]) if sim.state else []


def test_a_reference_is_pinned_at_the_version_written_and_refreshed_by_the_next() -> None:
    workflow = by_node()
    assert referenced_ids(workflow) == ["c1"] and referenced_ids(by_edge("c2")) == ["c2"]
    pinned = pin_conditions(workflow, {"c1": condition()})
    check = pinned.node("check")
    assert check is not None and check.config["condition_ref"]["version"] == 1
    assert check.config["condition_ref"]["conditions"] == [dict(PREMIUM[0])]
    again = pin_conditions(pinned, {"c1": condition(version=2, conditions=())})
    node = again.node("check")
    assert node is not None and node.config["condition_ref"]["version"] == 2
    # Gone since: the pin stays (its runs go on); another workspace's condition is not one.
    kept = pin_conditions(pinned, {})
    assert kept.node("check") == pinned.node("check")
    assert pin_conditions(workflow, {"c1": condition(workspace_id="other")}) == workflow
    # The reference removed: so is its pin.
    assert check is not None
    bare = pinned.model_copy(update={"nodes": (TRIGGER, check.model_copy(update={"config": {"condition": "true"}}))})
    unpinned = pin_conditions(bare, {"c1": condition()}).node("check")
    assert unpinned is not None and "condition_ref" not in unpinned.config
    edge = pin_conditions(by_edge(), {"c1": condition(version=4)}).edges[1]
    assert edge.condition_ref is not None and edge.condition_ref.version == 4
    assert pin_conditions(by_edge(), {}).edges[1].condition_ref is None
    assert pin_conditions(workflow, {}) is workflow  # nothing to pin: the same snapshot


def test_a_pinned_node_reference_runs_like_the_same_condition_inline() -> None:
    pinned = pin_conditions(by_node(), {"c1": condition()})
    assert run(pinned, ["premium"])[1:] == ["check", "yes"]
    assert run(pinned, ["free"])[1:] == ["check", "no"]
    inline = inline_conditions(pinned).node("check")
    assert inline is not None and inline.config["condition"] == {"operator": "and", "conditions": [dict(PREMIUM[0])]}
    assert "condition_ref" not in inline.config
    # A later edit of the condition does not change this version.
    assert run(pinned, ["premium"]) == run(pin_conditions(by_node(), {"c1": condition()}), ["premium"])
    code = pin_conditions(by_node(), {"c1": condition(use_custom_code=True, custom_code="result = True", language="python")})
    node = inline_conditions(code).node("check")
    assert node is not None and (node.config["use_custom_code"], node.config["custom_code"]) == (True, "result = True")


def test_a_pinned_edge_reference_decides_the_edge() -> None:
    pinned = pin_conditions(by_edge(), {"c1": condition()})
    assert run(pinned, ["premium"])[1:] == ["a", "premium"]
    assert run(pinned, ["free"])[1:] == ["a"]
    assert edge_spec(pinned.edges[1]) == {"operator": "and", "conditions": [dict(PREMIUM[0])]}
    assert edge_spec(Edge(id="x", source_node="a", target_node="b", condition="true")) == "true"
    # A reference never pinned, or custom code, is an error: never an unconditional edge.
    with pytest.raises(EdgeError, match="not a pinned filter tree"):
        edge_spec(by_edge().edges[1])
    code = ConditionPin(id="c1", version=1, use_custom_code=True, custom_code="result = True")
    with pytest.raises(EdgeError):
        edge_spec(by_edge(condition_ref=code).edges[1])


def test_references_are_checked() -> None:
    known = {"c1": condition(), "off": condition("off", is_active=False), "code": condition("code", use_custom_code=True,
                                                                                             custom_code="result = True")}

    def problems(workflow: WorkflowSnapshot) -> list[tuple[str, str, bool]]:
        return [(p.field, p.message, p.warning) for p in reference_problems(workflow, known)]

    assert problems(by_node()) == [] and problems(by_edge()) == []
    [(field, message, warning)] = problems(by_node("ghost"))
    assert (field, warning) == ("nodes.1.config.condition_id", False) and "no condition ghost" in message
    assert "inactive" in problems(by_node("off"))[0][1]
    assert "not both" in problems(by_node(condition="user.x == 1"))[0][1]
    assert "not both" in problems(by_edge(condition="true"))[0][1]
    assert "custom code" in problems(by_edge("code"))[0][1]
    assert problems(by_node("code")) == []  # a node runs custom code in the sandbox
    [(field, _, _)] = problems(by_edge("ghost"))
    assert field == "edges.1.condition_id"
    # Deleted since it was pinned: a warning, the pinned version still runs.
    pinned = pin_conditions(by_node(), known)
    [(_, message, warning)] = [(p.field, p.message, p.warning) for p in reference_problems(pinned, {})]
    assert warning and "pinned version 1" in message
    # Through /validate: issues name the field; unknown conditions (None) are not checked.
    report = validate_workflow(by_node("ghost"), conditions=known)
    assert [(i.code, i.field, i.node_id) for i in report.issues] == [("AUTO_007", "nodes.1.config.condition_id", "check")]
    assert validate_workflow(by_node("ghost")).is_valid
    assert validate_workflow(by_node(), conditions=known).is_valid
    edge_report = validate_workflow(by_edge("ghost"), conditions=known)
    assert [(i.field, i.edge_id) for i in edge_report.issues] == [("edges.1.condition_id", "e1")]
    warned = validate_workflow(pinned, conditions={})
    assert warned.is_valid and [w.field for w in warned.warnings] == ["nodes.1.config.condition_id"]
