"""Edges and joins: which edges a finished node takes, and running (or skipping) a node once
every edge it waits for is resolved.

- A node runs once all its incoming edges are resolved (taken or dead) and at least one was
  taken; a node whose incoming edges are all dead is skipped and kills its own outgoing
  edges (dead-path elimination). So a join after parallel branches runs once, after every
  live branch (`config.join: "any"` runs on the first).
- Condition nodes choose edges by label (true/false), by `true_path` / `false_path`, or by
  the edge's own CEL condition.
- Which edges a node takes is decided before the node's success is recorded (`decide`): an
  edge condition that cannot be evaluated fails the node (or takes its error edges), it is
  never silently "not taken".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# These modules call each other (a node's success follows its edges, which run nodes):
# imported as modules, their functions are looked up at call time.
from processors.engine import dispatch, graph
from processors.engine.ids import key_of
from processors.engine.transition import State, Step, eval_context
from processors.expressions.conditions import ConditionError, judge_condition
from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

# Seed 004 names a condition node's boolean `validation_result` on its edges
# (`validation_result == true`): besides `result` and the node's declared output ports.
CONDITION_ALIASES = ("result", "validation_result")

# The out-edge labels of a wait_for_event node.
WAIT_LABELS = frozenset({"received", "timeout"})


def condition_output(node: Node, result: bool) -> dict[str, Any]:
    """A condition node's output: its boolean under `result`, `validation_result` and each
    declared output port."""
    output: dict[str, Any] = dict.fromkeys(CONDITION_ALIASES, result)
    for port in node.outputs:
        output[port.name] = result
    return output


def dangling_path(workflow: WorkflowSnapshot, node: Node) -> str | None:
    """The first of a condition's `true_path` / `false_path` naming no node of the workflow.

    The engine fails such a node rather than guess: read by the label rule instead, its
    unlabelled edges would all be "true" and both branches would run.
    """
    if node.node_type != NodeType.CONDITION:
        return None
    for key in ("true_path", "false_path"):
        target = node.config.get(key)
        if target not in (None, "") and workflow.node(str(target)) is None:
            return key
    return None


def record_success(state: State, key: str, output: dict[str, Any]) -> None:
    info = state["nodes"][key]
    info["status"] = "succeeded"
    info["output"] = output
    state["path"].append(info["node_id"])


class EdgeError(ConditionError):
    """An edge condition that cannot be evaluated (the message names the edge)."""


def edge_view(node: Node, output: Mapping[str, Any]) -> dict[str, Any]:
    """The names an edge condition reads besides the execution context: the source node's
    output fields (a condition node's boolean under its aliases too, custom code included;
    a declared output port the output lacks is a missing field, so null), and `output`."""
    fields: dict[str, Any] = dict.fromkeys((port.name for port in node.outputs), None)
    if node.node_type == NodeType.CONDITION:
        fields.update(condition_output(node, bool(output.get("result"))))
    fields.update(output)
    return {**fields, "output": dict(output)}


def edge_spec(edge: Edge) -> str | dict[str, Any] | None:
    """An edge's condition: its CEL, or the filter tree of the reusable condition it
    references, as pinned when its workflow version was written. Raises EdgeError for a
    reference that was never pinned (or is custom code): never silently unconditional."""
    if edge.condition:
        return edge.condition
    if edge.condition_id is None:
        return None
    pin = edge.condition_ref
    if pin is None or pin.id != edge.condition_id or pin.use_custom_code:
        raise EdgeError(f"edge {edge.id}: condition {edge.condition_id} is not a pinned filter tree", f"edges.{edge.id}.condition_id")
    return pin.tree()


def edge_taken(state: State, node: Node, edge: Edge, output: Mapping[str, Any]) -> bool:
    """Whether `edge` out of `node` (which output `output`) is taken. Raises EdgeError."""
    spec = edge_spec(edge)
    if spec is not None:
        context = eval_context(state, edge_view(node, output))
        # The source's own output, whether or not the state records it yet.
        context["nodes"] = {**context["nodes"], node.id: dict(output)}
        try:
            return judge_condition(spec, context).result
        except ConditionError as exc:
            raise EdgeError(f"edge {edge.id}: {exc}", f"edges.{edge.id}.condition") from exc
    if node.node_type == NodeType.WAIT_FOR_EVENT:
        # `received` / `timeout` by the wait's outcome; an unlabelled edge is taken either way.
        label = graph.label_of(edge)
        if label in WAIT_LABELS:
            return (label == "received") == bool(output.get("received"))
        return True
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


def _followed(step: Step, node: Node) -> list[Edge]:
    """The edges a finished node resolves itself."""
    state, workflow = step.state, step.workflow
    loop = state.get("loop")
    edges = []
    for edge in graph.outgoing(workflow, node.id):
        if node.node_type == NodeType.LOOP and graph.is_body_edge(workflow, edge):
            continue  # the loop runs its body itself
        if loop and edge.target_node == loop["node_id"] and node.id in loop["body"]:
            continue  # back-edge: the end of this iteration's branch
        edges.append(edge)
    return edges


def decide(step: Step, node: Node, output: Mapping[str, Any]) -> dict[str, bool]:
    """Which of a succeeded node's edges are taken, by edge id. Raises EdgeError, before
    anything is recorded, so the caller can fail the node instead."""
    return {
        edge.id: not graph.is_error_edge(edge) and edge_taken(step.state, node, edge, output)
        for edge in _followed(step, node)
    }


def follow(step: Step, node: Node, decisions: Mapping[str, bool] | None) -> None:
    """Resolve a finished node's edges: as `decisions` says, or (None: it failed) its error edges."""
    for edge in _followed(step, node):
        if not step.running:
            return
        taken = graph.is_error_edge(edge) if decisions is None else decisions[edge.id]
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
