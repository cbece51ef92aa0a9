"""Answers of the audit log (api/routers/audit_logs.py)."""

from __future__ import annotations

from pydantic import Field

from schemas.answers.common import Answer, Timestamp


class AuditActor(Answer):
    type: str
    user_id: str | None
    email: str | None
    api_key_id: str | None


class AuditEntry(Answer):
    id: str
    occurred_at: Timestamp
    created_at: Timestamp = Field(description="the same moment as occurred_at, under seed 002's name")
    actor: AuditActor
    action: str
    method: str
    route: str
    resource_type: str | None
    resource_id: str | None
    status_code: int
    outcome: str
    client_ip: str | None
    user_agent: str | None
    request_id: str
    duration_ms: float
    changed_fields: list[str]
