"""Executions as the API lists and shows them, read from the projection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import Request

from api.filters import Where
from api.pagination import Paging, capped_page
from api.state import AppState
from schemas.errors import InvalidInput, NotFound

STATUSES = {"queued", "running", "completed", "failed", "cancelled"}


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def summary(row: Any) -> dict[str, Any]:
    duration = row["duration_ms"]
    return {
        "id": row["id"],
        "tracking_id": row["id"],
        "workflow": {"id": row["workflow_id"], "name": row["workflow_name"], "version": row["workflow_version"]},
        "status": row["status"],
        "started_at": row["started_at"],
        "completed_at": row["completed_at"],
        "duration_seconds": duration / 1000 if duration is not None else None,
        "trigger_type": row["trigger_type"],
        "event_id": row["event_id"],
        "user_id": row["subject"],
        "input_data": _loads(row["input_data"]),
        "output_data": _loads(row["output_data"]),
        "nodes_executed": row["nodes_executed"],
        "nodes_success": row["nodes_success"],
        "nodes_failed": row["nodes_failed"],
        "execution_path": _loads(row["execution_path"]),
        "performed_by": row["performed_by"],
        "error_message": row["error_message"],
        "failed_node": row["failed_node"],
        "retry_of": row["retry_of"],
        "resume_from": row["resume_from"],
        "cancel_reason": row["cancel_reason"],
        "trigger": _trigger_of(row),
        # Journeys: when a goal event converted it (settings.goal), even after it ended.
        "converted_at": row.get("converted_at"),
    }


def _trigger_of(row: Any) -> dict[str, Any] | None:
    """The attached (seed 003) trigger the execution came through, as its context says."""
    context = _loads(row.get("context"))
    trigger = context.get("trigger") if isinstance(context, dict) else None
    return trigger if isinstance(trigger, dict) and trigger.get("id") else None


async def execution_page(
    request: Request,
    state: AppState,
    workspace_id: str,
    *,
    workflow: str | None = None,
    status: str | None = None,
    user: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    paging: Paging,
) -> dict[str, Any]:
    """One page of executions, newest first; every list of executions goes through here."""
    if status is not None and status.lower() not in STATUSES:
        raise InvalidInput("unknown status", fields={"status": f"one of {sorted(STATUSES)}"})
    where = (
        Where(workspace_id)
        .eq("workflow_id", workflow)
        .eq("status", status.lower() if status else None)
        .eq("subject", user)
        .add("started_at >= {}", date_from)
        .add("started_at <= {}", date_to)
    )
    response, rows = await capped_page(
        request, state.pool, select="*", source=f"FROM executions WHERE {where.sql}", order="started_at DESC, id",
        args=where.args, paging=paging, cap=state.settings.list_count_cap,
    )
    response["results"] = [summary(r) for r in rows]
    return response


async def execution_detail(state: AppState, workspace_id: str, execution_id: str) -> dict[str, Any]:
    row = await state.pool.fetchrow(
        "SELECT * FROM executions WHERE id = $1 AND workspace_id = $2", execution_id, workspace_id
    )
    if row is None:
        raise NotFound(f"execution {execution_id} not found")
    steps = await state.pool.fetch(
        "SELECT * FROM execution_steps WHERE execution_id = $1 ORDER BY seq, attempt", execution_id
    )
    nodes = _loads(row["nodes"])
    details = []
    for step in steps:
        duration = step["duration_ms"]
        details.append(
            {
                "node_id": step["node_id"],
                "node_name": nodes.get(step["node_id"], {}).get("name", ""),
                "node_type": step["node_type"],
                "attempt": step["attempt"],
                "iteration": None if step["iteration"] < 0 else step["iteration"],
                "status": step["status"],
                "retry_at": step["retry_at"],
                "started_at": step["started_at"],
                "completed_at": step["completed_at"],
                "duration_seconds": duration / 1000 if duration is not None else None,
                "input_data": _loads(step["input_data"]),
                "output_data": _loads(step["output_data"]),
                "error": _loads(step["error"]),
            }
        )
    view = summary(row)
    view["retried_by"] = [
        r["id"] for r in await state.pool.fetch(
            "SELECT id FROM executions WHERE retry_of = $1 AND workspace_id = $2 ORDER BY started_at",
            execution_id, workspace_id,
        )
    ]
    view["failure_notified"] = row["failure_notified"]
    timed = [d["duration_seconds"] for d in details if d["duration_seconds"] is not None]
    view["execution_details"] = details
    view["performance_metrics"] = {
        "total_nodes": len(nodes),
        "execution_path_length": len(view["execution_path"] or []),
        "average_node_execution_time": sum(timed) / len(timed) if timed else 0.0,
        "api_calls_count": sum(1 for d in details if d["node_type"] in ("action", "http_request")),
    }
    return view
