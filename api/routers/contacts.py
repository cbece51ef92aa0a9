"""Contacts: each subject's profile as built from its events (read-only)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request

from api.deps import PrincipalDep, StateDep
from api.pagination import PagingDep, page_response
from schemas.answers.common import Page
from schemas.answers.data import Contact
from schemas.errors import NotFound

router = APIRouter(prefix="/contacts", tags=["contacts"])


def _view(row: Any) -> dict[str, Any]:
    profile = row["profile"]
    return {
        "id": row["id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "tags": list(row["tags"]),
        "conversation_status": row["conversation_status"],
        "profile": orjson.loads(profile) if isinstance(profile, str | bytes) else profile,
        "events_count": row["events_count"],
        "last_event_type": row["last_event_type"],
        "last_event_at": row["last_event_at"],
    }


@router.get("", response_model=Page[Contact])
async def list_contacts(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    tag: str | None = Query(default=None, max_length=100),
    search: str | None = Query(default=None, max_length=200),
) -> dict[str, Any]:
    where: list[str] = ["workspace_id = $1"]
    args: list[Any] = [principal.workspace_id]
    if tag:
        args.append(tag)
        where.append(f"${len(args)} = ANY(tags)")
    if search:
        args.append(f"%{search.lower()}%")
        where.append(f"(lower(coalesce(email, '')) LIKE ${len(args)} OR lower(id) LIKE ${len(args)})")
    sql_where = " AND ".join(where)
    count = await state.pool.fetchval(f"SELECT count(*) FROM contacts WHERE {sql_where}", *args)
    args.extend([paging.page_size, paging.offset])
    rows = await state.pool.fetch(
        f"SELECT * FROM contacts WHERE {sql_where} ORDER BY last_event_at DESC NULLS LAST, id"
        f" LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return page_response(request, paging, count, [_view(r) for r in rows])


@router.get("/{contact_id}", response_model=Contact)
async def get_contact(contact_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    row = await state.pool.fetchrow(
        "SELECT * FROM contacts WHERE workspace_id = $1 AND id = $2", principal.workspace_id, contact_id
    )
    if row is None:
        raise NotFound(f"contact {contact_id} not found")
    return _view(row)
