"""Seed 002's users module: GET/PUT /users/profile, GET/PUT /users/preferences,
GET /users/trial-info, GET /users/workspace-members.

A change is a new snapshot of the user's record (profile and preferences are part of
`fluxo.user.defined.v1`); the answer is read back from the projection.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import PersonDep, PrincipalDep, StateDep
from api.pagination import PagingDep
from api.people import avatar_color, change_user, initials, load_user
from api.security import Principal
from api.services.members import members_page
from api.services.plans import plan_and_limits
from api.state import AppState
from schemas.answers.common import Page
from schemas.answers.people import Member, Preferences, Profile, UserTrial
from schemas.errors import NotFound
from schemas.records import UserDefined
from schemas.security_api import PreferencesUpdate, ProfileUpdate

router = APIRouter(prefix="/users", tags=["users"])


async def _user(state: AppState, principal: Principal) -> UserDefined:
    found = await load_user(state.pool, principal.user_id)
    if found is None:
        raise NotFound("user not found")
    return found[0]


async def _profile(state: AppState, principal: Principal, user: UserDefined) -> dict[str, Any]:
    p = user.profile
    workspace = await state.pool.fetchrow("SELECT id, name FROM workspaces WHERE id = $1", principal.workspace_id)
    return {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "full_name": " ".join(x for x in (p.first_name, p.last_name) if x) or user.username,
        "initials": initials(p.first_name, p.last_name, user.username),
        "avatar_color": avatar_color(user.id, p.avatar_color),
        "timezone": p.timezone,
        "language": p.language,
        "job_title": p.job_title,
        "company": p.company,
        "phone": p.phone,
        "bio": p.bio,
        "is_active": user.is_active,
        "created_at": user.created_at,
        "role": principal.role,
        "workspace": {"id": principal.workspace_id, "name": workspace["name"] if workspace else None},
    }


@router.get("/profile", response_model=Profile)
async def get_profile(state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    return await _profile(state, principal, await _user(state, principal))


@router.put("/profile", response_model=Profile)
async def put_profile(body: ProfileUpdate, state: StateDep, principal: PersonDep) -> dict[str, Any]:
    """Changes the fields given; the others keep their value."""
    changes = body.model_dump(exclude_unset=True)
    # avatar_color may be set back to null (a palette colour again); text fields may not be null.
    changes = {k: v for k, v in changes.items() if v is not None or k == "avatar_color"}

    def edit(user: UserDefined) -> UserDefined:
        return user.model_copy(update={"profile": user.profile.model_copy(update=changes)})

    updated = await change_user(state, principal.user_id, edit)
    return await _profile(state, principal, updated)


def _preferences(user: UserDefined) -> dict[str, Any]:
    return user.preferences.model_dump(mode="json")


@router.get("/preferences", response_model=Preferences)
async def get_preferences(state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    return _preferences(await _user(state, principal))


@router.put("/preferences", response_model=Preferences)
async def put_preferences(body: PreferencesUpdate, state: StateDep, principal: PersonDep) -> dict[str, Any]:
    """Changes the preferences given (notifications one by one); `dashboard_layout` is replaced whole."""
    given = body.model_dump(exclude_unset=True, exclude={"notifications"})
    given = {k: v for k, v in given.items() if v is not None}
    notifications = body.notifications.model_dump(exclude_unset=True) if body.notifications else {}
    notifications = {k: v for k, v in notifications.items() if v is not None}

    def edit(user: UserDefined) -> UserDefined:
        prefs = user.preferences
        merged = prefs.model_copy(update={**given, "notifications": prefs.notifications.model_copy(update=notifications)})
        return user.model_copy(update={"preferences": merged})

    return _preferences(await change_user(state, principal.user_id, edit))


@router.get("/trial-info", response_model=UserTrial)
async def get_trial_info(state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    row = await state.pool.fetchrow("SELECT id, name, plan, created_at FROM workspaces WHERE id = $1", principal.workspace_id)
    if row is None:
        raise NotFound("workspace not found")
    info = await plan_and_limits(state, row)
    trial = info["trial_info"]
    return {
        "workspace": {"id": row["id"], "name": row["name"]},
        "plan": info["plan"],
        "is_trial": trial["is_trial"],
        "trial_started_at": trial["trial_started_at"],
        "trial_ends_at": trial["trial_ends_at"],
        "days_left": trial["days_left"],
        "trial_expired": trial["trial_expired"],
        "monthly_execution_limit": info["execution_limits"]["monthly_limit"],
        "executions_used_this_month": info["execution_limits"]["used_this_month"],
        "executions_remaining": info["execution_limits"]["remaining"],
    }


@router.get("/workspace-members", response_model=Page[Member])
async def workspace_members(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
) -> dict[str, Any]:
    return await members_page(request, state, principal, paging)
