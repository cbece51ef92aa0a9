"""How an execution ends: completed, failed (with the failure notification its settings ask
for), and the marker the executor keeps afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

# An ending drops its watches (waits, which also ends one by an exit rule) and frees its flow
# control slot (flowslots): imported as modules.
from processors.engine import flowslots, waits
from processors.engine.kinds import DEFAULT_NODE_TIMEOUT, NOTIFY_NODE
from processors.engine.timers import cancel_timers
from processors.engine.transition import State, Step
from schemas.envelope import deterministic_id
from schemas.records import (
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    FailureNotified,
    NodeError,
    NodeWorkOrdered,
)
from schemas.topics import NODE_WORK
from schemas.workflow import NodeType


def finish(step: Step) -> None:
    state, workflow = step.state, step.workflow
    state["status"] = "completed"
    cancel_timers(step)
    waits.drop_watches(step)
    flowslots.release(step)
    output: dict[str, Any] = {}
    for node_id in state["path"]:
        node = workflow.node(node_id)
        if node is not None and node.node_type != NodeType.TRIGGER:
            for info in state["nodes"].values():
                if info["node_id"] == node_id and info["status"] == "succeeded":
                    output.update(info.get("output", {}))
    step.emit(
        ExecutionCompleted(
            execution_id=state["execution_id"],
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            output=output,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("completed", state["execution_id"]),
    )


def fail(step: Step, error: NodeError, node_id: str | None) -> None:
    state, workflow = step.state, step.workflow
    if state["status"] != "running":
        return
    state["status"] = "failed"
    cancel_timers(step)
    waits.drop_watches(step)
    flowslots.release(step)
    step.emit(
        ExecutionFailed(
            execution_id=state["execution_id"],
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            error=error,
            failed_node=node_id,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("failed-execution", state["execution_id"]),
    )
    notify_failure(step, error, node_id)


def cancel(step: Step, reason: str) -> None:
    """Cancelled (by a request, or by an exit rule): its timers and watches go with it."""
    state = step.state
    state["status"] = "cancelled"
    cancel_timers(step)
    waits.drop_watches(step)
    flowslots.release(step)
    step.emit(
        ExecutionCancelled(
            execution_id=state["execution_id"],
            workflow_id=step.workflow.id,
            workflow_version=step.workflow.version,
            reason=reason,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("cancelled-execution", state["execution_id"]),
    )


def notify_failure(step: Step, error: NodeError, node_id: str | None) -> None:
    """`settings.notifications.on_failure`: a webhook (or email) about the failed execution."""
    state, workflow = step.state, step.workflow
    spec = workflow.settings.notifications.get("on_failure")
    if not spec:
        return
    notifications = workflow.settings.notifications
    if not isinstance(spec, Mapping):
        spec = {k: v for k, v in notifications.items() if k in ("webhook_url", "url", "email", "channel")}
    url = spec.get("webhook_url") or spec.get("url") or spec.get("webhook")
    email = spec.get("email") or spec.get("recipient")
    execution_id = state["execution_id"]
    payload = {
        "event": "execution.failed",
        "execution_id": execution_id,
        "workflow_id": workflow.id,
        "workflow_name": workflow.name,
        "workflow_version": workflow.version,
        "failed_node": node_id,
        "error": {"code": error.code, "message": error.message},
    }
    if isinstance(url, str) and url:
        channel, target = "webhook", url
        config: dict[str, Any] = {"action_type": "webhook", "url": url, "method": "POST", "payload": payload}
    elif isinstance(email, str) and email:
        channel, target = "email", email
        config = {
            "action_type": "send_email",
            "recipient": email,
            "subject": f"Workflow {workflow.name} failed",
            "body": f"Execution {execution_id} failed at {node_id}: {error.code} {error.message}",
        }
    else:
        return
    step.emit(FailureNotified(execution_id=execution_id, workflow_id=workflow.id, channel=channel, target=target), deterministic_id("failure-notified", execution_id))
    step.emit(
        NodeWorkOrdered(
            execution_id=execution_id,
            workflow_id=workflow.id,
            node_id=NOTIFY_NODE,
            node_type=NodeType.ACTION,
            action_type=str(config["action_type"]),
            attempt=1,
            config=config,
            idempotency_key=f"{execution_id}:{NOTIFY_NODE}:1",
            timeout_seconds=DEFAULT_NODE_TIMEOUT,
        ),
        deterministic_id("work", execution_id, NOTIFY_NODE, "1"),
        topic=NODE_WORK,
    )


def finished_marker(state: State, at: float | None = None) -> State:
    """What the store keeps after the end: enough to ignore late duplicates, no more.

    `at` (epoch seconds) is when it finished, so the executor can drop the marker
    after its horizon (processors/executor.py says why that is a trade-off).
    """
    marker: State = {"status": state["status"]}
    if at is not None:
        marker["finished_at"] = at
    return marker
