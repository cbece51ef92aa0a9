"""Workspaces and their members (seed 002): GET/POST /workspaces, GET /workspaces/{id},
GET/POST /workspaces/{id}/members, PATCH/DELETE /workspaces/{id}/members/{user_id},
GET /workspaces/{id}/invitations (the pending ones), POST /invitations/{token}/accept.

Members are managed in the workspace the caller is signed in to (POST
/auth/switch-workspace to act in another one); any other id answers 404. Only owners
and admins manage members, an admin neither grants nor removes the owner role, and the
last owner stays. Someone without an account gets an invitation whose token is
answered once to the inviter; accepting it creates the account.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Path, Request, Response

from api import keys
from api.deps import ManagerDep, PersonDep, PrincipalDep, StateDep
from api.pagination import PagingDep, page_response
from api.people import (
    NEW_USERS_LOCK,
    change_user,
    locked,
    publish_definition,
    user_key,
    with_membership,
)
from api.security import Principal, hash_password
from api.services.members import MEMBERS, member_view, members_page
from api.services.plans import plan_and_limits
from api.services.tokens import principal_for, tokens
from api.state import AppState
from schemas.answers.common import Page
from schemas.answers.people import (
    InvitationAccepted,
    Member,
    MemberAdded,
    PendingInvitation,
    Workspace,
)
from schemas.envelope import new_id, now
from schemas.errors import Conflict, Forbidden, NotFound
from schemas.records import (
    InvitationDefined,
    Membership,
    Role,
    UserDefined,
    UserProfile,
    WorkspaceDefined,
)
from schemas.security_api import (
    ID_PATTERN,
    InvitationAccept,
    MemberInvite,
    MemberRoleChange,
    WorkspaceCreate,
)

router = APIRouter(tags=["workspaces"])

WorkspaceId = Path(min_length=1, max_length=100, pattern=ID_PATTERN)
UserId = Path(min_length=1, max_length=100, pattern=ID_PATTERN)


async def _workspace_view(state: AppState, row: Any, principal: Principal) -> dict[str, Any]:
    members = await state.pool.fetchval("SELECT count(*) FROM memberships WHERE workspace_id = $1", row["id"])
    return {
        "id": row["id"],
        "name": row["name"],
        "role": row["role"],
        "is_current": row["id"] == principal.workspace_id,
        "members_count": members,
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        **await plan_and_limits(state, row),
    }


def _current(principal: Principal, workspace_id: str) -> None:
    # Only the workspace signed in to: another id, even one the caller belongs to, is not here.
    if workspace_id != principal.workspace_id:
        raise NotFound(f"workspace {workspace_id} not found", fields={"id": "not the workspace signed in to"})


@router.get("/workspaces", response_model=Page[Workspace])
async def list_workspaces(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
) -> dict[str, Any]:
    # An API key belongs to one workspace: it sees only that one.
    only = principal.workspace_id if principal.via == "api_key" else None
    where = "m.user_id = $1 AND ($2::text IS NULL OR w.id = $2)"
    count = await state.pool.fetchval(
        f"SELECT count(*) FROM memberships m JOIN workspaces w ON w.id = m.workspace_id WHERE {where}",
        principal.user_id, only,
    )
    rows = await state.pool.fetch(
        f"SELECT w.*, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id WHERE {where}"
        " ORDER BY w.created_at, w.id LIMIT $3 OFFSET $4",
        principal.user_id, only, paging.page_size, paging.offset,
    )
    return page_response(request, paging, count, [await _workspace_view(state, r, principal) for r in rows])


@router.post("/workspaces", status_code=201, response_model=Workspace)
async def create_workspace(body: WorkspaceCreate, state: StateDep, principal: PersonDep) -> dict[str, Any]:
    workspace_id = new_id()
    record = WorkspaceDefined(id=workspace_id, name=body.name, created_at=now(), created_by=principal.user_id)
    await publish_definition(state, f"{workspace_id}:workspace:{workspace_id}", record, workspace_id, workspace_id)
    await change_user(state, principal.user_id, lambda u: with_membership(u, workspace_id, "owner"))
    row = await state.pool.fetchrow("SELECT w.*, 'owner' AS role FROM workspaces w WHERE w.id = $1", workspace_id)
    return await _workspace_view(state, row, principal)


@router.get("/workspaces/{workspace_id}", response_model=Workspace)
async def get_workspace(state: StateDep, principal: PrincipalDep, workspace_id: str = WorkspaceId) -> dict[str, Any]:
    only = principal.workspace_id if principal.via == "api_key" else None
    row = await state.pool.fetchrow(
        "SELECT w.*, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id"
        " WHERE m.user_id = $1 AND w.id = $2 AND ($3::text IS NULL OR w.id = $3)",
        principal.user_id, workspace_id, only,
    )
    if row is None:
        raise NotFound(f"workspace {workspace_id} not found", fields={"id": "not a member of it"})
    return await _workspace_view(state, row, principal)


@router.get("/workspaces/{workspace_id}/members", response_model=Page[Member])
async def list_members(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    workspace_id: str = WorkspaceId,
) -> dict[str, Any]:
    _current(principal, workspace_id)
    return await members_page(request, state, principal, paging)


def _grantable(principal: Principal, role: str, verb: str) -> None:
    if role == "owner" and principal.role != "owner":
        raise Forbidden(f"only an owner can {verb} the owner role", fields={"role": "owner needs an owner"})


@router.post("/workspaces/{workspace_id}/members", status_code=201, response_model=MemberAdded)
async def add_member(
    body: MemberInvite, state: StateDep, principal: ManagerDep, workspace_id: str = WorkspaceId
) -> dict[str, Any]:
    _current(principal, workspace_id)
    _grantable(principal, body.role, "grant")
    email = body.email.strip().lower()
    async with locked(state, f"fluxo:members:{workspace_id}"):
        user_id = await state.pool.fetchval("SELECT id FROM users WHERE email = $1", email)
        if user_id is not None:
            if await state.pool.fetchval(
                "SELECT 1 FROM memberships WHERE user_id = $1 AND workspace_id = $2", user_id, workspace_id
            ):
                raise Conflict(f"{email} is already a member", fields={"email": "already a member"})
            await change_user(state, user_id, lambda u: with_membership(u, workspace_id, body.role))
            row = await state.pool.fetchrow(f"{MEMBERS} AND u.id = $2", workspace_id, user_id)
            return {"status": "added", "member": member_view(row, principal), "invitation": None}
        return {"status": "invited", "member": None, "invitation": await _invite(state, principal, email, body.role)}


async def _invite(state: AppState, principal: Principal, email: str, role: Role) -> dict[str, Any]:
    ws = principal.workspace_id
    moment = now()
    # A new invitation replaces a pending one for the same address: only the newest token works.
    pending = await state.pool.fetch(
        "SELECT * FROM invitations WHERE workspace_id = $1 AND email = $2 AND accepted_at IS NULL"
        " AND revoked_at IS NULL",
        ws, email,
    )
    for old in pending:
        await _save_invitation(state, _invitation(old).model_copy(update={"revoked_at": moment}))
    token = keys.new_invitation_token()
    record = InvitationDefined(
        id=new_id(), workspace_id=ws, email=email, role=role,
        token_digest=keys.digest(state.settings.resolved_api_key_secret(), token), invited_by=principal.user_id,
        created_at=moment, expires_at=moment + timedelta(seconds=state.settings.invitation_ttl_seconds),
    )
    await _save_invitation(state, record)
    return {
        "id": record.id, "email": email, "role": role, "expires_at": record.expires_at,
        # Answered this once: only its digest is kept.
        "token": token, "accept_path": f"/api/v1/invitations/{token}/accept",
    }


def _invitation(row: Any) -> InvitationDefined:
    return InvitationDefined(
        id=row["id"], workspace_id=row["workspace_id"], email=row["email"], role=row["role"],
        token_digest=row["token_digest"], invited_by=row["invited_by"], created_at=row["created_at"],
        expires_at=row["expires_at"], accepted_at=row["accepted_at"], accepted_by=row["accepted_by"],
        revoked_at=row["revoked_at"],
    )


async def _save_invitation(state: AppState, record: InvitationDefined) -> None:
    key = f"{record.workspace_id}:invitation:{record.id}"
    await publish_definition(state, key, record, record.workspace_id, record.id)


async def _role_of(state: AppState, workspace_id: str, user_id: str) -> str:
    role: str | None = await state.pool.fetchval(
        "SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2", user_id, workspace_id
    )
    if role is None:
        raise NotFound(f"no member {user_id} in this workspace", fields={"user_id": "not a member"})
    return role


async def _not_the_last_owner(state: AppState, workspace_id: str, role: str, verb: str) -> None:
    if role == "owner":
        owners = await state.pool.fetchval(
            "SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'", workspace_id
        )
        if owners <= 1:
            raise Conflict(f"the last owner cannot be {verb}", fields={"user_id": "the only owner"})


@router.patch("/workspaces/{workspace_id}/members/{user_id}", response_model=Member)
async def change_member_role(
    body: MemberRoleChange, state: StateDep, principal: ManagerDep, workspace_id: str = WorkspaceId,
    user_id: str = UserId,
) -> dict[str, Any]:
    """The rules of adding and removing: an admin neither grants nor takes away the owner
    role, and the last owner stays one."""
    _current(principal, workspace_id)
    async with locked(state, f"fluxo:members:{workspace_id}"):
        role = await _role_of(state, workspace_id, user_id)
        if body.role != role:
            _grantable(principal, role, "take away")
            _grantable(principal, body.role, "grant")
            await _not_the_last_owner(state, workspace_id, role, "demoted")
            await change_user(state, user_id, lambda u: with_membership(u, workspace_id, body.role))
        row = await state.pool.fetchrow(f"{MEMBERS} AND u.id = $2", workspace_id, user_id)
    return member_view(row, principal)


@router.delete("/workspaces/{workspace_id}/members/{user_id}", status_code=204)
async def remove_member(
    state: StateDep, principal: ManagerDep, workspace_id: str = WorkspaceId, user_id: str = UserId,
) -> Response:
    _current(principal, workspace_id)
    async with locked(state, f"fluxo:members:{workspace_id}"):
        role = await _role_of(state, workspace_id, user_id)
        _grantable(principal, role, "remove")
        await _not_the_last_owner(state, workspace_id, role, "removed")
        await change_user(state, user_id, lambda u: with_membership(u, workspace_id, None))
    return Response(status_code=204)


@router.get("/workspaces/{workspace_id}/invitations", response_model=Page[PendingInvitation])
async def list_invitations(
    request: Request, state: StateDep, principal: ManagerDep, paging: PagingDep, workspace_id: str = WorkspaceId,
) -> dict[str, Any]:
    """The invitations still waiting for an answer, newest first: not accepted, not withdrawn
    (a newer invitation to the same address withdraws the older), not expired. Owners and
    admins only, like the rest of member management: it lists who was invited, by whom."""
    _current(principal, workspace_id)
    pending = "workspace_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2"
    moment = now()
    count = await state.pool.fetchval(f"SELECT count(*) FROM invitations WHERE {pending}", workspace_id, moment)
    rows = await state.pool.fetch(
        f"SELECT id, email, role, invited_by, created_at, expires_at FROM invitations WHERE {pending}"
        " ORDER BY created_at DESC, id LIMIT $3 OFFSET $4",
        workspace_id, moment, paging.page_size, paging.offset,
    )
    return page_response(request, paging, count, [dict(r) for r in rows])


@router.post("/invitations/{token}/accept", status_code=201, response_model=InvitationAccepted)
async def accept_invitation(
    body: InvitationAccept, state: StateDep, token: str = Path(min_length=10, max_length=200, pattern=ID_PATTERN)
) -> dict[str, Any]:
    """Public: the token is the credential. Creates the account and signs it in."""
    digest = keys.digest(state.settings.resolved_api_key_secret(), token)
    moment = now()
    async with locked(state, NEW_USERS_LOCK):
        row = await state.pool.fetchrow(
            "SELECT * FROM invitations WHERE token_digest = $1 AND accepted_at IS NULL AND revoked_at IS NULL"
            " AND expires_at > $2",
            digest, moment,
        )
        if row is None:
            raise NotFound("no such invitation, or it was used, withdrawn or has expired", fields={"token": "not valid"})
        invitation = _invitation(row)
        if await state.pool.fetchval("SELECT 1 FROM users WHERE email = $1", invitation.email):
            raise Conflict(
                f"{invitation.email} already has an account: an admin can add it directly",
                fields={"email": "already registered"},
            )
        username = await _free_username(state, body.username, invitation.email)
        user_id = new_id()
        user = UserDefined(
            id=user_id, email=invitation.email, username=username, password_hash=hash_password(body.password),
            memberships=(Membership(workspace_id=invitation.workspace_id, role=invitation.role),),
            created_at=moment,
            profile=UserProfile(first_name=body.first_name or "", last_name=body.last_name or ""),
        )
        await publish_definition(
            state, user_key(invitation.workspace_id, user_id), user, invitation.workspace_id, user_id
        )
        await _save_invitation(state, invitation.model_copy(update={"accepted_at": moment, "accepted_by": user_id}))
    principal = await principal_for(state, user_id, invitation.workspace_id)
    assert principal is not None  # projected before publish_definition answered
    return {
        "user": {"id": user_id, "email": user.email, "username": username},
        "workspace_id": invitation.workspace_id,
        "role": invitation.role,
        **tokens(state, principal),
    }


async def _free_username(state: AppState, wanted: str | None, email: str) -> str:
    taken = "SELECT 1 FROM users WHERE lower(username) = lower($1)"
    if wanted is not None:
        if await state.pool.fetchval(taken, wanted):
            raise Conflict(f"username {wanted} is taken", fields={"username": "taken"})
        return wanted
    base = "".join(c for c in email.split("@")[0] if c.isalnum() or c in "_.-")[:40] or "user"
    candidate = base
    while await state.pool.fetchval(taken, candidate):
        candidate = f"{base}-{keys.new_key()[0][:4]}"
    return candidate
