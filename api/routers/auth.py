"""POST /auth/login, /auth/refresh and /auth/switch-workspace."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from fastapi import APIRouter, Request

from api import lockout
from api.audit import note_audit
from api.deps import PersonDep, StateDep
from api.security import hash_password, verify, verify_password
from api.services.tokens import principal_for, tokens
from schemas.answers.people import Tokens
from schemas.api import LoginRequest, RefreshRequest
from schemas.envelope import now
from schemas.errors import InvalidInput, NotFound, Unauthenticated
from schemas.security_api import SwitchWorkspace

router = APIRouter(prefix="/auth", tags=["auth"])

INVALID = "invalid credentials"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-password-of-anyone")


@router.post("/login", response_model=Tokens)
async def login(body: LoginRequest, request: Request, state: StateDep) -> dict[str, object]:
    identifier = lockout.normalized(body.email or body.username or "")
    if not identifier:
        raise InvalidInput("email or username is required", fields={"email": "required"})
    if "\x00" in identifier or "\x00" in (body.workspace_id or ""):
        # PostgreSQL text cannot hold it: refused here, not as a database error.
        raise InvalidInput("NUL characters are not allowed", fields={"email" if body.email else "username": "invalid"})
    # The audit log names the identifier tried (never the password).
    note_audit(request, actor_email=identifier)
    settings = state.settings
    policy = lockout.Policy(
        settings.login_max_failures,
        timedelta(seconds=settings.login_failure_window_seconds),
        timedelta(seconds=settings.login_lockout_seconds),
    )
    # Locked means refused, even with the right password: guessing must not go on.
    await lockout.refuse_if_locked(state.pool, identifier, now())
    row = await state.pool.fetchrow(
        "SELECT id, password_hash FROM users WHERE (email = $1 OR lower(username) = $1) AND is_active", identifier
    )
    # An unknown user costs the same hash check as a wrong password: timing tells nothing.
    ok = verify_password(row["password_hash"] if row else _dummy_hash(), body.password) and row is not None
    if not ok or row is None:
        member = await principal_for(state, row["id"], body.workspace_id) if row is not None else None
        if member is not None:
            # A failed login on a real account shows in that account's workspace.
            note_audit(request, workspace_id=member.workspace_id)
        await lockout.record_failure(state.pool, identifier, now(), policy)
        raise Unauthenticated(INVALID)
    await lockout.reset(state.pool, identifier)
    principal = await principal_for(state, row["id"], body.workspace_id)
    if principal is None:
        if body.workspace_id:
            raise NotFound("not a member of that workspace", fields={"workspace_id": "not a member of it"})
        raise Unauthenticated("this user belongs to no workspace")
    request.state.principal = principal  # the audit record's actor
    return tokens(state, principal)


@router.post("/refresh", response_model=Tokens)
async def refresh(body: RefreshRequest, request: Request, state: StateDep) -> dict[str, object]:
    claims = verify(state.settings.resolved_jwt_secret(), body.refresh_token, "refresh")
    # Same workspace as the token, if still a member: a client never lands in another one unasked.
    principal = await principal_for(state, claims.user_id, claims.workspace_id)
    if principal is None:
        raise Unauthenticated("no longer an active member of this workspace")
    request.state.principal = principal  # the audit record's actor
    return tokens(state, principal)


@router.post("/switch-workspace", response_model=Tokens)
async def switch_workspace(body: SwitchWorkspace, state: StateDep, principal: PersonDep) -> dict[str, object]:
    """New tokens to act in another workspace the caller belongs to."""
    switched = await principal_for(state, principal.user_id, body.workspace_id)
    if switched is None:
        raise NotFound(f"workspace {body.workspace_id} not found", fields={"workspace_id": "not a member of it"})
    return tokens(state, switched)
