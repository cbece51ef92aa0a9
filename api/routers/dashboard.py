"""Seed 002's dashboard: overview with trial information, execution statistics by
period with failure rates, workflow list with search and sorting, execution
history and credentials. Every figure comes from the projected counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request

from api import statistics as stats
from api.deps import PrincipalDep, StateDep
from api.filters import DateFrom, DateTo
from api.pagination import PagingDep, page_response
from api.services.executions import execution_page
from api.services.plans import PLAN_LIMITS, trial_info
from schemas.answers.common import CappedPage, Page
from schemas.answers.executions import ExecutionSummary
from schemas.answers.statistics import DashboardWorkflow, Overview, PeriodStats
from schemas.envelope import now
from schemas.errors import InvalidInput

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("/overview", response_model=Overview)
async def overview(state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    ws = principal.workspace_id
    workspace = await state.pool.fetchrow("SELECT id, name, plan, created_at FROM workspaces WHERE id = $1", ws)
    moment = now()
    month_start = datetime(moment.year, moment.month, 1, tzinfo=moment.tzinfo)
    this_month = await stats.window(state.pool, ws, month_start, moment + timedelta(hours=1))
    total = await stats.all_time(state.pool, ws)
    counts = await state.pool.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'active') AS active FROM workflows WHERE workspace_id = $1",
        ws,
    )
    plan = workspace["plan"] if workspace else "trial"
    limit = PLAN_LIMITS.get(plan)
    recent = await state.pool.fetch(
        "SELECT id, workflow_id, workflow_name, status, started_at, completed_at, duration_ms FROM executions"
        " WHERE workspace_id = $1 ORDER BY started_at DESC, id LIMIT 5",
        ws,
    )
    return {
        "workspace": {"id": ws, "name": workspace["name"] if workspace else None},
        "trial_info": trial_info(plan, workspace["created_at"], moment.date()) if workspace else None,
        "execution_limits": {
            "monthly_limit": limit,
            "used_this_month": this_month.started,
            "remaining": None if limit is None else max(0, limit - this_month.started),
        },
        "workflows": {"total": counts["total"], "active": counts["active"]},
        "executions": {
            "total": total.started,
            "this_month": this_month.started,
            "successful": total.completed,
            "failed": total.failed,
            "cancelled": total.cancelled,
            "success_rate": total.rate(total.completed),
            "failure_rate": total.rate(total.failed),
        },
        "recent_executions": [
            {
                "id": r["id"], "workflow": {"id": r["workflow_id"], "name": r["workflow_name"]}, "status": r["status"],
                "started_at": r["started_at"], "completed_at": r["completed_at"],
                "duration_seconds": r["duration_ms"] / 1000 if r["duration_ms"] is not None else None,
            }
            for r in recent
        ],
    }


@router.get("/stats", response_model=PeriodStats, response_model_exclude_unset=True)
async def period_stats(
    state: StateDep,
    principal: PrincipalDep,
    period: str = Query(default="7d", max_length=10),
    workflow: str | None = Query(default=None, max_length=100),
    tz: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    """Totals and a series for the period: hourly for 24h, daily otherwise (newest first)."""
    ws = principal.workspace_id
    zone = stats.zone(tz)
    _, end = stats.period_window(period)
    if period == "24h":
        last_hour = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        first_hour = last_hour - timedelta(hours=23)
        range_start, range_end = first_hour, last_hour + timedelta(hours=1)
        series = await stats.by_hour(state.pool, ws, first_hour, last_hour, workflow)
    else:
        last = stats.today(zone, end)
        first = last - timedelta(days=stats.PERIODS[period].days - 1)
        range_start, range_end = stats.day_start(first, zone), stats.day_start(last + timedelta(days=1), zone)
        series = await stats.by_day(state.pool, ws, first, last, zone, workflow)
    totals = await stats.window(state.pool, ws, range_start, range_end, workflow)
    top = await state.pool.fetch(
        "SELECT h.workflow_id, w.name, sum(h.started)::bigint AS executions, sum(h.failed)::bigint AS failures"
        " FROM execution_hourly_stats h LEFT JOIN workflows w ON w.id = h.workflow_id"
        " WHERE h.workspace_id = $1 AND h.hour >= $2 AND h.hour < $3 GROUP BY h.workflow_id, w.name"
        " ORDER BY executions DESC, h.workflow_id LIMIT 10",
        ws, range_start, range_end,
    )
    return {
        "period": period,
        "time_zone": zone.key,
        "from": range_start,
        "to": range_end,
        "totals": totals.as_dict(),
        "series": series,
        "top_workflows": [
            {"workflow_id": r["workflow_id"], "name": r["name"], "executions": r["executions"], "failures": r["failures"],
             "failure_rate": round(r["failures"] / r["executions"], 6) if r["executions"] else 0.0}
            for r in top
        ],
    }


_SORTS = {
    "name": "w.name",
    "created_at": "w.created_at",
    "updated_at": "w.updated_at",
    "status": "w.status",
    "executions": "COALESCE(s.started, 0)",
    "success_rate": "COALESCE(s.successes::float / NULLIF(s.successes + s.failures + s.cancellations, 0), 0)",
    "last_executed": "s.last_execution_at",
}


@router.get("/workflows", response_model=Page[DashboardWorkflow])
async def dashboard_workflows(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    search: str | None = Query(default=None, max_length=200),
    status: str | None = Query(default=None, max_length=20),
    sort: str = Query(default="updated_at", max_length=30),
    order: str = Query(default="desc", max_length=4),
) -> dict[str, Any]:
    sort_key = sort.lstrip("-")
    if sort_key not in _SORTS:
        raise InvalidInput("unknown sort", fields={"sort": f"one of {sorted(_SORTS)}"})
    if order.lower() not in ("asc", "desc"):
        raise InvalidInput("unknown order", fields={"order": "asc or desc"})
    direction = "DESC" if sort.startswith("-") or order.lower() == "desc" else "ASC"
    where = ["w.workspace_id = $1"]
    args: list[Any] = [principal.workspace_id]
    if status:
        args.append(status.lower())
        where.append(f"w.status = ${len(args)}")
    if search:
        args.append(f"%{search}%")
        where.append(f"(w.name ILIKE ${len(args)} OR w.description ILIKE ${len(args)})")
    clause = " AND ".join(where)
    count = await state.pool.fetchval(f"SELECT count(*) FROM workflows w WHERE {clause}", *args)
    args.extend([paging.page_size, paging.offset])
    rows = await state.pool.fetch(
        "SELECT w.id, w.name, w.description, w.status, w.trigger_type, w.version, w.created_at, w.updated_at,"
        " w.snapshot, s.started, s.successes, s.failures, s.cancellations, s.last_status, s.last_execution_at"
        f" FROM workflows w LEFT JOIN workflow_stats s ON s.workflow_id = w.id WHERE {clause}"
        f" ORDER BY {_SORTS[sort_key]} {direction} NULLS LAST, w.id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    results = []
    for r in rows:
        c = stats.Counts(r["started"] or 0, r["successes"] or 0, r["failures"] or 0, r["cancellations"] or 0)
        results.append({
            "id": r["id"], "name": r["name"], "description": r["description"], "status": r["status"],
            "trigger_type": r["trigger_type"], "version": r["version"],
            "nodes_count": len(orjson.loads(r["snapshot"]).get("nodes", [])),
            "executions_count": c.started, "success_rate": c.rate(c.completed), "failure_rate": c.rate(c.failed),
            "last_execution_status": r["last_status"], "last_executed": r["last_execution_at"],
            "created_at": r["created_at"], "updated_at": r["updated_at"],
        })
    return page_response(request, paging, count, results)


@router.get("/executions", response_model=CappedPage[ExecutionSummary])
async def dashboard_executions(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    workflow: str | None = Query(default=None, max_length=100),
    status: str | None = Query(default=None, max_length=20),
    date_from: DateFrom | None = None,
    date_to: DateTo | None = None,
) -> dict[str, Any]:
    return await execution_page(
        request, state, principal.workspace_id, workflow=workflow, status=status,
        date_from=date_from, date_to=date_to, paging=paging,
    )

