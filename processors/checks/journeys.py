"""Static checks of journeys (README "Journeys"): `wait_for_event` nodes' `match` and out-edge
labels, and the CEL of `settings.exit_when`, `settings.goal` and the flow-control keys. Pure.

Returns (check, field, message, node id, edge id, is_error) for `validate_workflow` to report.
"""

from __future__ import annotations

from processors.engine import graph
from processors.engine.flow import WAIT_LABELS
from processors.expressions.conditions import validate_condition
from schemas.workflow import NodeType, WorkflowSnapshot

Problem = tuple[str, str, str, str | None, str | None, bool]


def journey_problems(workflow: WorkflowSnapshot) -> list[Problem]:
    found: list[Problem] = []
    for i, node in enumerate(workflow.nodes):
        if node.node_type != NodeType.WAIT_FOR_EVENT:
            continue
        match = node.config.get("match")
        if isinstance(match, str) and match.strip():
            for error in validate_condition(match):
                found.append(("conditions_valid", f"nodes.{i}.config.match", f"node {node.id}: config.match {error}", node.id, None, True))
        labels = set()
        for j, edge in enumerate(workflow.edges):
            if edge.source_node != node.id or edge.condition:
                continue
            label = graph.label_of(edge)
            if label and label not in WAIT_LABELS and not graph.is_error_edge(edge):
                found.append(("references_valid", f"edges.{j}.label",
                              f"edge {edge.id}: a wait_for_event node's edges are labelled received or timeout, not {edge.label!r}",
                              node.id, edge.id, True))
            labels.add(label)
        if not labels & WAIT_LABELS and any(e.source_node == node.id for e in workflow.edges):
            found.append(("references_valid", f"nodes.{i}",
                          f"node {node.id}: no edge labelled received or timeout; every edge out of it is taken either way",
                          node.id, None, False))
    for i, rule in enumerate(workflow.settings.exit_when):
        if rule.condition:
            for error in validate_condition(rule.condition):
                found.append(("conditions_valid", f"settings.exit_when.{i}.condition", f"exit_when[{i}]: {error}", None, None, True))
    for name in ("throttle", "concurrency"):
        spec = getattr(workflow.settings, name)
        if spec is not None:
            for error in validate_condition(spec.key):
                found.append(("conditions_valid", f"settings.{name}.key", f"{name}.key: {error}", None, None, True))
    if workflow.settings.priority is not None:
        for error in validate_condition(workflow.settings.priority):
            found.append(("conditions_valid", "settings.priority", f"priority: {error}", None, None, True))
    goal = workflow.settings.goal
    if goal is not None and goal.condition:
        for error in validate_condition(goal.condition):
            found.append(("conditions_valid", "settings.goal.condition", f"goal: {error}", None, None, True))
    return found
