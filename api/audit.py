"""Every state-changing call under /api/v1 becomes a `fluxo.api_call.audited.v1` record.

A pure ASGI middleware (BaseHTTPMiddleware would buffer and re-wrap every
response, and hides the scope the router fills in). It holds the handler's
response until Kafka has acknowledged the audit record, so a caller that saw
an answer knows its audit record is stored.

If Kafka refuses the record (or does not answer within
FLUXO_AUDIT_TIMEOUT_SECONDS), the caller gets 503 instead of the handler's
answer. The handler's own write may have landed by then (it went to the same
broker a moment before), so the 503 says the outcome is unknown: the call is
never reported as a success without its audit record, and the caller checks
before retrying. The alternative — answering the success anyway — would make
the audit log silently incomplete exactly when Kafka is failing.

Handlers tell it what only they know through request.state (see
api/audit_rules.py STATE_*): `note_audit()` sets those.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import Request

from api.audit_rules import (
    STATE_ACTOR_EMAIL,
    STATE_RESOURCE,
    STATE_WORKSPACE,
    actor_of,
    audit_record,
    collections,
    created_id,
    field_names,
    full_template,
    is_audited,
    request_id,
    resource_of,
)
from api.errors import answer
from schemas.envelope import make_envelope, new_id, now
from schemas.errors import FluxoError, Unavailable
from schemas.outputs import Output
from schemas.records import ApiCallAudited
from schemas.topics import AUDIT

log = logging.getLogger("fluxo.api.audit")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Responses are held until the audit record is stored; past this many bytes
# (a long stream) the record is written and the rest flows through.
HOLD_BYTES = 256 * 1024
REQUEST_ID_HEADER = b"x-request-id"


def note_audit(
    request: Request,
    *,
    workspace_id: str | None = None,
    actor_email: str | None = None,
    resource: tuple[str, str] | None = None,
) -> None:
    """For handlers: what the audit record cannot learn from the principal or the route."""
    if workspace_id is not None:
        setattr(request.state, STATE_WORKSPACE, workspace_id)
    if actor_email is not None:
        setattr(request.state, STATE_ACTOR_EMAIL, actor_email)
    if resource is not None:
        setattr(request.state, STATE_RESOURCE, resource)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class AuditLog:
    def __init__(self, app: ASGIApp, max_body_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds
        # Which templates are collections (POST creates) depends on the whole route table.
        self._collections: frozenset[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        await _Call(self, scope, receive, send).run()

    def known_collections(self, scope: Scope) -> frozenset[str]:
        if self._collections is None:
            try:
                paths = scope["app"].openapi().get("paths", {})
                self._collections = collections(paths)
            except Exception:  # naming degrades (no ".create"), auditing goes on
                log.exception("cannot read the route table; audit actions name no collections")
                self._collections = frozenset()
        return self._collections


class _Call:
    """One audited call: what came in, the held response, and its audit record."""

    def __init__(self, owner: AuditLog, scope: Scope, receive: Receive, send: Send) -> None:
        self.owner = owner
        self.scope = scope
        self._receive = receive
        self._send = send
        # The same dict request.state writes to: the principal and handler notes land here.
        self.state: dict[str, Any] = scope.setdefault("state", {})
        self.clock = time.monotonic()
        self.occurred_at = now()
        self.request_id = request_id(_header(scope, REQUEST_ID_HEADER))
        self.body = bytearray()
        self.body_complete = False
        self.body_over = False
        self.start: Message | None = None
        self.held: list[Message] = []
        self.held_bytes = 0
        self.released = False
        self.refused = False

    async def run(self) -> None:
        try:
            await self.owner.app(self.scope, self.receive, self.send)
        except Exception:
            if not self.released and not self.refused:
                # The error middleware answers 500 after us; the record says so first.
                await self.store(500, b"")
            raise
        if not self.released and not self.refused:
            if self.held:
                await self.release()  # a stream that ended without its last chunk
            else:
                # The app ended without answering (the client went away).
                await self.store(self.start["status"] if self.start else 500, b"")

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if not self.body_over:
                if len(self.body) + len(chunk) > self.owner.max_body_bytes:
                    self.body_over = True  # too large to name its fields; BodyLimit refuses it
                    self.body.clear()
                else:
                    self.body += chunk
            if not message.get("more_body", False):
                self.body_complete = True
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if self.released:
            await self._send(message)
            return
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        self.held.append(message)
        self.held_bytes += len(message.get("body", b""))
        if not message.get("more_body", False) or self.held_bytes > HOLD_BYTES:
            await self.release()

    async def release(self) -> None:
        start = self.start or {"type": "http.response.start", "status": 500, "headers": []}
        complete = not self.held[-1].get("more_body", False)
        response = b"".join(m.get("body", b"") for m in self.held) if complete else b""
        if await self.store(int(start["status"]), response):
            self.released = True
            headers = [*start.get("headers", []), (REQUEST_ID_HEADER, self.request_id.encode())]
            await self._send({**start, "headers": headers})
            for message in self.held:
                await self._send(message)
        else:
            self.refused = True
            await self._refuse()

    async def store(self, status: int, response: bytes) -> bool:
        """Write the audit record; True once Kafka has acknowledged it."""
        try:
            record = self.record(status, response)
            app_state = self.scope["app"].state.fluxo
            envelope = make_envelope(
                record, source="api/audit", workspace_id=record.workspace_id, id=record.id,
                subject=record.resource_id, time=record.occurred_at,
            )
            out = Output.of(AUDIT, record.workspace_id, envelope)
            await asyncio.wait_for(app_state.publish(out), self.owner.timeout_seconds)
            return True
        except Exception as exc:  # noqa: BLE001 - whatever failed, the call is unaudited: say so
            # The route template only: the path itself may hold a token.
            log.error(
                "audit record not stored for %s %s (status %d): %s",
                self.scope["method"], self._template() or "(no route)", status,
                exc.message if isinstance(exc, FluxoError) else repr(exc),
            )
            return False

    def _template(self) -> str | None:
        route = self.scope.get("route")
        return full_template(
            self.scope["path"], getattr(route, "path_format", None), self.scope.get("path_params") or {}
        )

    def record(self, status: int, response: bytes) -> ApiCallAudited:
        method = self.scope["method"]
        template = self._template()
        params: dict[str, Any] = (self.scope.get("path_params") or {}) if template else {}
        known = self.owner.known_collections(self.scope)
        principal = self.state.get("principal")
        kind, resource_id, from_response = resource_of(method, template, params, known)
        if from_response and status < 300:
            resource_id = created_id(response)
        noted = self.state.get(STATE_RESOURCE)
        if isinstance(noted, tuple) and len(noted) == 2:
            kind, resource_id = noted
        workspace_id = principal.workspace_id if principal is not None else self.state.get(STATE_WORKSPACE)
        client = self.scope.get("client")
        return audit_record(
            record_id=new_id(),
            workspace_id=str(workspace_id or ""),
            occurred_at=self.occurred_at,
            actor=actor_of(principal, self.state.get(STATE_ACTOR_EMAIL)),
            method=method,
            template=template,
            path_params=params,
            known=known,
            status=status,
            resource=(kind, resource_id),
            client_ip=str(client[0]) if client else None,
            agent=_header(self.scope, b"user-agent"),
            req_id=self.request_id,
            duration_ms=(time.monotonic() - self.clock) * 1000,
            fields=field_names(bytes(self.body), self.body_complete and not self.body_over),
        )

    async def _refuse(self) -> None:
        status, body = answer(Unavailable(
            "the call could not be audited, so its outcome is not confirmed; check before retrying",
            fields={"audit": "the audit log (Kafka) did not acknowledge the record"},
        ))
        payload = orjson.dumps(body)
        await self._send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"retry-after", b"5"),
                (REQUEST_ID_HEADER, self.request_id.encode()),
            ],
        })
        await self._send({"type": "http.response.body", "body": payload})
