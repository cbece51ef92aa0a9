"""Workflow statistics (seed 003's totals, seed 004's per-workflow figures) and a
workflow's executions and events. Included before the workflows router, whose
`/workflows/{workflow_id}` would otherwise take `/workflows/statistics`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request

from api import statistics as stats
from api.deps import PrincipalDep, StateDep
from api.filters import DateFrom, DateTo
from api.pagination import PagingDep
from api.services.event_logs import event_log_page
from api.services.executions import execution_page
from api.state import AppState
from schemas.answers.common import CappedPage
from schemas.answers.executions import EventLog, ExecutionSummary
from schemas.answers.statistics import WorkflowStatistics, WorkspaceStatistics
from schemas.envelope import now
from schemas.errors import NotFound

router = APIRouter(prefix="/workflows", tags=["statistics"])


@router.get("/statistics", response_model=WorkspaceStatistics)
async def workspace_statistics(state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    """Seed 003: workflows by status and execution totals; `recent` is the last 24 hours."""
    ws = principal.workspace_id
    by_status = {
        r["status"]: r["n"]
        for r in await state.pool.fetch("SELECT status, count(*) AS n FROM workflows WHERE workspace_id = $1 GROUP BY status", ws)
    }
    total = await stats.all_time(state.pool, ws)
    moment = now()
    recent = await stats.window(state.pool, ws, moment - timedelta(hours=24), moment + timedelta(hours=1))
    running = await state.pool.fetchval(
        "SELECT count(*) FROM executions WHERE workspace_id = $1 AND status = 'running'", ws
    )
    return {
        "total_workflows": sum(by_status.values()),
        "active_workflows": by_status.get("active", 0),
        "draft_workflows": by_status.get("draft", 0),
        "paused_workflows": by_status.get("paused", 0),
        "inactive_workflows": by_status.get("inactive", 0),
        "scheduled_workflows": by_status.get("scheduled", 0),
        "archived_workflows": by_status.get("archived", 0),
        "total_executions": total.started,
        "recent_executions": recent.started,
        "successful_executions": total.completed,
        "failed_executions": total.failed,
        "cancelled_executions": total.cancelled,
        "running_executions": running,
        "success_rate": total.rate(total.completed),
        "failure_rate": total.rate(total.failed),
    }


async def _workflow_row(state: AppState, workspace_id: str, workflow_id: str) -> Any:
    row = await state.pool.fetchrow(
        "SELECT id, snapshot FROM workflows WHERE id = $1 AND workspace_id = $2", workflow_id, workspace_id
    )
    if row is None:
        raise NotFound(f"workflow {workflow_id} not found")
    return row


@router.get("/{workflow_id}/statistics", response_model=WorkflowStatistics, response_model_exclude_unset=True)
async def workflow_statistics(
    workflow_id: str,
    state: StateDep,
    principal: PrincipalDep,
    days: int = Query(default=30, ge=1, le=366),
    tz: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    """Seed 004's "Statistiques Workflow": totals, performance, usage by day, and per node."""
    ws = principal.workspace_id
    row = await _workflow_row(state, ws, workflow_id)
    zone = stats.zone(tz)
    figures = await stats.workflow_figures(state.pool, ws, workflow_id, tz)
    extremes = await state.pool.fetchrow(
        "SELECT fastest_ms, slowest_ms FROM workflow_stats WHERE workflow_id = $1", workflow_id
    )
    day = stats.today(zone)
    usage = await stats.by_day(state.pool, ws, day - timedelta(days=days - 1), day, zone, workflow_id)
    names = {n["id"]: n.get("name", "") for n in orjson.loads(row["snapshot"]).get("nodes", [])}
    nodes = [
        {
            "node_id": n["node_id"],
            "node_name": names.get(n["node_id"], ""),
            "node_type": n["node_type"],
            "in_current_version": n["node_id"] in names,
            "executions_count": n["executions"],
            "success_count": n["successes"],
            "failure_count": n["failures"],
            "success_rate": round(n["successes"] / n["executions"], 6) if n["executions"] else 0.0,
            "average_execution_time_ms": round(float(n["duration_ms"]) / n["executions"], 3) if n["executions"] else 0.0,
            "fastest_execution_ms": n["fastest_ms"],
            "slowest_execution_ms": n["slowest_ms"],
            "last_executed": n["last_executed_at"],
        }
        for n in await state.pool.fetch("SELECT * FROM node_stats WHERE workflow_id = $1 ORDER BY node_id", workflow_id)
    ]

    def seconds(value: float | None) -> float | None:
        return None if value is None else round(value / 1000, 6)

    return {
        "workflow_id": workflow_id,
        "statistics": figures,
        "performance": {
            "fastest_execution_seconds": seconds(extremes["fastest_ms"]) if extremes else None,
            "slowest_execution_seconds": seconds(extremes["slowest_ms"]) if extremes else None,
            "average_execution_time_seconds": figures["average_execution_time_seconds"],
        },
        "usage_by_day": usage,
        "nodes": nodes,
        "time_zone": zone.key,
    }


@router.get("/{workflow_id}/executions", response_model=CappedPage[ExecutionSummary])
async def workflow_executions(
    workflow_id: str,
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: str | None = Query(default=None, max_length=20),
    date_from: DateFrom | None = None,
    date_to: DateTo | None = None,
) -> dict[str, Any]:
    await _workflow_row(state, principal.workspace_id, workflow_id)
    return await execution_page(
        request, state, principal.workspace_id, workflow=workflow_id, status=status,
        date_from=date_from, date_to=date_to, paging=paging,
    )


@router.get("/{workflow_id}/events", response_model=CappedPage[EventLog])
async def workflow_events(
    workflow_id: str,
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    matched: bool | None = None,
) -> dict[str, Any]:
    """Events this workflow was evaluated against (matched or not, with the reason)."""
    await _workflow_row(state, principal.workspace_id, workflow_id)
    return await event_log_page(
        request, state, principal.workspace_id, workflow=workflow_id, matched=matched, paging=paging
    )
