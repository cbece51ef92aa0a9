"""An accepted webhook call's execution start, derived from its call record. Pure.

The API writes one record per webhook call (fluxo.webhook.called.v1); a call it accepted
carries `start`, and the matcher makes the `execution.started` from it here. The
execution id is the call record's (derived from the caller's Idempotency-Key when there
is one), so a re-sent call starts nothing new: the executor refuses a second start of an
execution it knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.matching.linking import compile_actions, webhook_trigger
from schemas.records import ActionDefined, ExecutionStarted, WebhookCalled
from schemas.workflow import WorkflowSnapshot, WorkflowStatus


def webhook_context(
    execution_id: str, data: dict[str, Any], received: datetime, webhook: dict[str, Any], workflow: WorkflowSnapshot,
) -> dict[str, Any]:
    """What a webhook-started execution's templates and conditions see. A call to an
    attached webhook trigger's own webhook (api/services/trigger_hooks.py) says so in
    `context.trigger`."""
    context: dict[str, Any] = {
        "event": {"id": execution_id, "type": "webhook", "data": data, "timestamp": received.isoformat()},
        "user": data.get("user") if isinstance(data.get("user"), dict) else {},
        "conversation": {},
        "input_data": data,
        "webhook": webhook,
    }
    linked = webhook_trigger(workflow, webhook.get("id"))
    if linked is not None:
        context["trigger"] = {"id": linked.trigger_id, "type": "webhook", "priority": linked.priority}
    return context


def start_of_call(
    call: WebhookCalled, workspace_id: str, workflow: WorkflowSnapshot | None, actions: Mapping[str, ActionDefined],
) -> ExecutionStarted | None:
    """The execution an accepted call starts, or None (no start asked, or no active workflow
    of that workspace to start any more: it was deactivated or deleted in between)."""
    if call.start is None or call.execution_id is None:
        return None
    if workflow is None or workflow.workspace_id != workspace_id or workflow.status != WorkflowStatus.ACTIVE:
        return None
    webhook = {
        "id": call.webhook_id, "method": call.method, "query": call.query,
        "content_type": call.start.content_type, "test": call.test,
    }
    return ExecutionStarted(
        execution_id=call.execution_id,
        # Pinned: the attached actions as they are now, compiled into action nodes.
        workflow=compile_actions(workflow, actions),
        trigger_type="webhook",
        context=webhook_context(call.execution_id, call.start.input, call.received_at, webhook, workflow),
        performed_by="webhook",
    )
