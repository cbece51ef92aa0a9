"""Answers about people and their access: tokens, profiles, preferences, workspaces and
their members, invitations, API keys (api/routers/auth.py, users.py, workspaces.py,
api_keys.py)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from schemas.answers.common import Answer, JsonObject, Timestamp


class Tokens(Answer):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int = Field(description="seconds the access token is valid for")
    workspace_id: str
    role: str


class WorkspaceRef(Answer):
    id: str
    name: str | None


class Profile(Answer):
    id: str
    email: str
    username: str
    first_name: str
    last_name: str
    full_name: str
    initials: str
    avatar_color: str
    timezone: str
    language: str
    job_title: str
    company: str
    phone: str
    bio: str
    is_active: bool
    created_at: Timestamp
    role: str
    workspace: WorkspaceRef


class NotificationSettings(Answer):
    email: bool
    in_app: bool
    execution_failures: bool
    weekly_summary: bool
    product_updates: bool


class Preferences(Answer):
    theme: str
    language: str
    notifications: NotificationSettings
    dashboard_layout: JsonObject = Field(description="the dashboard's own layout, kept as given")


class TrialInfo(Answer):
    plan: str
    is_trial: bool
    trial_started_at: Timestamp | None
    trial_ends_at: date | None
    days_left: int | None
    trial_expired: bool


class ExecutionLimits(Answer):
    monthly_limit: int | None
    used_this_month: int
    remaining: int | None


class UserTrial(Answer):
    workspace: WorkspaceRef
    plan: str
    is_trial: bool
    trial_started_at: Timestamp | None
    trial_ends_at: date | None
    days_left: int | None
    trial_expired: bool
    monthly_execution_limit: int | None
    executions_used_this_month: int
    executions_remaining: int | None


class Member(Answer):
    id: str
    user_id: str
    email: str
    username: str
    first_name: str
    last_name: str
    full_name: str
    initials: str
    avatar_color: str
    role: str
    is_active: bool
    is_you: bool


class Workspace(Answer):
    id: str
    name: str
    role: str = Field(description="the caller's role in it")
    is_current: bool
    members_count: int
    created_at: Timestamp
    created_by: str | None
    plan: str
    trial_info: TrialInfo
    execution_limits: ExecutionLimits


class Invitation(Answer):
    id: str
    email: str
    role: str
    expires_at: Timestamp
    token: str = Field(description="answered this once: only its digest is kept")
    accept_path: str


class PendingInvitation(Answer):
    """An invitation not yet accepted, withdrawn or expired (its token is never shown again)."""

    id: str
    email: str
    role: str
    invited_by: str
    created_at: Timestamp
    expires_at: Timestamp


class MemberAdded(Answer):
    status: str = Field(description="added (an existing account) or invited (a new one)")
    member: Member | None
    invitation: Invitation | None


class NewUser(Answer):
    id: str
    email: str
    username: str


class InvitationAccepted(Tokens):
    user: NewUser


class ApiKey(Answer):
    id: str
    name: str
    prefix: str
    role: str
    workspace_id: str
    created_by: str | None
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None
    is_active: bool


class NewApiKey(ApiKey):
    key: str = Field(description="the key itself: answered this once, at creation")
