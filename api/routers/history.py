"""Event logs and action logs, and seed 003's names for the execution history
(`/workflow-executions`, `/workflow-action-executions`, `/trigger-event-logs`)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request

from api.deps import PrincipalDep, StateDep
from api.filters import DateFrom, DateTo
from api.pagination import PagingDep, capped_page
from api.services.event_logs import event_log_page
from api.services.executions import STATUSES, execution_detail, execution_page
from processors.matching.linking import action_node_id
from schemas.answers.common import CappedPage
from schemas.answers.executions import ActionLog, EventLog, ExecutionDetail, ExecutionSummary
from schemas.errors import InvalidInput

router = APIRouter(tags=["history"])

# Steps that call the outside world (or act on the contact): what "actions" means in seed 003.
ACTION_NODE_TYPES = ("action", "http_request", "database_query")


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


# -- event logs ---------------------------------------------------------------

@router.get("/event-logs", response_model=CappedPage[EventLog])
@router.get("/trigger-event-logs", response_model=CappedPage[EventLog])
async def list_event_logs(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    event_type: str | None = Query(default=None, max_length=100),
    user_id: str | None = Query(default=None, max_length=200),
    conversation_id: str | None = Query(default=None, max_length=200),
    workflow: str | None = Query(default=None, max_length=100),
    matched: bool | None = None,
    date_from: DateFrom | None = None,
    date_to: DateTo | None = None,
) -> dict[str, Any]:
    return await event_log_page(
        request, state, principal.workspace_id, event_type=event_type, user_id=user_id,
        conversation_id=conversation_id, workflow=workflow, matched=matched,
        date_from=date_from, date_to=date_to, paging=paging,
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
    paging: PagingDep,
    success: bool | None = None,
    action: str | None = Query(default=None, max_length=100, description="the action's id (seed 003's /actions) or its node id"),
    action_type: str | None = Query(default=None, max_length=100),
    execution: str | None = Query(default=None, max_length=100),
    workflow: str | None = Query(default=None, max_length=100),
) -> dict[str, Any]:
    """Every attempt of every action step, newest first."""
    where = ["s.workspace_id = $1", "s.node_type = ANY($2::text[])", "s.node_id NOT LIKE '\\_\\_%'"]
    args: list[Any] = [principal.workspace_id, list(ACTION_NODE_TYPES)]
    if success is not None:
        args.append("completed" if success else "failed")
        where.append(f"s.status = ${len(args)}")
    if action is not None:
        # An attached action runs as the node `action_node_id(id)`; a graph's own action node
        # has the id it was given. Either spelling finds its steps.
        args.append([action, action_node_id(action)])
        where.append(f"s.node_id = ANY(${len(args)}::text[])")
    for clause, value in (
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
        order="s.seq DESC, s.execution_id", args=args, paging=paging,
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
    paging: PagingDep,
    workflow: str | None = Query(default=None, max_length=100),
    status: str | None = Query(default=None, max_length=20),
    user: str | None = Query(default=None, max_length=200),
    created_at__gte: DateFrom | None = None,
    created_at__lte: DateTo | None = None,
) -> dict[str, Any]:
    """Seed 003 spells statuses in capitals (`COMPLETED`) and dates as `created_at__gte`."""
    if status is not None and status.lower() not in STATUSES:
        raise InvalidInput("unknown status", fields={"status": f"one of {sorted(s.upper() for s in STATUSES)}"})
    return await execution_page(
        request, state, principal.workspace_id, workflow=workflow, status=status, user=user,
        date_from=created_at__gte, date_to=created_at__lte, paging=paging,
    )


@router.get("/workflow-executions/{execution_id}", response_model=ExecutionDetail)
async def get_workflow_execution(execution_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    return await execution_detail(state, principal.workspace_id, execution_id)

