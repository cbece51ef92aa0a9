"""Event logs and action logs, and seed 003's names for the execution history
(`/workflow-executions`, `/workflow-action-executions`, `/trigger-event-logs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request

from api.deps import PrincipalDep, StateDep
from api.filters import Where
from api.pagination import MAX_PAGE_SIZE, capped_page
from api.routers import runs
from api.routers.executions import STATUSES, execution_detail, execution_page
from api.state import AppState
from schemas.answers.common import CappedPage
from schemas.answers.executions import ActionLog, EventLog, ExecutionDetail, ExecutionSummary
from schemas.answers.runs import CancelAnswer, RetryQueued
from schemas.errors import InvalidInput

router = APIRouter(tags=["history"])

# Steps that call the outside world (or act on the contact): what "actions" means in seed 003.
ACTION_NODE_TYPES = ("action", "http_request", "database_query")


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


# -- event logs ---------------------------------------------------------------


def _event_log(row: Any) -> dict[str, Any]:
    evaluations = _loads(row["evaluations"])
    return {
        "id": row["id"],
        "event_id": row["id"],
        "event_type": row["event_type"],
        "user_id": row["user_id"],
        "conversation_id": row["conversation_id"],
        "event_data": _loads(row["data"]),
        "matched_workflows": row["matched_workflows"],
        "triggered_executions": [e["execution_id"] for e in evaluations if e.get("execution_id")],
        "evaluations": evaluations,
        "processed": True,
        "received_at": row["received_at"],
        "created_at": row["received_at"],
    }


async def event_log_page(
    request: Request,
    state: AppState,
    workspace_id: str,
    *,
    event_type: str | None = None,
    user_id: str | None = None,
    conversation_id: str | None = None,
    workflow: str | None = None,
    matched: bool | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    page: int = 1,
    page_size: int = 20,
) -> dict[str, Any]:
    where = (
        Where(workspace_id)
        .eq("event_type", event_type)
        .eq("user_id", user_id)
        .eq("conversation_id", conversation_id)
        .add("received_at >= {}", date_from)
        .add("received_at <= {}", date_to)
    )
    if workflow is not None:
        probe: dict[str, Any] = {"workflow_id": workflow}
        if matched is not None:
            probe["matched"] = matched
        where.add("evaluations @> {}::jsonb", orjson.dumps([probe]).decode())
    elif matched is not None:
        where.clauses.append("matched_workflows > 0" if matched else "matched_workflows = 0")
    response, rows = await capped_page(
        request, state.pool, select="*", source=f"FROM event_logs WHERE {where.sql}", order="received_at DESC, id",
        args=where.args, page=page, page_size=page_size, cap=state.settings.list_count_cap,
    )
    response["results"] = [_event_log(r) for r in rows]
    return response


@router.get("/event-logs", response_model=CappedPage[EventLog])
@router.get("/trigger-event-logs", response_model=CappedPage[EventLog])
async def list_event_logs(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    event_type: str | None = Query(default=None, max_length=100),
    user_id: str | None = Query(default=None, max_length=200),
    conversation_id: str | None = Query(default=None, max_length=200),
    workflow: str | None = Query(default=None, max_length=100),
    matched: bool | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    page: int = Query(default=1, ge=1, le=100000),
    page_size: int = Query(default=20, ge=1, le=MAX_PAGE_SIZE),
) -> dict[str, Any]:
    return await event_log_page(
        request, state, principal.workspace_id, event_type=event_type, user_id=user_id,
        conversation_id=conversation_id, workflow=workflow, matched=matched,
        date_from=date_from, date_to=date_to, page=page, page_size=page_size,
    )


# -- action logs ----------------------------------------------------------------


def _action_log(row: Any) -> dict[str, Any]:
    node_input = _loads(row["input_data"]) or {}
    duration = row["duration_ms"]
    node = (_loads(row["nodes"]) or {}).get(row["node_id"], {})
    return {
        "id": f"{row['execution_id']}:{row['node_id']}:{row['attempt']}:{row['iteration']}",
        "execution": row["execution_id"],
        "execution_id": row["execution_id"],
        "workflow": {"id": row["workflow_id"], "name": row["workflow_name"]},
        "action": row["node_id"],
        "action_name": node.get("name", ""),
        "action_type": node_input.get("action_type") or row["node_type"],
        "node_type": row["node_type"],
        "attempt": row["attempt"],
        "iteration": None if row["iteration"] < 0 else row["iteration"],
        "status": row["status"],
        "success": row["status"] == "completed" if row["status"] in ("completed", "failed") else None,
        "input_data": node_input,
        "output_data": _loads(row["output_data"]),
        "error": _loads(row["error"]),
        "started_at": row["started_at"],
        "completed_at": row["completed_at"],
        "executed_at": row["completed_at"] or row["scheduled_at"],
        "duration_ms": duration,
    }


@router.get("/action-logs", response_model=CappedPage[ActionLog])
@router.get("/workflow-action-executions", response_model=CappedPage[ActionLog])
async def list_action_logs(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    success: bool | None = None,
    action: str | None = Query(default=None, max_length=100, description="the action's node id"),
    action_type: str | None = Query(default=None, max_length=100),
    execution: str | None = Query(default=None, max_length=100),
    workflow: str | None = Query(default=None, max_length=100),
    page: int = Query(default=1, ge=1, le=100000),
    page_size: int = Query(default=20, ge=1, le=MAX_PAGE_SIZE),
) -> dict[str, Any]:
    """Every attempt of every action step, newest first."""
    where = ["s.workspace_id = $1", "s.node_type = ANY($2::text[])", "s.node_id NOT LIKE '\\_\\_%'"]
    args: list[Any] = [principal.workspace_id, list(ACTION_NODE_TYPES)]
    if success is not None:
        args.append("completed" if success else "failed")
        where.append(f"s.status = ${len(args)}")
    for clause, value in (
        ("s.node_id = ${}", action),
        ("s.input_data->>'action_type' = ${}", action_type),
        ("s.execution_id = ${}", execution),
        ("e.workflow_id = ${}", workflow),
    ):
        if value is not None:
            args.append(value)
            where.append(clause.format(len(args)))
    clause = " AND ".join(where)
    response, rows = await capped_page(
        request, state.pool, select="s.*, e.workflow_id, e.workflow_name, e.nodes",
        source=f"FROM execution_steps s JOIN executions e ON e.id = s.execution_id WHERE {clause}",
        order="s.seq DESC, s.execution_id", args=args, page=page, page_size=page_size,
        cap=state.settings.list_count_cap,
    )
    response["results"] = [_action_log(r) for r in rows]
    return response


# -- seed 003's execution paths ---------------------------------------------------


@router.get("/workflow-executions", response_model=CappedPage[ExecutionSummary])
async def list_workflow_executions(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    workflow: str | None = Query(default=None, max_length=100),
    status: str | None = Query(default=None, max_length=20),
    user: str | None = Query(default=None, max_length=200),
    created_at__gte: datetime | None = None,
    created_at__lte: datetime | None = None,
    page: int = Query(default=1, ge=1, le=100000),
    page_size: int = Query(default=20, ge=1, le=MAX_PAGE_SIZE),
) -> dict[str, Any]:
    """Seed 003 spells statuses in capitals (`COMPLETED`) and dates as `created_at__gte`."""
    if status is not None and status.lower() not in STATUSES:
        raise InvalidInput("unknown status", fields={"status": f"one of {sorted(s.upper() for s in STATUSES)}"})
    return await execution_page(
        request, state, principal.workspace_id, workflow=workflow, status=status, user=user,
        date_from=created_at__gte, date_to=created_at__lte, page=page, page_size=page_size,
    )


@router.get("/workflow-executions/{execution_id}", response_model=ExecutionDetail)
async def get_workflow_execution(execution_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    return await execution_detail(state, principal.workspace_id, execution_id)


router.add_api_route(
    "/workflow-executions/{execution_id}/cancel", runs.cancel_execution, methods=["POST"],
    response_model=CancelAnswer, responses=runs.CANCEL_RESPONSES,
)
router.add_api_route(
    "/workflow-executions/{execution_id}/retry", runs.retry_execution, methods=["POST"], status_code=202,
    response_model=RetryQueued,
)
