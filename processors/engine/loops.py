"""Loop nodes: the body (edges labelled `body`) runs once per item, one iteration after the
other, then the loop node succeeds and follows its other edges; `settle` closes finished
iterations and then the execution.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

# These modules call each other (a node's success follows its edges, which run nodes):
# imported as modules, their functions are looked up at call time.
from processors.engine import dispatch, flow, graph, retries
from processors.engine.ending import finish
from processors.engine.ids import key_of
from processors.engine.kinds import DEFAULT_LOOP_ITEMS, MAX_LOOP_ITEMS
from processors.engine.transition import State, Step, pending_keys
from processors.expressions.conditions import ConditionError, evaluate_cel
from processors.expressions.templates import TemplateError, render_value
from schemas.records import (
    NodeError,
)
from schemas.workflow import Node


def start_loop(step: Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    state = step.state
    if state.get("loop") or iteration is not None:
        retries.inline_failure(step, node, attempt, iteration, {}, NodeError(code="NODE_UNSUPPORTED", message="loops inside loops are not supported"))
        return
    try:
        items, bound = loop_items(node, context, step.now)
    except (TemplateError, ConditionError, ValueError) as exc:
        retries.inline_failure(step, node, attempt, iteration, {}, NodeError(code="AUTO_007", message=f"loop node {node.id}: {exc}"))
        return
    body = sorted(graph.loop_body(step.workflow, node.id))
    truncated = len(items) > bound
    items = items[:bound]
    state["loop"] = {"node_id": node.id, "attempt": attempt, "items": items, "index": 0, "results": [], "body": body, "truncated": truncated}
    # Not "open": the loop's progress is tracked by its own frame, not by pending nodes.
    state["nodes"][key_of(node.id, iteration)]["status"] = "looping"
    if items and body:
        start_iteration(step)


def loop_items(node: Node, context: dict[str, Any], now: datetime) -> tuple[list[Any], int]:
    spec = node.config.get("items", node.config.get("list", node.config.get("collection")))
    if isinstance(spec, str) and "{{" not in spec:
        value = evaluate_cel(spec, context)  # a CEL expression such as event.data.items
    else:
        value = render_value(spec, context, now=now)
    if isinstance(value, Mapping):
        value = [{"key": k, "value": v} for k, v in value.items()]
    if not isinstance(value, list | tuple):
        # A user's expression gave the wrong kind of value: a bad value the node fails on (the caller's ValueError path), not a bug.
        raise ValueError(f"items must evaluate to a list, got {type(value).__name__}")  # noqa: TRY004
    raw_bound = node.config.get("max_iterations", DEFAULT_LOOP_ITEMS)
    bound = raw_bound if isinstance(raw_bound, int) and not isinstance(raw_bound, bool) and raw_bound > 0 else DEFAULT_LOOP_ITEMS
    return list(value), min(bound, MAX_LOOP_ITEMS)


def start_iteration(step: Step) -> None:
    state, workflow = step.state, step.workflow
    loop = state["loop"]
    loop_node = workflow.node(loop["node_id"])
    assert loop_node is not None
    for edge in graph.outgoing(workflow, loop_node.id):
        if graph.is_body_edge(workflow, edge) and step.running:
            flow.resolve(step, edge, True)


def settle(step: Step) -> None:
    """After a transition: close finished loop iterations, then the execution."""
    state = step.state
    while step.running and state.get("loop") and not iteration_open(state):
        loop = state["loop"]
        index = loop["index"]
        if loop["items"]:
            loop["results"].append(
                {
                    info["node_id"]: info.get("output", {})
                    for info in state["nodes"].values()
                    if info.get("iteration") == index and info["status"] in ("succeeded", "failed")
                }
            )
        if loop["items"] and index + 1 < len(loop["items"]) and loop["body"]:
            loop["index"] = index + 1
            start_iteration(step)
            continue
        node = step.workflow.node(loop["node_id"])
        assert node is not None
        state["loop"] = None
        output = {"iterations": len(loop["results"]), "results": loop["results"], "truncated": loop["truncated"]}
        dispatch.succeed_inline(step, node, None, loop["attempt"], {"items": len(loop["items"])}, output)
    if step.running and not pending_keys(state) and not state.get("loop"):
        finish(step)


def iteration_open(state: State) -> bool:
    index = state["loop"]["index"]
    return any(state["nodes"][k].get("iteration") == index for k in pending_keys(state))
