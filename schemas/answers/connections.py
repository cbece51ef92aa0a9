"""Answers about the workspace's connections to the outside: integrations and inbound
webhooks, their tests, logs and public calls (api/routers/integrations.py, webhooks.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.answers.common import Answer, JsonObject, Timestamp


class IntegrationUsage(Answer):
    calls_total: int
    calls_failed: int
    last_used_at: Timestamp | None


class IntegrationHealth(Answer):
    overall: str = Field(description="unknown, healthy or degraded")
    error_rate: float
    last_error: str | None


class IntegrationView(Answer):
    id: str
    tracking_id: str
    name: str
    type: str
    provider: str
    description: str
    status: str = Field(description="configured or disabled")
    is_active: bool
    configuration: JsonObject = Field(description="the provider's settings; each secret shows only as `<name>_configured: true`;"
                                      " `webhook_configured` as at the top level")
    webhook_configured: bool = Field(description="seed 004: a webhook signing secret (`webhook_secret`) is stored, so"
                                     " `webhook_endpoint` takes the provider's signed calls; never the secret")
    webhook_endpoint: str = Field(description="seed 004: where the provider posts its events (public, signed with webhook_secret)")
    settings: JsonObject
    usage_statistics: IntegrationUsage
    health_status: IntegrationHealth
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class ProviderEventQueued(Answer):
    """A provider's webhook call to an integration: 202 with the event queued (durable, as
    POST /triggers/process_event's), or 200 with no event when `settings.webhook_events`
    does not list its type."""

    success: bool
    event_log_id: str | None
    event_type: str
    message: str


class ConnectionCheck(Answer):
    check: str
    ok: bool
    detail: str | dict[str, str] = Field(description="what was found; the missing settings, by field, for `configuration`")


class IntegrationTest(Answer):
    integration_id: str
    success: bool
    status: str = Field(description="connected or error")
    checks: list[ConnectionCheck]
    tested_at: Timestamp


class WebhookStatistics(Answer):
    calls_total: int
    calls_failed: int
    last_called_at: Timestamp | None


class Webhook(Answer):
    id: str
    name: str
    description: str
    workflow_id: str
    workflow: str = Field(description="seed 002's name for workflow_id")
    token: str | None = Field(description="only in the create and regenerate_token answers: only its digest is kept")
    token_prefix: str = Field(description="the token's first characters, to tell webhooks apart")
    url: str | None = Field(description="the public URL, with the token: only where the token is answered")
    methods: list[str]
    auth_mode: str
    secret_configured: bool
    signature_header: str | None
    signature_format: str = Field(description="timestamped (t=<unix seconds>,v1=<hex>) or legacy (also sha256=<hex>)")
    response_mode: str
    response_timeout_seconds: float
    is_active: bool
    statistics: WebhookStatistics
    version: int
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class LoggedRequest(Answer):
    method: str
    path: str
    query: JsonObject
    headers: JsonObject
    body: Any
    size: int
    truncated: bool


class LoggedResponse(Answer):
    status: int
    body: Any
    truncated: bool


class WebhookLog(Answer):
    id: str
    webhook_id: str
    workflow_id: str
    execution_id: str | None
    execution_status: str | None
    test: bool
    success: bool
    outcome: str
    error: str | None
    request: LoggedRequest
    response: LoggedResponse
    duration_ms: float
    received_at: Timestamp


class HookAnswer(Answer):
    """A public webhook call's answer: 202 queued (or still running in last_node mode), 200
    once a last_node execution ended (completed: its last node's output; else its error)."""

    execution_id: str
    workflow_id: str
    webhook_id: str
    status: str
    message: str | None = None
    error: str | None = None
    failed_node: str | None = None
    last_node: str | None = None
    output: Any = None
    execution_output: Any = None


class WebhookTestResult(Answer):
    test: bool
    success: bool
    status_code: int
    outcome: str
    execution_id: str | None
    response: JsonObject = Field(description="the answer a real call would have had (a HookAnswer, or the error envelope)")
    log_id: str
