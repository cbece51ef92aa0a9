"""Starting executions from the API: every start is an `execution.started` record the executor acts on."""

from __future__ import annotations

import uuid
from typing import Any

from api.security import Principal
from api.services.links import pin_actions
from api.state import AppState
from schemas.envelope import deterministic_id, make_envelope, now
from schemas.outputs import Output
from schemas.records import ExecutionStarted
from schemas.topics import EXECUTIONS
from schemas.workflow import WorkflowSnapshot


async def start_run(state: AppState, principal: Principal, started: ExecutionStarted) -> None:
    """Write the execution's start; returns once the projection lists it."""
    envelope = make_envelope(
        started,
        source="api/runs",
        workspace_id=principal.workspace_id,
        subject=started.subject,
        execution_id=started.execution_id,
        correlation_id=started.retry_of or started.execution_id,
        depth=1,
    )
    topic, partition, offset = await state.publish(Output.of(EXECUTIONS, started.execution_id, envelope))
    # Read-your-writes: the execution is listed as soon as we answer.
    await state.wait_projected(topic, partition, offset)


async def start_by_webhook(
    state: AppState,
    workflow: WorkflowSnapshot,
    data: dict[str, Any],
    *,
    idempotency: tuple[str, ...],
    idempotency_key: str | None,
    webhook: dict[str, Any],
) -> str:
    """Start `workflow` for an inbound webhook call; returns the execution id once it is listed.

    A caller's Idempotency-Key makes re-sending the same hook start nothing new:
    the execution id is derived from `idempotency` + the key, and the executor
    ignores a second start of an execution it knows.
    """
    key = idempotency_key
    execution_id = deterministic_id("webhook", *idempotency, key[:200]) if key else str(uuid.uuid4())
    received = now()
    context = {
        "event": {"id": execution_id, "type": "webhook", "data": data, "timestamp": received.isoformat()},
        "user": data.get("user") if isinstance(data.get("user"), dict) else {},
        "conversation": {},
        "input_data": data,
        "webhook": webhook,
    }
    principal = Principal(user_id="webhook", workspace_id=workflow.workspace_id, role="webhook", email="webhook")
    workflow = await pin_actions(state, principal, workflow)
    started = ExecutionStarted(execution_id=execution_id, workflow=workflow, trigger_type="webhook", context=context, performed_by="webhook")
    await start_run(state, principal, started)
    return execution_id
