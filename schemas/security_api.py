"""Request bodies of the people, workspaces and API-key endpoints. Strict: unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["owner", "admin", "editor", "viewer"]
MAX_LAYOUT_BYTES = 16 * 1024
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


# Ids and tokens in paths: what Fluxo issues (uuids, urlsafe tokens), nothing PostgreSQL would choke on.
ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"


def storable(value: Any) -> Any:
    """JSON that PostgreSQL and the record encoder accept: no NUL character, no integer over 64 bits."""
    try:
        orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        raise ValueError("numbers must fit in 64 bits, nesting at most 254 levels deep") from None
    if _has_nul(value):
        raise ValueError("must not contain NUL characters")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value) if isinstance(value, str) else value


class SwitchWorkspace(Strict):
    workspace_id: str = Field(min_length=1, max_length=100)


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Role = "editor"
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2030-01-01T00:00:00Z)")
        return value


class ProfileUpdate(Strict):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    avatar_color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")
    timezone: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    job_title: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    bio: str | None = Field(default=None, max_length=1000)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Paris)") from None
        return value


class NotificationsUpdate(Strict):
    email: bool | None = None
    in_app: bool | None = None
    execution_failures: bool | None = None
    weekly_summary: bool | None = None
    product_updates: bool | None = None


class PreferencesUpdate(Strict):
    theme: Literal["light", "dark", "system"] | None = None
    language: str | None = Field(default=None, min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    notifications: NotificationsUpdate | None = None
    dashboard_layout: dict[str, Any] | None = None

    @field_validator("dashboard_layout")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(orjson.dumps(storable(value))) > MAX_LAYOUT_BYTES:
            raise ValueError(f"over {MAX_LAYOUT_BYTES} bytes")
        return value


class WorkspaceCreate(Strict):
    name: str = Field(min_length=1, max_length=200)


class MemberInvite(Strict):
    email: str = Field(min_length=3, max_length=320, pattern=EMAIL)
    role: Role = "editor"


class MemberRoleChange(Strict):
    role: Role


class InvitationAccept(Strict):
    password: str = Field(min_length=8, max_length=1024)
    username: str | None = Field(default=None, min_length=2, max_length=50, pattern=r"^[A-Za-z0-9_.\-]+$")
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
