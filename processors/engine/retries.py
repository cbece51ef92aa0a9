"""A failed attempt: retried after a backoff (the node's or the workflow's retry policy), else
its error edges are taken, else the execution fails.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# These modules call each other (a node's success follows its edges, which run nodes):
# imported as modules, their functions are looked up at call time.
from processors.engine import dispatch, flow, graph
from processors.engine.ending import fail
from processors.engine.ids import derive_id, key_of
from processors.engine.policies import retry_policy
from processors.engine.timers import schedule_timer
from processors.engine.transition import Step
from schemas.records import (
    NodeError,
    NodeFailed,
    NodeRetryScheduled,
)
from schemas.workflow import Node


def inline_failure(step: Step, node: Node, attempt: int, iteration: int | None, node_input: dict[str, Any], error: NodeError) -> None:
    node_failed(step, node, iteration, attempt, error, recorded=False, node_input=node_input)


def node_failed(
    step: Step,
    node: Node,
    iteration: int | None,
    attempt: int,
    error: NodeError,
    *,
    recorded: bool,
    node_input: dict[str, Any],
) -> None:
    """An attempt failed: retry it after a backoff, take the error path, or fail the execution."""
    state = step.state
    execution_id = state["execution_id"]
    key = key_of(node.id, iteration)
    info = state["nodes"][key]
    if not recorded:
        step.emit(
            NodeFailed(
                execution_id=execution_id,
                node_id=node.id,
                node_type=node.node_type,
                attempt=attempt,
                iteration=iteration,
                input=node_input,
                error=error,
                started_at=step.now,
                completed_at=step.now,
            ),
            derive_id("failed", execution_id, node.id, attempt, iteration),
        )
    policy = retry_policy(node, step.workflow.settings)
    if error.retryable and policy.allows(attempt):
        delay = policy.delay(f"{execution_id}:{key}", attempt)
        retry_at = step.now + timedelta(seconds=delay)
        step.emit(
            NodeRetryScheduled(
                execution_id=execution_id,
                node_id=node.id,
                attempt=attempt,
                next_attempt=attempt + 1,
                delay_seconds=delay,
                retry_at=retry_at,
                error=error,
                iteration=iteration,
            ),
            derive_id("retry", execution_id, node.id, attempt, iteration),
        )
        if delay <= 0:
            dispatch.run_node(step, node, attempt=attempt + 1, iteration=iteration)
            return
        info.update(status="retrying", attempt=attempt + 1)
        schedule_timer(
            step,
            purpose="retry",
            timer_id=derive_id("timer-retry", execution_id, node.id, attempt + 1, iteration),
            fire_at=retry_at,
            node_id=node.id,
            attempt=attempt + 1,
            iteration=iteration,
        )
        return
    info["status"] = "failed"
    info["output"] = {"error": error.model_dump(mode="json", exclude={"retryable"})}
    error_edges = [e for e in graph.outgoing(step.workflow, node.id) if graph.is_error_edge(e)]
    if not error_edges:
        fail(step, error, node.id)
        return
    # A failure path: the execution goes on from here, with the error visible downstream.
    state["path"].append(node.id)
    flow.follow(step, node, None)
