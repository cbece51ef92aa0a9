"""Record ids, derived from (kind, execution, node, attempt, iteration).

A re-run of the same input derives the same ids, which is how a duplicate record is
recognised downstream; changing a derivation changes what in-flight executions emit
(tests/unit/processors/engine/histories guard it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.envelope import deterministic_id
from schemas.records import (
    NodeError,
    NodeFailed,
    NodeSucceeded,
    NodeWorkOrdered,
)


def key_of(node_id: str, iteration: int | None) -> str:
    return node_id if iteration is None else f"{node_id}#{iteration}"


def derive_id(kind: str, execution_id: str, node_id: str, attempt: int, iteration: int | None) -> str:
    parts = [kind, execution_id, node_id, str(attempt)]
    if iteration is not None:
        parts.append(f"i{iteration}")
    return deterministic_id(*parts)


def message_event_id(execution_id: str, node_id: str, attempt: int, iteration: int | None) -> str:
    """The id of the MESSAGE_SENT event a send_message step emits (the worker reports it too)."""
    return derive_id("message-sent", execution_id, node_id, attempt, iteration)


def result_id(kind: str, order: NodeWorkOrdered) -> str:
    """The id of a worker's result for a work order: one per (node, attempt, iteration)."""
    return derive_id(kind, order.execution_id, order.node_id, order.attempt, order.iteration)


def work_result(
    order: NodeWorkOrdered, outcome: dict[str, Any] | NodeError, started: datetime, completed: datetime
) -> tuple[str, NodeSucceeded | NodeFailed]:
    """The record a node worker (or the simulator standing in for one) writes for a work order."""
    common: dict[str, Any] = {
        "execution_id": order.execution_id, "node_id": order.node_id, "node_type": order.node_type,
        "attempt": order.attempt, "iteration": order.iteration, "input": order.config,
        "started_at": started, "completed_at": completed,
    }
    if isinstance(outcome, NodeError):
        return "failed", NodeFailed(error=outcome, **common)
    return "succeeded", NodeSucceeded(output=outcome, **common)
