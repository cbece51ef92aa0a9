"""Seed 001's connector endpoints: run one connector for a lead, then follow it.

Each call is an ordinary execution of a one-node workflow (trigger -> the
connector), so it runs on the same engine, with the same retries, history
and statistics as any other.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import ORJSONResponse

from api.deps import PrincipalDep, StateDep, WriterDep
from api.pagination import LogPagingDep, page_response
from api.services import connector_logs
from api.services.connector_logs import connector_status
from api.services.runs import start_run
from schemas.answers.automation import ConnectorLog, ConnectorQueued, ConnectorStatus
from schemas.answers.common import Page
from schemas.api import AutomationRun
from schemas.envelope import deterministic_id, now
from schemas.errors import NotFound
from schemas.records import ExecutionStarted
from schemas.workflow import Edge, Node, NodeType, TriggerType, WorkflowSnapshot, WorkflowStatus

router = APIRouter(prefix="/automation", tags=["automation"])

# Path segment -> the action type the node runs.
# An explicit WhatsApp send is the `whatsapp` connector, which needs a WhatsApp integration
# (AUTO_004 without one, like email and Sheets). Seed 003's `send_message` would answer
# `sent` with nothing delivered: a reply in a conversation is the MESSAGE_SENT event even
# without an integration, a WhatsApp message to a lead is not.
KINDS = {
    "email/send": "send_email",
    "whatsapp/send": "whatsapp",
    "google-sheets/process": "google_sheets",
    "code/execute": "custom_code",
}


async def _lead(state: Any, workspace_id: str, lead_id: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """The lead as the contacts projection knows it, overlaid with what the caller sent."""
    row = await state.pool.fetchrow("SELECT profile FROM contacts WHERE workspace_id = $1 AND id = $2", workspace_id, lead_id)
    profile: dict[str, Any] = {}
    if row is not None:
        raw = row["profile"]
        profile = orjson.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
    profile.update(given or {})
    profile["id"] = lead_id
    return profile


async def workflow_key(state: Any, workspace_id: str, given: str | None, action_type: str) -> str:
    """The workflow id a run counts under. Seed 001's `workflowId` is free text: a workflow of
    this workspace is that workflow; any other value is a label of this workspace only, so a
    value naming another workspace's workflow never adds to that workflow's history or figures."""
    if given is None:
        return deterministic_id("automation", workspace_id, action_type)
    owned = await state.pool.fetchval("SELECT 1 FROM workflows WHERE id = $1 AND workspace_id = $2", given, workspace_id)
    return given if owned else deterministic_id("automation", workspace_id, "label", given)


def _run(kind: str) -> Any:
    action_type = KINDS[kind]

    async def run(body: AutomationRun, state: StateDep, principal: WriterDep) -> ORJSONResponse:
        lead = await _lead(state, principal.workspace_id, body.lead_id, body.lead)
        node_id = body.node_id or action_type
        workflow_id = await workflow_key(state, principal.workspace_id, body.workflow_id, action_type)
        stamp = now()
        config = {**body.config, "action_type": action_type}
        # The one-node workflow has default settings, so the node retries as its own config
        # says or not at all; written into the node, its logs say so (seed 001's max_retries)
        # whatever workflow id the run is counted under.
        if "retry" not in config:
            config.setdefault("max_retries", 0)
        if action_type == "send_email":
            config.setdefault("recipient", "{{lead.email}}")
        if action_type == "whatsapp":
            config.setdefault("to", "{{lead.phone}}")
        workflow = WorkflowSnapshot(
            id=workflow_id, workspace_id=principal.workspace_id, version=1, name=f"automation {kind}",
            status=WorkflowStatus.ACTIVE, trigger_type=TriggerType.API_CALL,
            nodes=(Node(id="trigger", node_type=NodeType.TRIGGER), Node(id=node_id, name=kind, node_type=NodeType.ACTION, config=config)),
            edges=(Edge(id="trigger->node", source_node="trigger", target_node=node_id),),
            created_at=stamp, updated_at=stamp,
        )
        execution_id = str(uuid.uuid4())
        context = {
            "event": {"id": execution_id, "type": "automation", "data": body.config, "timestamp": stamp.isoformat()},
            "user": lead, "lead": lead, "conversation": {}, "input_data": {"lead_id": body.lead_id},
        }
        started = ExecutionStarted(
            execution_id=execution_id, workflow=workflow, trigger_type="api_call", subject=body.lead_id,
            context=context, performed_by=principal.email,
        )
        await start_run(state, principal, started)
        return ORJSONResponse(
            {"success": True, "execution_id": execution_id, "executionId": execution_id, "status": "queued", "connector": action_type},
            status_code=202,
        )

    run.__name__ = f"run_{action_type}"
    return run


for _kind in KINDS:
    router.add_api_route(f"/{_kind}", _run(_kind), methods=["POST"], status_code=202, response_model=ConnectorQueued)


@router.get("/execution/{execution_id}/status", response_model=ConnectorStatus)
async def execution_status(execution_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    return await connector_status(state, principal.workspace_id, execution_id)


@router.get("/workflow/{workflow_id}/logs", response_model=Page[ConnectorLog])
async def workflow_logs(
    workflow_id: str, request: Request, state: StateDep, principal: PrincipalDep,
    paging: LogPagingDep,
) -> dict[str, Any]:
    key = await workflow_key(state, principal.workspace_id, workflow_id, "")
    found = await connector_logs.workflow_logs(state, principal.workspace_id, key, workflow_id, paging)
    if found is None:
        raise NotFound(f"no executions of workflow {workflow_id}")
    count, logs = found
    return page_response(request, paging, count, logs)
