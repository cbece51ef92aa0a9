"""POST /auth/login and /auth/refresh."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.audit import note_audit
from api.deps import StateDep
from api.security import Principal, issue, verify, verify_password
from schemas.api import LoginRequest, RefreshRequest
from schemas.errors import InvalidInput, Unauthenticated

router = APIRouter(prefix="/auth", tags=["auth"])


def _tokens(state: StateDep, principal: Principal) -> dict[str, object]:
    settings = state.settings
    secret = settings.resolved_jwt_secret()
    return {
        "access_token": issue(secret, principal, "access", settings.jwt_access_ttl_seconds),
        "refresh_token": issue(secret, principal, "refresh", settings.jwt_refresh_ttl_seconds),
        "token_type": "bearer",
        "expires_in": settings.jwt_access_ttl_seconds,
    }


async def _principal_for(state: StateDep, user_id: str) -> Principal | None:
    row = await state.pool.fetchrow(
        "SELECT u.id, u.email, m.workspace_id, m.role FROM users u"
        " JOIN memberships m ON m.user_id = u.id WHERE u.id = $1 AND u.is_active"
        " ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.workspace_id"
        " LIMIT 1",
        user_id,
    )
    if row is None:
        return None
    return Principal(row["id"], row["workspace_id"], row["role"], row["email"])


@router.post("/login")
async def login(body: LoginRequest, request: Request, state: StateDep) -> dict[str, object]:
    identifier = body.email or body.username
    if not identifier:
        raise InvalidInput("email or username is required", fields={"email": "required"})
    # The audit log names the identifier tried (never the password).
    note_audit(request, actor_email=identifier)
    row = await state.pool.fetchrow(
        "SELECT id, password_hash FROM users WHERE (email = lower($1) OR username = $1) AND is_active",
        identifier,
    )
    principal = await _principal_for(state, row["id"]) if row is not None else None
    if row is None or not verify_password(row["password_hash"], body.password):
        if principal is not None:
            # A failed login on a real account shows in that account's workspace.
            note_audit(request, workspace_id=principal.workspace_id)
        raise Unauthenticated("invalid credentials")
    if principal is None:
        raise Unauthenticated("this user belongs to no workspace")
    request.state.principal = principal  # the audit record's actor
    return _tokens(state, principal)


@router.post("/refresh")
async def refresh(body: RefreshRequest, request: Request, state: StateDep) -> dict[str, object]:
    claims = verify(state.settings.resolved_jwt_secret(), body.refresh_token, "refresh")
    principal = await _principal_for(state, claims.user_id)
    if principal is None:
        raise Unauthenticated("user no longer active")
    request.state.principal = principal  # the audit record's actor
    return _tokens(state, principal)
