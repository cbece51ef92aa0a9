"""Inbound webhooks (seed 002): token URLs bound to a workflow, with an optional HMAC signature.

Definitions are full snapshots on the definitions topic (the HMAC secret only
sealed); every call of a known webhook, accepted or refused, becomes a
`fluxo.webhook.called.v1` record on the trigger-log topic, projected to
`webhook_logs`. A call is one broker write: its call record, answered on Kafka's
acknowledgement. An accepted call's record carries the execution's start, which the
matcher turns into `execution.started` (processors/matching/webhooks.py). Tokens and
workflows are looked up in the API's in-memory directory (api/directory_feed.py), not
PostgreSQL. The pure parts (signatures, what a log keeps, the token digest) are in
`ingest/webhooks.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import ORJSONResponse
from pydantic import ValidationError

from api.deps import PrincipalDep, StateDep, WriterDep
from api.errors import answer
from api.pagination import PagingDep, page_response
from api.preconditions import IfMatchDep, tagged
from api.query import takes_any_query
from api.security import Principal
from api.state import AppState
from infra.crypto import SecretError
from ingest.directory import hook_by_token
from ingest.webhooks import (
    SIGNATURE_HEADER,
    SignatureFormat,
    bounded,
    logged_headers,
    new_token,
    parse_input,
    redacted_path,
    sign,
    signature_problem,
    token_digest,
    token_prefix,
)
from schemas.answers.common import Page
from schemas.answers.connections import HookAnswer, Webhook, WebhookLog, WebhookTestResult
from schemas.api import WebhookIn, WebhookPatch, WebhookTest
from schemas.envelope import deterministic_id, make_envelope, now
from schemas.errors import (
    Conflict,
    FluxoError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unavailable,
)
from schemas.outputs import Output
from schemas.records import WebhookCalled, WebhookDefined, WebhookStart
from schemas.topics import DEFINITIONS, TRIGGER_LOG
from schemas.workflow import WorkflowSnapshot, WorkflowStatus

log = logging.getLogger("fluxo.api.webhooks")

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
# No JWT here: the token in the URL (and the signature, in HMAC mode) is the credential.
public_router = APIRouter(tags=["webhooks"])

PUBLIC_METHODS = ["GET", "POST", "PUT", "PATCH"]
_POLL_SECONDS = 0.05
_TEST_BODY: dict[str, Any] = {"test": True, "message": "Fluxo webhook test"}


# -- definitions ---------------------------------------------------------------
def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def view(row: Any, base_url: str, token: str | None = None) -> dict[str, Any]:
    """A webhook as answered. Only its digest is kept, so the token (and the URL made of it)
    is in the create and regenerate_token answers alone; later ones show its prefix."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "workflow_id": row["workflow_id"],
        "workflow": row["workflow_id"],
        "token": token,
        "token_prefix": row["token_prefix"],
        "url": f"{base_url}/api/v1/hooks/{token}" if token else None,
        "methods": list(row["methods"]),
        "auth_mode": row["auth_mode"],
        "secret_configured": row["sealed"] is not None,
        "signature_header": SIGNATURE_HEADER if row["auth_mode"] == "hmac" else None,
        "signature_format": row["signature_format"],
        "response_mode": row["response_mode"],
        "response_timeout_seconds": row["response_timeout_seconds"],
        "is_active": row["is_active"],
        "statistics": {
            "calls_total": row["calls_total"],
            "calls_failed": row["calls_failed"],
            "last_called_at": row["last_called_at"],
        },
        "version": row["version"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


_SELECT = (
    "SELECT h.*, coalesce(s.calls_total, 0) AS calls_total, coalesce(s.calls_failed, 0) AS calls_failed,"
    " s.last_called_at FROM webhooks h LEFT JOIN LATERAL (SELECT count(*) AS calls_total,"
    " count(*) FILTER (WHERE NOT l.success) AS calls_failed, max(l.received_at) AS last_called_at"
    " FROM webhook_logs l WHERE l.webhook_id = h.id) s ON true"
)


async def _row(state: AppState, principal: Principal, webhook_id: str) -> Any:
    # Scoped by workspace: another workspace's id is simply not found.
    row = await state.pool.fetchrow(
        f"{_SELECT} WHERE h.id = $1 AND h.workspace_id = $2 AND NOT h.deleted", webhook_id, principal.workspace_id
    )
    if row is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return row


async def _check_workflow(state: AppState, principal: Principal, workflow_id: str) -> None:
    found = await state.pool.fetchval(
        "SELECT 1 FROM workflows WHERE id = $1 AND workspace_id = $2", workflow_id, principal.workspace_id
    )
    if found is None:
        raise InvalidInput(
            f"no workflow {workflow_id} in this workspace", fields={"workflow_id": "no such workflow in this workspace"}
        )


def _open_secret(state: AppState, sealed: str | None, webhook_id: str) -> str | None:
    if sealed is None:
        return None
    try:
        value = state.settings.secret_box().open(sealed, webhook_id).get("secret")
    except SecretError as exc:
        raise Conflict(f"the stored webhook secret cannot be opened: {exc}", fields={"secret": "set the secret again"}) from None
    return value if isinstance(value, str) else None


async def _save(state: AppState, principal: Principal, record: WebhookDefined) -> None:
    envelope = make_envelope(record, source="api/webhooks", workspace_id=principal.workspace_id, subject=record.id)
    key = f"{principal.workspace_id}:webhook:{record.id}"
    topic, partition, offset = await state.publish(Output.of(DEFINITIONS, key, envelope))
    await state.wait_projected(topic, partition, offset)


@router.post("", status_code=201, response_model=Webhook)
async def create_webhook(body: WebhookIn, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    await _check_workflow(state, principal, body.workflow_id)
    if body.auth_mode == "hmac" and not body.secret:
        raise InvalidInput("an HMAC webhook needs a secret", fields={"secret": "required when auth_mode is hmac"})
    webhook_id = str(uuid.uuid4())
    token = new_token()
    stamp = now()
    sealed = (
        state.settings.secret_box().seal({"secret": body.secret}, webhook_id)
        if body.auth_mode == "hmac" and body.secret else None
    )
    record = WebhookDefined(
        id=webhook_id, workspace_id=principal.workspace_id, version=1, name=body.name,
        description=body.description, workflow_id=body.workflow_id,
        token_digest=token_digest(token), token_prefix=token_prefix(token),
        methods=tuple(dict.fromkeys(body.methods)), auth_mode=body.auth_mode, secret_sealed=sealed,
        signature_format=body.signature_format,
        response_mode=body.response_mode, response_timeout_seconds=body.response_timeout_seconds,
        is_active=body.is_active, created_by=principal.email, created_at=stamp, updated_at=stamp,
    )
    await _save(state, principal, record)
    return view(await _row(state, principal, webhook_id), state.settings.api_url, token)


@router.get("", response_model=Page[Webhook])
async def list_webhooks(
    request: Request, state: StateDep, principal: PrincipalDep,
    paging: PagingDep,
    search: str | None = Query(default=None, max_length=200),
    workflow: str | None = Query(default=None, max_length=200),
    is_active: bool | None = Query(default=None),
) -> dict[str, Any]:
    where = ["h.workspace_id = $1", "NOT h.deleted"]
    args: list[Any] = [principal.workspace_id]
    if workflow:
        args.append(workflow)
        where.append(f"h.workflow_id = ${len(args)}")
    if is_active is not None:
        args.append(is_active)
        where.append(f"h.is_active = ${len(args)}")
    if search:
        args.append(f"%{search}%")
        where.append(f"(h.name ILIKE ${len(args)} OR h.description ILIKE ${len(args)})")
    clause = " AND ".join(where)
    count = await state.pool.fetchval(f"SELECT count(*) FROM webhooks h WHERE {clause}", *args)
    args += [paging.page_size, paging.offset]
    rows = await state.pool.fetch(
        f"{_SELECT} WHERE {clause} ORDER BY h.created_at, h.id LIMIT ${len(args) - 1} OFFSET ${len(args)}", *args
    )
    return page_response(request, paging, count, [view(r, state.settings.api_url) for r in rows])


@router.get("/{webhook_id}", response_model=Webhook)
async def get_webhook(webhook_id: str, state: StateDep, principal: PrincipalDep, response: Response) -> dict[str, Any]:
    return tagged(response, view(await _row(state, principal, webhook_id), state.settings.api_url))


def _next_version(row: Any, principal: Principal, **changes: Any) -> WebhookDefined:
    fields: dict[str, Any] = {
        "id": row["id"], "workspace_id": principal.workspace_id, "version": row["version"] + 1,
        "name": row["name"], "description": row["description"], "workflow_id": row["workflow_id"],
        "token_digest": row["token_digest"], "token_prefix": row["token_prefix"],
        "methods": tuple(row["methods"]), "auth_mode": row["auth_mode"],
        "secret_sealed": row["sealed"], "signature_format": row["signature_format"],
        "response_mode": row["response_mode"],
        "response_timeout_seconds": row["response_timeout_seconds"], "is_active": row["is_active"],
        "created_by": row["created_by"], "created_at": row["created_at"], "updated_at": now(),
    }
    fields.update(changes)
    return WebhookDefined(**fields)


@router.patch("/{webhook_id}", response_model=Webhook)
@router.put("/{webhook_id}", response_model=Webhook)
async def update_webhook(webhook_id: str, body: WebhookPatch, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    row = await _row(state, principal, webhook_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"secret"})
    changes = {k: v for k, v in changes.items() if v is not None}
    if "workflow_id" in changes:
        await _check_workflow(state, principal, changes["workflow_id"])
    if "methods" in changes:
        changes["methods"] = tuple(dict.fromkeys(changes["methods"]))
    auth_mode = changes.get("auth_mode", row["auth_mode"])
    sealed: str | None = row["sealed"]
    if body.secret:
        sealed = state.settings.secret_box().seal({"secret": body.secret}, webhook_id)
    if auth_mode == "none":
        sealed = None  # a secret is only kept while it is used
    elif sealed is None:
        raise InvalidInput("an HMAC webhook needs a secret", fields={"secret": "required when auth_mode is hmac"})
    record = _next_version(row, principal, secret_sealed=sealed, **changes)
    await _save(state, principal, record)
    return tagged(response, view(await _row(state, principal, webhook_id), state.settings.api_url))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    row = await _row(state, principal, webhook_id)
    # The tombstone keeps no secret; the token stops working at once.
    await _save(state, principal, _next_version(row, principal, is_active=False, deleted=True, secret_sealed=None))
    return Response(status_code=204)


@router.post("/{webhook_id}/regenerate_token", response_model=Webhook)
async def regenerate_token(webhook_id: str, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    row = await _row(state, principal, webhook_id)
    token = new_token()
    await _save(state, principal, _next_version(row, principal, token_digest=token_digest(token), token_prefix=token_prefix(token)))
    return view(await _row(state, principal, webhook_id), state.settings.api_url, token)


def _log_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "webhook_id": row["webhook_id"],
        "workflow_id": row["workflow_id"],
        "execution_id": row["execution_id"],
        "execution_status": row["execution_status"],
        "test": row["test"],
        "success": row["success"],
        "outcome": row["outcome"],
        "error": row["error"],
        "request": {
            "method": row["method"], "path": row["path"], "query": _loads(row["query"]),
            "headers": _loads(row["headers"]), "body": _loads(row["request_body"]),
            "size": row["request_size"], "truncated": row["request_truncated"],
        },
        "response": {
            "status": row["response_status"], "body": _loads(row["response_body"]),
            "truncated": row["response_truncated"],
        },
        "duration_ms": row["duration_ms"],
        "received_at": row["received_at"],
    }


@router.get("/{webhook_id}/logs", response_model=Page[WebhookLog])
async def webhook_logs(
    webhook_id: str, request: Request, state: StateDep, principal: PrincipalDep,
    paging: PagingDep,
    success: bool | None = Query(default=None),
    status: int | None = Query(default=None, ge=100, le=599),
    test: bool | None = Query(default=None),
) -> dict[str, Any]:
    await _row(state, principal, webhook_id)
    where = ["l.webhook_id = $1", "l.workspace_id = $2"]
    args: list[Any] = [webhook_id, principal.workspace_id]
    for column, value in (("success", success), ("response_status", status), ("test", test)):
        if value is not None:
            args.append(value)
            where.append(f"l.{column} = ${len(args)}")
    clause = " AND ".join(where)
    count = await state.pool.fetchval(f"SELECT count(*) FROM webhook_logs l WHERE {clause}", *args)
    args += [paging.page_size, paging.offset]
    rows = await state.pool.fetch(
        f"SELECT l.*, e.status AS execution_status FROM webhook_logs l LEFT JOIN executions e ON e.id = l.execution_id"
        f" WHERE {clause} ORDER BY l.received_at DESC, l.id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return page_response(request, paging, count, [_log_view(r) for r in rows])


# -- calls -----------------------------------------------------------------------
@dataclass(frozen=True)
class Inbound:
    """One call as it arrived (or as the test endpoint makes it up)."""

    method: str
    path: str
    body: bytes
    content_type: str | None
    query: dict[str, str]
    headers: list[tuple[str, str]]
    signature: str | None
    idempotency_key: str | None
    test: bool = False


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    outcome: str
    execution_id: str | None = None
    error: str | None = None
    # What an accepted call starts (the call record carries it to the matcher).
    start: WebhookStart | None = None


@dataclass(frozen=True)
class Hook:
    """What a call needs of its webhook, from the in-memory directory or from its row."""

    id: str
    workspace_id: str
    workflow_id: str
    methods: tuple[str, ...]
    auth_mode: str
    sealed: str | None
    response_mode: str
    response_timeout_seconds: float
    is_active: bool
    signature_format: SignatureFormat

    @classmethod
    def of_row(cls, row: Any) -> Hook:
        return cls(
            row["id"], row["workspace_id"], row["workflow_id"], tuple(row["methods"]), row["auth_mode"], row["sealed"],
            row["response_mode"], float(row["response_timeout_seconds"]), row["is_active"], row["signature_format"],
        )

    @classmethod
    def of_record(cls, d: WebhookDefined) -> Hook:
        return cls(
            d.id, d.workspace_id, d.workflow_id, tuple(d.methods), d.auth_mode, d.secret_sealed, d.response_mode,
            float(d.response_timeout_seconds), d.is_active, d.signature_format,
        )


async def _by_token(state: AppState, token: str) -> Hook:
    """The webhook of a token: from memory while the directory is fresh (a token it does not
    know is confirmed once it has caught up with the moment of the call), else the database."""
    feed = state.directory
    arrived = time.monotonic()
    if await feed.usable():
        found = hook_by_token(feed.directory, token)
        if found is not None:
            return Hook.of_record(found)
        if await feed.sync(arrived):
            found = hook_by_token(feed.directory, token)
            if found is None:
                raise NotFound("no webhook with this token", fields={"token": "unknown or revoked"})
            return Hook.of_record(found)
    row = await state.pool.fetchrow("SELECT * FROM webhooks WHERE token_digest = $1 AND NOT deleted", token_digest(token))
    if row is None:
        raise NotFound("no webhook with this token", fields={"token": "unknown or revoked"})
    return Hook.of_row(row)


def _refuse_inactive(workflow_id: str, status: WorkflowStatus) -> None:
    if status != WorkflowStatus.ACTIVE:
        raise Conflict(
            f"workflow {workflow_id} is {status.value}, not active",
            fields={"workflow_id": f"the workflow is {status.value}; activate it to take calls"},
        )


async def _check_active(state: AppState, hook: Hook) -> None:
    """The webhook's workflow exists in its workspace and takes calls (the matcher pins it)."""
    feed = state.directory
    if feed.fresh():
        flow = feed.directory.flows.get(hook.workflow_id)
        if flow is not None and flow.workspace_id == hook.workspace_id:
            _refuse_inactive(flow.id, flow.status)
            return
    raw = await state.pool.fetchval(
        "SELECT snapshot FROM workflows WHERE id = $1 AND workspace_id = $2", hook.workflow_id, hook.workspace_id
    )
    if raw is None:
        raise NotFound(
            f"the webhook's workflow {hook.workflow_id} no longer exists",
            fields={"workflow_id": "no such workflow in this workspace"},
        )
    workflow = WorkflowSnapshot.model_validate(orjson.loads(raw))
    _refuse_inactive(workflow.id, workflow.status)


def _execution_id(hook: Hook, call: Inbound, call_id: str) -> str:
    """Deterministic: with the caller's Idempotency-Key a re-sent call names the same
    execution (and so starts nothing new), else the call's own id does."""
    if call.idempotency_key:
        return deterministic_id("webhook", "endpoint", hook.id, call.idempotency_key[:200])
    return deterministic_id("webhook-call", call_id)


async def _start(state: AppState, hook: Hook, call: Inbound, call_id: str, waits: bool) -> Answer:
    if call.method not in hook.methods:
        raise MethodNotAllowed(
            f"this webhook takes {', '.join(hook.methods)}", fields={"method": f"{call.method} is not allowed"}
        )
    if hook.auth_mode == "hmac":
        secret = _open_secret(state, hook.sealed, hook.id)
        problem = "does not match" if secret is None else signature_problem(
            secret, call.body, call.signature, now=time.time(),
            tolerance=state.settings.webhook_signature_tolerance_seconds, signature_format=hook.signature_format,
        )
        if problem is not None:
            raise Unauthenticated(f"the signature is refused: {problem}", fields={SIGNATURE_HEADER: problem})
    if not hook.is_active:
        raise Conflict("this webhook is disabled", fields={"is_active": "the webhook is disabled"})
    if len(call.body) > state.settings.max_event_bytes:
        raise PayloadTooLarge(f"body over {state.settings.max_event_bytes} bytes", fields={"body": "too large"})
    data = parse_input(call.body, call.content_type, call.query, call.method)  # a BodyError is a 422
    await _check_active(state, hook)
    execution_id = _execution_id(hook, call, call_id)
    base = {"execution_id": execution_id, "workflow_id": hook.workflow_id, "webhook_id": hook.id}
    return Answer(
        202, {**base, "status": "queued"}, "accepted", execution_id,
        start=WebhookStart(
            input=data, content_type=call.content_type[:500] if call.content_type else None, logged_later=waits,
        ),
    )


async def _wait_result(state: AppState, base: dict[str, Any], execution_id: str, deadline: float, bound: float) -> Answer:
    """last_node mode: wait (bounded) for the execution to end, answer with its last node's output."""
    while True:
        row = await state.pool.fetchrow(
            "SELECT status, output_data, execution_path, error_message, failed_node FROM executions WHERE id = $1",
            execution_id,
        )
        if row is not None and row["status"] != "running":
            break
        if time.monotonic() >= deadline:
            body = {**base, "status": "running", "message": f"still running after {bound:g}s; follow it by its execution id"}
            return Answer(202, body, "timeout", execution_id)
        await asyncio.sleep(_POLL_SECONDS)
    path = [p for p in _loads(row["execution_path"]) or [] if isinstance(p, str)]
    if row["status"] != "completed":
        body = {**base, "status": row["status"], "error": row["error_message"], "failed_node": row["failed_node"]}
        return Answer(200, body, "failed", execution_id, row["error_message"])
    last = path[-1] if path else None
    output = None
    if last is not None:
        output = _loads(await state.pool.fetchval(
            "SELECT output_data FROM execution_steps WHERE execution_id = $1 AND node_id = $2 AND status = 'completed'"
            " ORDER BY iteration DESC, attempt DESC LIMIT 1",
            execution_id, last,
        ))
    body = {**base, "status": "completed", "last_node": last, "output": output, "execution_output": _loads(row["output_data"])}
    return Answer(200, body, "completed", execution_id)


def _call_record(hook: Hook, call: Inbound, call_id: str, result: Answer, received: datetime, clock: float) -> Output:
    request_body, request_cut = bounded(call.body)
    response_body, response_cut = bounded(result.body)
    record = WebhookCalled(
        call_id=call_id, webhook_id=hook.id, workflow_id=hook.workflow_id, execution_id=result.execution_id,
        test=call.test, method=call.method, path=redacted_path(call.path), query=call.query, headers=logged_headers(call.headers),
        request_body=request_body, request_size=len(call.body), request_truncated=request_cut,
        response_status=result.status, response_body=response_body, response_truncated=response_cut,
        duration_ms=(time.monotonic() - clock) * 1000, outcome=result.outcome,
        error=result.error[:1000] if result.error else None, received_at=received, start=result.start,
    )
    envelope = make_envelope(
        record, source="api/webhooks", workspace_id=hook.workspace_id, subject=hook.id,
        execution_id=result.execution_id, depth=1,
    )
    return Output.of(TRIGGER_LOG, f"{hook.workspace_id}:{hook.id}", envelope)


async def handle_call(state: AppState, hook: Hook, call: Inbound, *, wait: bool = False) -> tuple[Answer, str]:
    """Run one call of a known webhook and log it, whatever happens. Returns the answer and the log record's id.

    One broker write: the call record, which also carries the start of an accepted call
    (the matcher derives the execution from it). Answered on its acknowledgement; only a
    `last_node` webhook (or `wait`) then waits for the execution's end, and logs the
    final outcome under the same call id.
    """
    clock = time.monotonic()
    received = now()
    call_id = str(uuid.uuid4())
    waits = hook.response_mode == "last_node" or wait
    try:
        result = await _start(state, hook, call, call_id, waits)
    except FluxoError as exc:
        status, body = answer(exc)
        result = Answer(status, body, "rejected", None, exc.message)
    try:
        topic, partition, offset = await state.publish(_call_record(hook, call, call_id, result, received, clock))
    except (Unavailable, PayloadTooLarge) as exc:
        if result.start is not None:
            raise  # the start is in the record: not written, not accepted (503 / 413)
        # A refusal's answer stands; only its log line is lost (and said so here).
        log.warning("webhook %s call not logged: %s", hook.id, exc.message)
        return result, call_id
    if result.start is not None and waits:
        bound = hook.response_timeout_seconds
        base = {k: result.body[k] for k in ("execution_id", "workflow_id", "webhook_id")}
        assert result.execution_id is not None  # an accepted call names its execution
        result = await _wait_result(state, base, result.execution_id, clock + bound, bound)
        final = _call_record(hook, call, call_id, result, received, clock)
        try:
            topic, partition, offset = await state.publish(final)
        except (Unavailable, PayloadTooLarge) as exc:
            log.warning("webhook %s call's outcome not logged: %s", hook.id, exc.message)
    if call.test:
        await state.wait_projected(topic, partition, offset)  # the test's log line is listed when we answer
    return result, call_id


async def _public(token: str, request: Request, state: AppState, wait: bool) -> ORJSONResponse:
    hook = await _by_token(state, token)
    call = Inbound(
        method=request.method, path=request.url.path, body=await request.body(),
        content_type=request.headers.get("content-type"), query=dict(request.query_params),
        headers=list(request.headers.items()), signature=request.headers.get(SIGNATURE_HEADER),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    result, _ = await handle_call(state, hook, call, wait=wait)
    headers = {"WWW-Authenticate": "Signature"} if result.status == 401 else None
    return ORJSONResponse(result.body, status_code=result.status, headers=headers)


Token = Annotated[str, Path(min_length=1, max_length=200)]
# 202 once queued (or still running); a last_node webhook answers 200 when its execution ended.
HOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": HookAnswer, "description": "last_node mode: the execution ended (its last node's output, or its error)"},
}


@takes_any_query  # its query parameters are the workflow's input
async def call_hook(
    token: Token, request: Request, state: StateDep,
    wait: Annotated[bool, Query(alias="wait", description=(
        "wait for the execution to end and answer with its last node's output, as a last_node webhook does"
    ))] = False,
) -> ORJSONResponse:
    """Call an inbound webhook: it starts its workflow (the webhook's methods, auth and response mode apply).

    Answered (202, `queued`) once Kafka has the call record; the execution starts from it
    downstream. A `last_node` webhook, or `?wait=true`, answers when the execution ended
    (200) or after the webhook's response timeout (202, `running`)."""
    return await _public(token, request, state, wait)


# One route per method and path (the second path is seed 002's), so each has its own OpenAPI operation id.
for _path, _name in (("/hooks/{token}", "call_hook"), ("/webhooks/execute/{token}", "execute_hook")):
    for _method in PUBLIC_METHODS:
        public_router.add_api_route(
            _path, call_hook, methods=[_method], name=f"{_name}_{_method.lower()}", status_code=202,
            response_model=HookAnswer, responses=HOOK_RESPONSES,
        )


# The keys of the wrapped test body; a JSON body with other keys is the payload itself.
_WRAPPED_KEYS = frozenset(WebhookTest.model_fields)


def test_call(given: Any) -> tuple[WebhookTest, Any]:
    """The test's options and its payload from the request body (None: the sample payload).

    Seed 002's client sends the payload itself; the wrapped form (`{body, query, method}`)
    keeps working. An object whose keys are all wrapped-form keys (or no body at all) is the
    wrapped form, checked strictly; anything else (an object with other keys, an array, a
    scalar) is the payload, sent as it is. A payload made only of those three keys has to be
    sent wrapped."""
    if given is None or (isinstance(given, dict) and given.keys() <= _WRAPPED_KEYS):
        try:
            options = WebhookTest.model_validate(given or {})
        except ValidationError as exc:
            fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
            raise InvalidInput("invalid webhook test body", fields=fields) from None
        return options, options.body
    return WebhookTest(), given


@router.post("/{webhook_id}/test", response_model=WebhookTestResult)
async def test_webhook(
    webhook_id: str, state: StateDep, principal: WriterDep,
    body: Annotated[WebhookTest | dict[str, Any] | list[Any] | None, Body(
        description="the wrapped form ({body, query, method}), or the test payload itself")] = None,
) -> dict[str, Any]:
    """Send a sample call through the same path as a real one (signed with the stored secret).

    It starts a real execution when the call is accepted; its log line is marked `test`.
    """
    options, payload = test_call(body.model_dump(exclude_unset=True) if isinstance(body, WebhookTest) else body)
    row = await _row(state, principal, webhook_id)
    method = options.method or ("POST" if "POST" in row["methods"] else row["methods"][0])
    raw = orjson.dumps(payload if payload is not None else {**_TEST_BODY, "sent_at": now().isoformat()})
    secret = _open_secret(state, row["sealed"], webhook_id) if row["auth_mode"] == "hmac" else None
    call = Inbound(
        method=method, path=f"/api/v1/webhooks/{webhook_id}/test", body=b"" if method == "GET" else raw,
        content_type="application/json", query=options.query,
        headers=[("content-type", "application/json"), ("user-agent", "fluxo-webhook-test")],
        signature=sign(secret, b"" if method == "GET" else raw, int(time.time())) if secret else None,
        idempotency_key=None, test=True,
    )
    result, log_id = await handle_call(state, Hook.of_row(row), call)
    return {
        "test": True,
        "success": result.outcome in ("accepted", "completed"),
        "status_code": result.status,
        "outcome": result.outcome,
        "execution_id": result.execution_id,
        "response": result.body,
        "log_id": log_id,
    }
