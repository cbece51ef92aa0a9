"""A workspace's members as the API shows them (workspaces and seed 002's users module)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.pagination import Paging, page_response
from api.people import avatar_color, initials
from api.security import Principal
from api.state import AppState


def member_view(row: Any, principal: Principal) -> dict[str, Any]:
    first, last = row["first_name"], row["last_name"]
    return {
        "id": row["id"],
        "user_id": row["id"],
        "email": row["email"],
        "username": row["username"],
        "first_name": first,
        "last_name": last,
        "full_name": " ".join(p for p in (first, last) if p) or row["username"],
        "initials": initials(first, last, row["username"]),
        "avatar_color": avatar_color(row["id"], row["avatar_color"]),
        "role": row["role"],
        "is_active": row["is_active"],
        "is_you": row["id"] == principal.user_id,
    }


# The member rows, by workspace ($1); callers add their own filter or order.
MEMBERS = (
    "SELECT u.id, u.email, u.username, u.first_name, u.last_name, u.is_active, m.role,"
    " u.profile->>'avatar_color' AS avatar_color FROM memberships m JOIN users u ON u.id = m.user_id"
    " WHERE m.workspace_id = $1"
)


async def members_page(request: Request, state: AppState, principal: Principal, paging: Paging) -> dict[str, Any]:
    ws = principal.workspace_id
    count = await state.pool.fetchval("SELECT count(*) FROM memberships WHERE workspace_id = $1", ws)
    rows = await state.pool.fetch(
        f"{MEMBERS} ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'editor' THEN 2 ELSE 3 END,"
        " u.email LIMIT $2 OFFSET $3",
        ws, paging.page_size, paging.offset,
    )
    return page_response(request, paging, count, [member_view(r, principal) for r in rows])
