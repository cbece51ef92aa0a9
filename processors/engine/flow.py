"""Edges and joins: which edges a finished node takes, and running (or skipping) a node once
every edge it waits for is resolved.

- A node runs once all its incoming edges are resolved (taken or dead) and at least one was
  taken; a node whose incoming edges are all dead is skipped and kills its own outgoing
  edges (dead-path elimination). So a join after parallel branches runs once, after every
  live branch (`config.join: "any"` runs on the first).
- Condition nodes choose edges by label (true/false), by `true_path` / `false_path`, or by
  the edge's own CEL condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# These modules call each other (a node's success follows its edges, which run nodes):
# imported as modules, their functions are looked up at call time.
from processors.engine import dispatch, graph
from processors.engine.ids import key_of
from processors.engine.transition import State, Step, eval_context
from processors.expressions.conditions import ConditionError, evaluate_cel
from schemas.workflow import Edge, Node, NodeType


def record_success(state: State, key: str, output: dict[str, Any]) -> None:
    info = state["nodes"][key]
    info["status"] = "succeeded"
    info["output"] = output
    state["path"].append(info["node_id"])


def edge_taken(state: State, node: Node, edge: Edge, output: Mapping[str, Any]) -> bool:
    if edge.condition:
        context = eval_context(state, {**output, "output": dict(output)})
        try:
            return evaluate_cel(edge.condition, context) is True
        except ConditionError:
            return False
    if node.node_type != NodeType.CONDITION:
        return True
    result = bool(output.get("result"))
    true_path, false_path = node.config.get("true_path"), node.config.get("false_path")
    if edge.target_node in (true_path, false_path):
        return bool(edge.target_node == (true_path if result else false_path))
    if graph.label_of(edge) in graph.FALSE_LABELS:
        return not result
    # An unlabelled edge out of a condition is its "true" branch.
    return result


def scope(state: State, node_id: str) -> int | None:
    """The iteration a node belongs to: the active loop's, if the node is in its body."""
    loop = state.get("loop")
    if loop and node_id in loop["body"]:
        return int(loop["index"])
    return None


def follow(step: Step, node: Node, iteration: int | None, output: Mapping[str, Any], *, failed: bool) -> None:
    state, workflow = step.state, step.workflow
    for edge in graph.outgoing(workflow, node.id):
        if not step.running:
            return
        if node.node_type == NodeType.LOOP and graph.is_body_edge(workflow, edge):
            continue  # the loop runs its body itself
        loop = state.get("loop")
        if loop and edge.target_node == loop["node_id"] and node.id in loop["body"]:
            continue  # back-edge: the end of this iteration's branch
        if failed:
            taken = graph.is_error_edge(edge)
        else:
            taken = not graph.is_error_edge(edge) and edge_taken(state, node, edge, output)
        resolve(step, edge, taken)


def resolve(step: Step, edge: Edge, taken: bool) -> None:
    state = step.state
    target_scope = scope(state, edge.target_node)
    state["edges"][key_of(edge.id, target_scope)] = "taken" if taken else "dead"
    target = step.workflow.node(edge.target_node)
    if target is not None:
        check_ready(step, target, target_scope)


def check_ready(step: Step, node: Node, iteration: int | None) -> None:
    """Run (or skip) a node once every edge it waits for is resolved."""
    state, workflow = step.state, step.workflow
    key = key_of(node.id, iteration)
    if key in state["nodes"] or not step.running:
        return
    loop = state.get("loop")
    body = frozenset(loop["body"]) if loop else None
    edges = graph.incoming(workflow, node, body, loop["node_id"] if loop else None)
    if not edges:
        return
    marks = [state["edges"].get(key_of(e.id, iteration)) for e in edges]
    join_any = str(node.config.get("join", "all")).lower() == "any"
    if join_any and "taken" in marks:
        dispatch.run_node(step, node, attempt=1, iteration=iteration)
        return
    if None in marks:
        return  # still waiting on a branch
    if "taken" in marks:
        dispatch.run_node(step, node, attempt=1, iteration=iteration)
        return
    # Every way in is dead: skip this node and everything only it leads to.
    state["nodes"][key] = {"node_id": node.id, "status": "skipped", "attempt": 0, "output": {}, "iteration": iteration}
    for edge in graph.outgoing(workflow, node.id):
        if loop and edge.target_node == loop["node_id"] and node.id in loop["body"]:
            continue
        if node.node_type == NodeType.LOOP and graph.is_body_edge(workflow, edge):
            continue
        resolve(step, edge, False)
