"""Integrations (seed 004): connections to outside services, secrets write-only.

Secret fields in `configuration` are sealed (AES-GCM, the integration id as
associated data) before the record is written; answers only say which ones
are configured (`api_key_configured: true`), never their values.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import ORJSONResponse

from api.audit import note_audit
from api.deps import PrincipalDep, StateDep, WriterDep
from api.pagination import PagingDep, page_response
from api.preconditions import IfMatchDep, tagged
from api.security import Principal
from api.state import AppState
from infra.crypto import SecretError
from ingest.events import event_record
from ingest.integration_hooks import provider_event, subscribed, verify
from processors.connectors.base import ConnectorContext, ConnectorError, Integration
from processors.connectors.google import access_token
from processors.connectors.guard import GuardedResolver, address_allowed, check_url, host_allowed
from processors.connectors.http import request
from processors.connectors.messaging import GRAPH_URL, SLACK_API_URL
from schemas.answers.common import Page
from schemas.answers.connections import IntegrationTest, IntegrationView, ProviderEventQueued
from schemas.api import IntegrationIn, IntegrationPatch
from schemas.envelope import make_envelope, now
from schemas.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from schemas.outputs import Output
from schemas.records import EventIngested, IntegrationDefined
from schemas.topics import DEFINITIONS

router = APIRouter(prefix="/integrations", tags=["integrations"])
# No JWT here: the provider signs its calls with the integration's webhook_secret.
public_router = APIRouter(prefix="/integrations", tags=["integrations"])

# Each HTTP exchange of a check; the whole check has FLUXO_INTEGRATION_CHECK_TIMEOUT_SECONDS.
_CALL_TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5)

# Configuration keys whose values are credentials: sealed, never shown.
SECRET_KEYS = frozenset({
    "api_key", "password", "smtp_password", "secret", "client_secret", "token", "access_token",
    "refresh_token", "bot_token", "auth_token", "webhook_secret", "webhook_url", "private_key",
    "service_account", "credentials",
})
# What each provider needs before it can be used.
REQUIRED: dict[str, tuple[str, ...]] = {
    "smtp": ("host", "from_email"),
    "whatsapp": ("phone_number_id", "access_token"),
    "slack": (),
    "google_sheets": ("service_account",),
    "bigquery": ("service_account",),
    "google": ("service_account",),
}


def split_secrets(configuration: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    plain = {k: v for k, v in configuration.items() if k not in SECRET_KEYS}
    secret = {k: v for k, v in configuration.items() if k in SECRET_KEYS and v not in (None, "")}
    return plain, secret


def _problems(provider: str, plain: dict[str, Any], secret_names: set[str]) -> dict[str, str]:
    problems = {
        f"configuration.{name}": "is required"
        for name in REQUIRED.get(provider, ())
        if name not in plain and name not in secret_names
    }
    if provider == "slack" and not ({"webhook_url", "bot_token"} & secret_names):
        problems["configuration.webhook_url"] = "a Slack integration needs webhook_url or bot_token"
    return problems


def webhook_endpoint(base_url: str, integration_id: str) -> str:
    return f"{base_url}/api/v1/integrations/{integration_id}/webhook"


def view(row: Any, base_url: str) -> dict[str, Any]:
    config = _loads(row["config"])
    configuration = dict(config)
    for name in row["secret_fields"]:
        configuration[f"{name}_configured"] = True
    # Seed 004: `webhook_configured` says the provider's webhook calls can be verified, i.e.
    # its signing secret is stored (Slack's `webhook_url` is an outbound URL, not this).
    webhook_configured = "webhook_secret" in row["secret_fields"]
    configuration["webhook_configured"] = webhook_configured
    settings = _loads(row["settings"])
    calls, failed = row["calls_total"], row["calls_failed"]
    return {
        "id": row["id"],
        "tracking_id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "provider": row["provider"],
        "description": row["description"],
        "status": "configured" if row["is_active"] else "disabled",
        "is_active": row["is_active"],
        "configuration": configuration,
        "webhook_configured": webhook_configured,
        "webhook_endpoint": webhook_endpoint(base_url, row["id"]),
        "settings": {**settings, "test_mode": row["test_mode"]},
        "usage_statistics": {"calls_total": calls, "calls_failed": failed, "last_used_at": row["last_used_at"]},
        "health_status": {
            "overall": "unknown" if not calls else ("healthy" if failed / calls < 0.2 else "degraded"),
            "error_rate": failed / calls if calls else 0.0,
            "last_error": row["last_error"],
        },
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def _row(state: AppState, principal: Principal, integration_id: str) -> Any:
    row = await state.pool.fetchrow(
        "SELECT * FROM integrations WHERE id = $1 AND workspace_id = $2", integration_id, principal.workspace_id
    )
    if row is None:
        raise NotFound(f"integration {integration_id} not found")
    return row


async def _save(state: AppState, principal: Principal, record: IntegrationDefined) -> None:
    envelope = make_envelope(record, source="api/integrations", workspace_id=principal.workspace_id, subject=record.id)
    key = f"{principal.workspace_id}:integration:{record.id}"
    topic, partition, offset = await state.publish(Output.of(DEFINITIONS, key, envelope))
    await state.wait_projected(topic, partition, offset)


@router.post("", status_code=201, response_model=IntegrationView)
async def create_integration(body: IntegrationIn, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    plain, secret = split_secrets(body.configuration)
    problems = _problems(body.provider, plain, set(secret))
    if problems:
        raise InvalidInput("the integration is missing settings", fields=problems)
    integration_id = str(uuid.uuid4())
    stamp = now()
    box = state.settings.secret_box()
    record = IntegrationDefined(
        id=integration_id, workspace_id=principal.workspace_id, version=1, name=body.name,
        integration_type=body.type, provider=body.provider, description=body.description,
        config=plain, settings={k: v for k, v in body.settings.items() if k != "test_mode"},
        secrets_sealed=box.seal(secret, integration_id) if secret else None,
        secret_fields=tuple(sorted(secret)), is_active=body.is_active,
        test_mode=bool(body.settings.get("test_mode", False)), created_by=principal.email,
        created_at=stamp, updated_at=stamp,
    )
    await _save(state, principal, record)
    return view(await _row(state, principal, integration_id), state.settings.api_url)


@router.get("", response_model=Page[IntegrationView])
async def list_integrations(
    request: Request, state: StateDep, principal: PrincipalDep,
    paging: PagingDep,
    type: str | None = Query(default=None, max_length=50),
    provider: str | None = Query(default=None, max_length=50),
) -> dict[str, Any]:
    where: list[str] = ["workspace_id = $1"]
    args: list[Any] = [principal.workspace_id]
    for column, value in (("type", type), ("provider", provider)):
        if value:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    clause = " AND ".join(where)
    count = await state.pool.fetchval(f"SELECT count(*) FROM integrations WHERE {clause}", *args)
    args += [paging.page_size, paging.offset]
    rows = await state.pool.fetch(
        f"SELECT * FROM integrations WHERE {clause} ORDER BY created_at, id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return page_response(request, paging, count, [view(r, state.settings.api_url) for r in rows])


@router.get("/{integration_id}", response_model=IntegrationView)
async def get_integration(integration_id: str, state: StateDep, principal: PrincipalDep, response: Response) -> dict[str, Any]:
    return tagged(response, view(await _row(state, principal, integration_id), state.settings.api_url))


@router.patch("/{integration_id}", response_model=IntegrationView)
@router.put("/{integration_id}", response_model=IntegrationView)
async def update_integration(integration_id: str, body: IntegrationPatch, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    row = await _row(state, principal, integration_id)
    box = state.settings.secret_box()
    config = _loads(row["config"])
    secret: dict[str, Any] = {}
    if row["sealed"]:
        try:
            secret = box.open(row["sealed"], integration_id)
        except SecretError as exc:
            raise InvalidInput(f"stored credentials cannot be opened: {exc}", fields={"configuration": "set the credentials again"}) from None
    if body.configuration is not None:
        new_plain, new_secret = split_secrets(body.configuration)
        config.update(new_plain)
        secret.update(new_secret)  # a secret left out keeps its stored value
        for name, value in body.configuration.items():
            if value is None:  # explicit null removes a setting
                config.pop(name, None)
                secret.pop(name, None)
    problems = _problems(row["provider"], config, set(secret))
    if problems:
        raise InvalidInput("the integration is missing settings", fields=problems)
    settings = _loads(row["settings"])
    test_mode = row["test_mode"]
    if body.settings is not None:
        test_mode = bool(body.settings.get("test_mode", test_mode))
        settings.update({k: v for k, v in body.settings.items() if k != "test_mode"})
    record = IntegrationDefined(
        id=integration_id, workspace_id=principal.workspace_id, version=row["version"] + 1,
        name=body.name or row["name"], integration_type=row["type"], provider=row["provider"],
        description=row["description"] if body.description is None else body.description,
        config=config, settings=settings,
        secrets_sealed=box.seal(secret, integration_id) if secret else None,
        secret_fields=tuple(sorted(secret)),
        is_active=row["is_active"] if body.is_active is None else body.is_active,
        test_mode=test_mode, created_by=row["created_by"], created_at=row["created_at"], updated_at=now(),
    )
    await _save(state, principal, record)
    return tagged(response, view(await _row(state, principal, integration_id), state.settings.api_url))


@router.delete("/{integration_id}", status_code=204)
async def delete_integration(integration_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    row = await _row(state, principal, integration_id)
    record = IntegrationDefined(
        id=integration_id, workspace_id=principal.workspace_id, version=row["version"] + 1, name=row["name"],
        integration_type=row["type"], provider=row["provider"], created_at=row["created_at"], updated_at=now(),
        is_active=False, deleted=True,
    )
    await _save(state, principal, record)
    return Response(status_code=204)


@router.post("/{integration_id}/test", response_model=IntegrationTest)
async def test_integration(integration_id: str, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    """Check the connection without sending anything to anyone."""
    row = await _row(state, principal, integration_id)
    secret = state.settings.secret_box().open(row["sealed"], integration_id) if row["sealed"] else {}
    config = {**_loads(row["config"]), **secret}
    provider = row["provider"]
    allowed = tuple(await state.pool.fetchval("SELECT allowed_hosts FROM workspaces WHERE id = $1", principal.workspace_id) or ())
    checks: list[dict[str, Any]] = []
    missing = _problems(provider, _loads(row["config"]), set(secret))
    checks.append({"check": "configuration", "ok": not missing, "detail": missing or "all required settings present"})
    if not missing:
        bound = state.settings.integration_check_timeout_seconds
        try:
            # One bound over the whole check: SMTP's timeout is per command, and DNS has none.
            async with asyncio.timeout(bound):
                checks.append(await connection_check(provider, config, allowed))
        except TimeoutError:
            checks.append({"check": provider, "ok": False, "detail": f"no answer within {bound:g}s"})
    ok = all(c["ok"] for c in checks)
    return {"integration_id": integration_id, "success": ok, "status": "connected" if ok else "error", "checks": checks, "tested_at": now()}


async def connection_check(provider: str, config: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Talk to the service the way its connector will, without sending anything to anyone."""
    if provider == "smtp":
        return await _check_smtp(config, allowed)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(allowed=allowed)), timeout=_CALL_TIMEOUT
    )
    ctx = ConnectorContext(http=session, allowed_hosts=allowed)
    integration = Integration(id="check", integration_type=provider, name="check", config=config, secrets={})
    try:
        if provider == "whatsapp":
            base = str(config.get("base_url") or GRAPH_URL).rstrip("/")
            url = f"{base}/{config.get('api_version') or 'v21.0'}/{config['phone_number_id']}"
            status, _, body = await request(ctx, "GET", url, headers={"Authorization": f"Bearer {config['access_token']}"}, data=None, params=None, timeout=10)
            ok = status == 200 and isinstance(body, dict) and "id" in body
            detail = f"phone number {body.get('display_phone_number')}" if ok and isinstance(body, dict) else f"answered {status}"
            return {"check": "whatsapp", "ok": ok, "detail": detail}
        if provider == "slack":
            if not config.get("bot_token"):
                return {"check": "slack", "ok": True, "detail": "incoming webhook configured (it can only be checked by posting)"}
            api = str(config.get("api_url") or SLACK_API_URL).rstrip("/")
            status, _, body = await request(ctx, "POST", f"{api}/auth.test", headers={"Authorization": f"Bearer {config['bot_token']}"}, data=None, params=None, timeout=10)
            ok = isinstance(body, dict) and bool(body.get("ok"))
            return {"check": "slack", "ok": ok, "detail": f"team {body.get('team')}" if ok and isinstance(body, dict) else str(body.get("error") if isinstance(body, dict) else status)}
        if provider in ("google", "google_sheets", "bigquery"):
            await access_token(ctx, integration, 10)
            return {"check": "google", "ok": True, "detail": "service account token obtained"}
        return {"check": provider, "ok": True, "detail": "no live check for this provider"}
    except ConnectorError as exc:
        return {"check": provider, "ok": False, "detail": f"{exc.code}: {exc.message}"}
    finally:
        await session.close()


