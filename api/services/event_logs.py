"""Event logs (what each accepted event matched) as the API lists them, from the projection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import Request

from api.filters import Where
from api.pagination import Paging, capped_page
from api.state import AppState


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _event_log(row: Any, decisions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    evaluations = _loads(row["evaluations"])
    decisions = decisions or []
    # Flow control may have started nothing for a match (throttled, refused).
    unstarted = {d["execution_id"] for d in decisions if d["decision"] in ("throttled", "refused")}
    return {
        "id": row["id"],
        "event_id": row["id"],
        "event_type": row["event_type"],
        "user_id": row["user_id"],
        "conversation_id": row["conversation_id"],
        "event_data": _loads(row["data"]),
        "matched_workflows": row["matched_workflows"],
        "triggered_executions": [e["execution_id"] for e in evaluations if e.get("execution_id") and e["execution_id"] not in unstarted],
        "evaluations": evaluations,
        "flow_decisions": decisions,
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
    paging: Paging,
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
        args=where.args, paging=paging, cap=state.settings.list_count_cap,
    )
    decisions = await flow_decisions(state, workspace_id, [r["id"] for r in rows])
    response["results"] = [_event_log(r, decisions.get(r["id"])) for r in rows]
    return response


async def flow_decisions(state: AppState, workspace_id: str, event_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Flow control's decisions on the starts these events matched, by event, in order."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not event_ids:
        return found
    rows = await state.pool.fetch(
        "SELECT * FROM flow_decisions WHERE workspace_id = $1 AND event_id = ANY($2::text[]) ORDER BY decided_at, decision DESC",
        workspace_id, event_ids,
    )
    for r in rows:
        found.setdefault(r["event_id"], []).append({
            "workflow_id": r["workflow_id"], "execution_id": r["execution_id"], "decision": r["decision"],
            "flow_key": r["flow_key"], "reason": r["reason"], "decided_at": r["decided_at"],
        })
    return found
