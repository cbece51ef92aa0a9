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
from api.services.executions import execution_detail
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
KINDS = {
    "email/send": "send_email",
    "whatsapp/send": "send_message",
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
        if action_type == "send_email":
            config.setdefault("recipient", "{{lead.email}}")
        if action_type == "send_message":
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
    detail = await execution_detail(state, principal.workspace_id, execution_id)
    steps = [s for s in detail["execution_details"] if s["node_type"] != "trigger"]
    last = steps[-1] if steps else None
    return {
        "execution_id": execution_id,
        "executionId": execution_id,
        "status": detail["status"],
        "started_at": detail["started_at"],
        "completed_at": detail["completed_at"],
        "result": last["output_data"] if last else None,
        "error": last["error"] if last else None,
        "attempts": len(steps),
    }


@router.get("/workflow/{workflow_id}/logs", response_model=Page[ConnectorLog])
async def workflow_logs(
    workflow_id: str, request: Request, state: StateDep, principal: PrincipalDep,
    paging: LogPagingDep,
) -> dict[str, Any]:
    key = await workflow_key(state, principal.workspace_id, workflow_id, "")
    count = await state.pool.fetchval(
        "SELECT count(*) FROM execution_steps s JOIN executions e ON e.id = s.execution_id"
        " WHERE e.workflow_id = $1 AND e.workspace_id = $2 AND s.node_type <> 'trigger'",
        key, principal.workspace_id,
    )
    if not count and not await state.pool.fetchval(
        "SELECT 1 FROM executions WHERE workflow_id = $1 AND workspace_id = $2 LIMIT 1", key, principal.workspace_id
    ):
        raise NotFound(f"no executions of workflow {workflow_id}")
    rows = await state.pool.fetch(
        "SELECT s.*, e.subject, e.nodes FROM execution_steps s JOIN executions e ON e.id = s.execution_id"
        " WHERE e.workflow_id = $1 AND e.workspace_id = $2 AND s.node_type <> 'trigger'"
        " ORDER BY s.seq DESC LIMIT $3 OFFSET $4",
        key, principal.workspace_id, paging.page_size, paging.offset,
    )
    logs = [
        {
            "execution_id": r["execution_id"],
            "workflow_id": workflow_id,
            "lead_id": r["subject"],
            "node_id": r["node_id"],
            "connector_type": (orjson.loads(r["input_data"]) if isinstance(r["input_data"], str) else r["input_data"] or {}).get("action_type", r["node_type"]),
            "status": "succeeded" if r["status"] == "completed" else r["status"],
            "attempt": r["attempt"],
            "started_at": r["started_at"],
            "completed_at": r["completed_at"],
            "duration_ms": r["duration_ms"],
            "error": orjson.loads(r["error"]) if isinstance(r["error"], str) else r["error"],
        }
        for r in rows
    ]
    return page_response(request, paging, count, logs)
