"""Who a user acts as in a workspace, and the tokens that say so (login, refresh, switch, invitations)."""

from __future__ import annotations

from api.security import Principal, issue
from api.state import AppState


def tokens(state: AppState, principal: Principal) -> dict[str, object]:
    settings = state.settings
    secret = settings.resolved_jwt_secret()
    return {
        "access_token": issue(secret, principal, "access", settings.jwt_access_ttl_seconds),
        "refresh_token": issue(secret, principal, "refresh", settings.jwt_refresh_ttl_seconds),
        "token_type": "bearer",
        "expires_in": settings.jwt_access_ttl_seconds,
        "workspace_id": principal.workspace_id,
        "role": principal.role,
    }


async def principal_for(state: AppState, user_id: str, workspace_id: str | None = None) -> Principal | None:
    """The user acting in `workspace_id`, or by default in their home workspace (else their
    highest role's). None when they are not (or no longer) a member there."""
    row = await state.pool.fetchrow(
        "SELECT u.id, u.email, m.workspace_id, m.role FROM users u"
        " JOIN memberships m ON m.user_id = u.id WHERE u.id = $1 AND u.is_active"
        " AND ($2::text IS NULL OR m.workspace_id = $2)"
        " ORDER BY m.workspace_id = u.home_workspace_id DESC NULLS LAST,"
        " CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.workspace_id"
        " LIMIT 1",
        user_id, workspace_id,
    )
    if row is None:
        return None
    return Principal(row["id"], row["workspace_id"], row["role"], row["email"])
