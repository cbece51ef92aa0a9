"""GET /audit-logs: who did what through the API, from the `audit_logs` projection.

Owners and admins only. A workspace sees its own entries; any other id answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from api.deps import PrincipalDep, StateDep
from api.filters import DateFrom, DateTo, Where
from api.pagination import PagingDep, page_response
from api.security import Principal
from schemas.answers.audit import AuditEntry
from schemas.answers.common import Page
from schemas.errors import Forbidden, NotFound
from schemas.records import AuditOutcome

router = APIRouter(prefix="/audit-logs", tags=["audit"])

AUDITOR_ROLES = frozenset({"owner", "admin"})


def get_auditor(principal: PrincipalDep) -> Principal:
    if principal.role not in AUDITOR_ROLES:
        raise Forbidden(f"role {principal.role} cannot read the audit log (owners and admins can)")
    return principal


AuditorDep = Annotated[Principal, Depends(get_auditor)]


def _entry(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "occurred_at": row["occurred_at"],
        "created_at": row["occurred_at"],
        "actor": {
            "type": row["actor_type"],
            "user_id": row["actor_user_id"],
            "email": row["actor_email"],
            "api_key_id": row["actor_api_key_id"],
        },
        "action": row["action"],
        "method": row["method"],
        "route": row["route"],
        "resource_type": row["resource_type"],
        "resource_id": row["resource_id"],
        "status_code": row["status_code"],
        "outcome": row["outcome"],
        "client_ip": row["client_ip"],
        "user_agent": row["user_agent"],
        "request_id": row["request_id"],
        "duration_ms": row["duration_ms"],
        "changed_fields": list(row["changed_fields"]),
    }


@router.get("", response_model=Page[AuditEntry])
async def list_audit_logs(
    request: Request,
    state: StateDep,
    principal: AuditorDep,
    paging: PagingDep,
    actor: str | None = Query(default=None, max_length=320, description="a user id or the actor's email"),
    user_id: str | None = Query(default=None, max_length=200),
    api_key_id: str | None = Query(default=None, max_length=200),
    action: str | None = Query(default=None, max_length=200, description="e.g. workflows.update"),
    resource_type: str | None = Query(default=None, max_length=100),
    resource_id: str | None = Query(default=None, max_length=200),
    outcome: AuditOutcome | None = None,
    method: Literal["POST", "PUT", "PATCH", "DELETE"] | None = None,
    status_code: int | None = Query(default=None, ge=100, le=599),
    created_at__gte: DateFrom | None = None,
    created_at__lte: DateTo | None = None,
    search: str | None = Query(default=None, max_length=200),
) -> dict[str, Any]:
    """Newest first. `search` looks in the action, route, actor email and resource id."""
    where = (
        Where(principal.workspace_id)
        .add("(actor_user_id = {0} OR lower(actor_email) = lower({0}))", actor)
        .eq("actor_user_id", user_id)
        .eq("actor_api_key_id", api_key_id)
        .eq("action", action)
        .eq("resource_type", resource_type)
        .eq("resource_id", resource_id)
        .eq("outcome", outcome)
        .eq("method", method)
        .eq("status_code", status_code)
        .add("occurred_at >= {}", created_at__gte)
        .add("occurred_at <= {}", created_at__lte)
        .search(search, "action", "route", "actor_email", "resource_id")
    )
    clause, args = where.sql, where.args
    count = await state.pool.fetchval(f"SELECT count(*) FROM audit_logs WHERE {clause}", *args)
    args.extend([paging.page_size, paging.offset])
    rows = await state.pool.fetch(
        f"SELECT * FROM audit_logs WHERE {clause} ORDER BY occurred_at DESC, id"
        f" LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return page_response(request, paging, count, [_entry(r) for r in rows])


@router.get("/{entry_id}", response_model=AuditEntry)
async def get_audit_log(entry_id: Annotated[str, Path(max_length=200)], state: StateDep, principal: AuditorDep) -> dict[str, Any]:
    row = await state.pool.fetchrow(
        "SELECT * FROM audit_logs WHERE id = $1 AND workspace_id = $2", entry_id, principal.workspace_id
    )
    if row is None:
        raise NotFound(f"audit log entry {entry_id} not found")
    return _entry(row)