async def _check_smtp(config: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    import aiosmtplib

    try:
        check_url(f"smtp://{config.get('host')}".replace("smtp://", "http://"), allowed)
        infos = await asyncio.get_running_loop().getaddrinfo(str(config.get("host")), None)
    except (ConnectorError, OSError) as exc:
        return {"check": "smtp", "ok": False, "detail": getattr(exc, "message", f"cannot resolve host: {type(exc).__name__}")}
    if not host_allowed(str(config.get("host")), allowed) and any(not address_allowed(str(i[4][0])) for i in infos):
        return {"check": "smtp", "ok": False, "detail": f"refused to connect to {config.get('host')}: not a public address"}

    port = int(config.get("port") or 587)
    security = str(config.get("security") or ("tls" if port == 465 else "starttls")).lower()
    client = aiosmtplib.SMTP(
        hostname=str(config.get("host")), port=port, timeout=10, use_tls=security == "tls",
        start_tls=True if security == "starttls" else (False if security == "none" else None),
    )
    try:
        await client.connect()
        if config.get("username") and config.get("password"):
            await client.login(str(config["username"]), str(config["password"]))
        await client.quit()
    except aiosmtplib.SMTPAuthenticationError:
        return {"check": "smtp", "ok": False, "detail": "the server refused the credentials"}
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return {"check": "smtp", "ok": False, "detail": f"could not connect: {type(exc).__name__}"}
    return {"check": "smtp", "ok": True, "detail": "connected and authenticated"}


# Seed 002's dashboard lists the credentials: the workspace's integrations, secrets shown
# only as `*_configured`.
dashboard_router = APIRouter(prefix="/dashboard", tags=["dashboard"])
dashboard_router.add_api_route("/credentials", list_integrations, methods=["GET"], response_model=Page[IntegrationView])


@public_router.post(
    "/{integration_id}/webhook", status_code=202, response_model=ProviderEventQueued,
    responses={200: {"model": ProviderEventQueued, "description": "not an event `settings.webhook_events` lists: nothing queued"}},
)
async def provider_webhook(integration_id: str, request: Request, state: StateDep) -> ORJSONResponse:
    """A provider's event (seed 004's `webhook_endpoint`): verified with the integration's
    `webhook_secret`, then an event of the provider's type (`type` in the body) on the
    events topic, as POST /triggers/process_event writes one: triggers of that type match it."""
    row = await state.pool.fetchrow("SELECT * FROM integrations WHERE id = $1", integration_id)
    if row is None:
        raise NotFound(f"integration {integration_id} not found")
    note_audit(request, workspace_id=row["workspace_id"])
    if "webhook_secret" not in row["secret_fields"] or not row["sealed"]:
        raise Conflict("this integration takes no webhook calls: configure its webhook_secret",
                       fields={"configuration.webhook_secret": "not configured"})
    try:
        secret = state.settings.secret_box().open(row["sealed"], integration_id).get("webhook_secret")
    except SecretError as exc:
        raise Conflict(f"the stored webhook secret cannot be opened: {exc}",
                       fields={"configuration.webhook_secret": "set the secret again"}) from None
    body = await request.body()
    if len(body) > state.settings.max_event_bytes:
        raise PayloadTooLarge(f"body over {state.settings.max_event_bytes} bytes", fields={"body": "too large"})
    verify(str(secret or ""), body, {k.lower(): v for k, v in request.headers.items()}, time.time(),
           state.settings.webhook_signature_tolerance_seconds)
    if not row["is_active"]:
        raise Conflict(f"integration {integration_id} is disabled", fields={"is_active": "the integration is disabled"})
    event = provider_event(body)
    if not subscribed(event.event_type, _loads(row["settings"])):
        return ORJSONResponse({"success": True, "event_log_id": None, "event_type": event.event_type,
                               "message": "not an event settings.webhook_events lists: ignored"}, status_code=200)
    key = request.headers.get("idempotency-key") or (f"integration:{integration_id}:{event.provider_id}" if event.provider_id else None)
    event_id, out = event_record(
        EventIngested(event_type=event.event_type, data=event.data), workspace_id=row["workspace_id"],
        source=f"api/integrations/{integration_id}/webhook", idempotency_key=key,
    )
    await state.publish(out)  # acks=all: once we answer 202 the event is durable
    return ORJSONResponse({"success": True, "event_log_id": event_id, "event_type": event.event_type,
                           "message": "Event queued for processing"}, status_code=202)
