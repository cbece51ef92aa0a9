"""The inbound webhook an attached `webhook` trigger (seed 003) gives a workflow.

Attaching a `webhook` trigger to a workflow makes an ordinary inbound webhook (seed 002's,
api/routers/webhooks.py) bound to that workflow, one per (workflow, trigger), with the id
`processors.matching.linking.trigger_webhook_id`: calling its URL starts the workflow
through the same path as any webhook, and the run says which trigger it came through
(`context.trigger`). The trigger's `configuration` may set `methods`, `response_mode` and
`response_timeout_seconds`. The webhook follows the link: detaching the trigger (or
deleting it, or changing its type) deletes the webhook; deactivating the trigger disables
it, activating it enables it again. Only definitions are written here: the call path is
the webhooks router's own.

Like every webhook's, the token is kept only as its digest (fluxo.webhook.defined.v2). Seed
003 shows an attached trigger's URL on every read, so its token is not random but an HMAC,
under the server's API key secret, of the webhook id and the moment the webhook was made:
the URL can be rebuilt on a read, yet nobody without the secret can guess it, and a webhook
made again after its trigger was detached gets a new one (the old URL stays dead).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from api.security import Principal
from api.state import AppState
from ingest.webhooks import token_digest, token_prefix
from processors.matching.linking import trigger_webhook_id
from schemas.envelope import make_envelope, now
from schemas.errors import InvalidInput
from schemas.outputs import Output
from schemas.records import TriggerDefined, WebhookDefined
from schemas.topics import DEFINITIONS
from schemas.workflow import WorkflowSnapshot

_METHODS = ("GET", "POST", "PUT", "PATCH")
_MODES = ("immediate", "last_node")


def configuration_problems(configuration: dict[str, Any]) -> dict[str, str]:
    """What a webhook trigger's configuration may hold (the rest is the user's own)."""
    problems: dict[str, str] = {}
    methods = configuration.get("methods")
    if methods is not None and (not isinstance(methods, list) or not methods
                                or any(not isinstance(m, str) or m.upper() not in _METHODS for m in methods)):
        problems["configuration.methods"] = f"a non-empty list of {', '.join(_METHODS)}"
    if configuration.get("response_mode", "immediate") not in _MODES:
        problems["configuration.response_mode"] = f"one of {', '.join(_MODES)}"
    timeout = configuration.get("response_timeout_seconds", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        problems["configuration.response_timeout_seconds"] = "a number of seconds, more than 0 and at most 30"
    for secret in ("secret", "auth_mode"):
        if secret in configuration:
            problems[f"configuration.{secret}"] = (
                "a trigger's configuration is not sealed; for a signed webhook create one with POST /webhooks")
    return problems


def webhook_url(base_url: str, token: str) -> str:
    return f"{base_url}/api/v1/hooks/{token}"


def hook_token(secret: str, webhook_id: str, created_at: datetime) -> str:
    """The token of a trigger's webhook: 43 URL-safe characters, as a random one has."""
    mac = hmac.new(secret.encode(), f"trigger-webhook:{webhook_id}:{created_at.isoformat()}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


async def _row(state: AppState, webhook_id: str) -> Any:
    return await state.pool.fetchrow("SELECT * FROM webhooks WHERE id = $1", webhook_id)


async def _save(state: AppState, principal: Principal, record: WebhookDefined) -> None:
    envelope = make_envelope(record, source="api/webhooks", workspace_id=principal.workspace_id, subject=record.id)
    topic, partition, offset = await state.publish(
        Output.of(DEFINITIONS, f"{principal.workspace_id}:webhook:{record.id}", envelope))
    await state.wait_projected(topic, partition, offset)


async def ensure(state: AppState, principal: Principal, workflow: WorkflowSnapshot, trigger: TriggerDefined) -> None:
    """The trigger's webhook on this workflow exists (made, or made again) and follows the
    trigger's is_active and configuration."""
    webhook_id = trigger_webhook_id(workflow.id, trigger.id)
    row = await _row(state, webhook_id)
    if row is not None and row["workspace_id"] != principal.workspace_id:
        raise InvalidInput("the trigger's webhook id is taken", fields={"trigger_id": "cannot be attached here"})
    config = trigger.configuration
    methods = tuple(dict.fromkeys(str(m).upper() for m in config.get("methods") or ["POST"]))
    fields: dict[str, Any] = {
        "name": f"{trigger.name} ({workflow.name})"[:200],
        "description": f"trigger {trigger.id} attached to workflow {workflow.id}",
        "methods": methods,
        "response_mode": config.get("response_mode", "immediate"),
        "response_timeout_seconds": float(config.get("response_timeout_seconds", 10)),
        "is_active": trigger.is_active,
    }
    stamp = now()
    if row is not None and not row["deleted"]:
        current = {k: row[k] for k in fields}
        current["methods"] = tuple(current["methods"])
        if current == fields:
            return
        record = WebhookDefined(
            id=webhook_id, workspace_id=principal.workspace_id, version=row["version"] + 1, workflow_id=workflow.id,
            token_digest=row["token_digest"], token_prefix=row["token_prefix"], signature_format=row["signature_format"],
            auth_mode=row["auth_mode"], secret_sealed=row["sealed"], created_by=row["created_by"],
            created_at=row["created_at"], updated_at=stamp, **fields)
    else:
        token = hook_token(state.settings.resolved_api_key_secret(), webhook_id, stamp)
        record = WebhookDefined(
            id=webhook_id, workspace_id=principal.workspace_id, version=row["version"] + 1 if row is not None else 1,
            workflow_id=workflow.id, token_digest=token_digest(token), token_prefix=token_prefix(token),
            auth_mode="none", created_by=principal.email, created_at=stamp, updated_at=stamp, **fields)
    await _save(state, principal, record)


async def drop(state: AppState, principal: Principal, workflow_id: str, trigger_id: str) -> None:
    """Delete the trigger's webhook on this workflow, if it has one: its URL stops working."""
    row = await _row(state, trigger_webhook_id(workflow_id, trigger_id))
    if row is None or row["deleted"] or row["workspace_id"] != principal.workspace_id:
        return
    await _save(state, principal, WebhookDefined(
        id=row["id"], workspace_id=principal.workspace_id, version=row["version"] + 1, name=row["name"],
        description=row["description"], workflow_id=row["workflow_id"],
        token_digest=row["token_digest"], token_prefix=row["token_prefix"], signature_format=row["signature_format"],
        methods=tuple(row["methods"]),
        auth_mode="none", response_mode=row["response_mode"], response_timeout_seconds=row["response_timeout_seconds"],
        is_active=False, deleted=True, created_by=row["created_by"], created_at=row["created_at"], updated_at=now()))


async def follow(state: AppState, principal: Principal, trigger: TriggerDefined, workflows: list[WorkflowSnapshot]) -> None:
    """After a trigger changed: its webhooks on the workflows it is attached to follow it."""
    for workflow in workflows:
        if trigger.trigger_type == "webhook" and not trigger.deleted:
            await ensure(state, principal, workflow, trigger)
        else:
            await drop(state, principal, workflow.id, trigger.id)


async def hooks_of(state: AppState, workflow_id: str, trigger_ids: list[str]) -> dict[str, dict[str, str]]:
    """trigger id -> {webhook_id, webhook_url} for the attached triggers that have a webhook."""
    ids = {trigger_webhook_id(workflow_id, t): t for t in trigger_ids}
    if not ids:
        return {}
    rows = await state.pool.fetch(
        "SELECT id, created_at FROM webhooks WHERE id = ANY($1::text[]) AND NOT deleted", list(ids))
    secret = state.settings.resolved_api_key_secret()
    return {ids[r["id"]]: {"webhook_id": r["id"], "webhook_url": webhook_url(
        state.settings.api_url, hook_token(secret, r["id"], r["created_at"]))} for r in rows}
