"""Seed 003's reusable conditions referenced from a workflow: pinned, checked, inlined. Pure.

A condition node's `config.condition_id`, or an edge's `condition_id`, names a condition
of `/conditions` instead of writing one inline. The reference is resolved when a workflow
version is written (created, edited, activated, a trigger or action attached): the
condition as it is then is pinned next to the reference (`config.condition_ref` on a
node, `condition_ref` on an edge), so every run of that version evaluates the same
condition and a later edit of the condition takes effect with the workflow's next
version (activate it again after pausing, or edit it). An execution pins its workflow
version, so a running one never changes either.

* `pin_conditions`: the workflow with each reference's pin refreshed from `conditions`.
* `reference_problems`: what `/validate` and activation say about the references.
* `inline_conditions`: the workflow as it runs: a node's pin becomes its inline
  condition (a filter tree, or custom code for the sandbox), exactly like one written in
  place. An edge keeps its pin, which the engine reads (`processors.engine.flow.edge_spec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from schemas.records import ConditionDefined
from schemas.workflow import ConditionPin, Edge, Node, NodeType, WorkflowSnapshot

REF: Final = "condition_id"
PIN: Final = "condition_ref"
# A node's inline condition: with condition_id, none of these may be set.
INLINE_KEYS: Final = ("condition", "filters", "conditions", "custom_code", "code")


@dataclass(frozen=True)
class RefProblem:
    field: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None
    warning: bool = False


def pin_of(condition: ConditionDefined) -> ConditionPin:
    return ConditionPin(
        id=condition.id, version=condition.version, name=condition.name, operator=condition.operator,
        conditions=condition.conditions, use_custom_code=condition.use_custom_code,
        custom_code=condition.custom_code, language=condition.language,
    )


def _usable(condition: ConditionDefined | None, workspace_id: str) -> ConditionDefined | None:
    if condition is None or condition.deleted or condition.workspace_id != workspace_id:
        return None
    return condition


def _node_pin(node: Node) -> ConditionPin | None:
    raw = node.config.get(PIN)
    if not isinstance(raw, Mapping):
        return None
    try:
        return ConditionPin.model_validate(dict(raw))
    except ValueError:
        return None


def referenced_ids(workflow: WorkflowSnapshot) -> list[str]:
    """Every condition id the workflow's nodes and edges reference, once each."""
    ids = [str(n.config[REF]) for n in workflow.nodes if n.node_type == NodeType.CONDITION and n.config.get(REF)]
    ids += [e.condition_id for e in workflow.edges if e.condition_id]
    return list(dict.fromkeys(ids))


def pin_conditions(workflow: WorkflowSnapshot, conditions: Mapping[str, ConditionDefined]) -> WorkflowSnapshot:
    """Refresh every reference's pin from the conditions as they are now. A reference whose
    condition is gone keeps the pin it had (its runs go on as they were; `/validate` warns);
    a pin without its reference is dropped."""
    nodes: list[Node] = []
    for node in workflow.nodes:
        wanted = node.config.get(REF) if node.node_type == NodeType.CONDITION else None
        found = _usable(conditions.get(str(wanted)), workflow.workspace_id) if wanted else None
        config = dict(node.config)
        if found is not None:
            config[PIN] = pin_of(found).model_dump(mode="json")
        elif not wanted or (old := _node_pin(node)) is None or old.id != str(wanted):
            config.pop(PIN, None)
        nodes.append(node if config == node.config else node.model_copy(update={"config": config}))
    edges: list[Edge] = []
    for edge in workflow.edges:
        found = _usable(conditions.get(edge.condition_id), workflow.workspace_id) if edge.condition_id else None
        pin = edge.condition_ref
        if found is not None:
            pin = pin_of(found)
        elif edge.condition_id is None or (pin is not None and pin.id != edge.condition_id):
            pin = None
        edges.append(edge if pin == edge.condition_ref else edge.model_copy(update={"condition_ref": pin}))
    if nodes == list(workflow.nodes) and edges == list(workflow.edges):
        return workflow
    return workflow.model_copy(update={"nodes": tuple(nodes), "edges": tuple(edges)})


def reference_problems(workflow: WorkflowSnapshot, conditions: Mapping[str, ConditionDefined]) -> list[RefProblem]:
    """Unknown or inactive conditions, a reference next to an inline condition, custom
    code on an edge (only a condition node can run code: the sandbox is a worker)."""
    problems: list[RefProblem] = []

    def check(where: str, wanted: str, pin: ConditionPin | None, node_id: str | None, edge_id: str | None) -> ConditionPin | None:
        found = _usable(conditions.get(wanted), workflow.workspace_id)
        if found is None:
            if pin is not None and pin.id == wanted:
                problems.append(RefProblem(where, f"condition {wanted} no longer exists; runs use its pinned version {pin.version}",
                                           node_id, edge_id, warning=True))
                return pin
            problems.append(RefProblem(where, f"no condition {wanted} in this workspace", node_id, edge_id))
            return None
        if not found.is_active:
            problems.append(RefProblem(where, f"condition {found.name!r} is inactive; activate it or use another", node_id, edge_id))
        return pin_of(found)

    for i, node in enumerate(workflow.nodes):
        wanted = node.config.get(REF)
        if node.node_type != NodeType.CONDITION or not wanted:
            continue
        where = f"nodes.{i}.config.{REF}"
        inline = [k for k in INLINE_KEYS if node.config.get(k) not in (None, "", [], {})]
        if inline or node.config.get("use_custom_code"):
            problems.append(RefProblem(where, f"node {node.id}: condition_id or an inline condition "
                                              f"({', '.join(inline) or 'use_custom_code'}), not both", node.id))
        check(where, str(wanted), _node_pin(node), node.id, None)
    for i, edge in enumerate(workflow.edges):
        if not edge.condition_id:
            continue
        where = f"edges.{i}.condition_id"
        if edge.condition:
            problems.append(RefProblem(where, f"edge {edge.id}: condition_id or condition, not both", edge_id=edge.id))
        pin = check(where, edge.condition_id, edge.condition_ref, None, edge.id)
        if pin is not None and pin.use_custom_code:
            problems.append(RefProblem(where, f"edge {edge.id}: condition {pin.name!r} is custom code, which only a condition"
                                              " node runs (give the node condition_id instead)", edge_id=edge.id))
    return problems


def inline_node(node: Node) -> Node:
    """A condition node with a pinned reference, as if its condition were written in place."""
    pin = _node_pin(node) if node.node_type == NodeType.CONDITION else None
    if pin is None:
        return node
    config = {k: v for k, v in node.config.items() if k not in (PIN, *INLINE_KEYS, "use_custom_code", "operator", "language")}
    if pin.use_custom_code:
        config.update(use_custom_code=True, custom_code=pin.custom_code or "", language=pin.language)
    else:
        config["condition"] = pin.tree()
    return node.model_copy(update={"config": config})


def inline_conditions(workflow: WorkflowSnapshot) -> WorkflowSnapshot:
    """The workflow as it runs: every pinned node reference inlined (see `inline_node`)."""
    nodes = tuple(inline_node(n) for n in workflow.nodes)
    if all(a is b for a, b in zip(nodes, workflow.nodes, strict=True)):
        return workflow
    return workflow.model_copy(update={"nodes": nodes})
