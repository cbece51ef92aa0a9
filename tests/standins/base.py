"""What every HTTP stand-in shares: the server, the request log, scripted failures."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy


@dataclass
class RecordedRequest:
    """One request as the stand-in received it, and what it answered."""

    method: str
    path: str  # decoded path, e.g. "/v21.0/123/messages"
    raw_path: str  # path with the query string, as sent on the wire
    query: dict[str, str]  # last value wins; see query_all for repeated keys
    query_all: list[tuple[str, str]]
    headers: CIMultiDictProxy[str]  # case-insensitive: r.headers["authorization"]
    body: bytes
    json: Any  # the parsed JSON body, or None when the body is not JSON
    form: dict[str, str] | None  # the parsed body when it is form-encoded
    received_at: float = field(default_factory=time.time)
    status: int | None = None  # the status answered (499: the client hung up first)
    response_body: bytes | None = None
    scripted: bool = False  # True when a fail_next rule produced the answer

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def response_json(self) -> Any:
        if not self.response_body:
            return None
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    @property
    def bearer_token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class FailRule:
    status: int
    body: Any  # dict/list -> JSON, str/bytes -> as is, None -> the service's default error
    times: int
    headers: dict[str, str]
    path: re.Pattern[str] | None
    method: str | None
    delay: float = 0.0
    passthrough: bool = False  # delay only, then handle normally (see delay_next)

    def matches(self, request: web.Request) -> bool:
        if self.method is not None and request.method.upper() != self.method:
            return False
        return self.path is None or bool(self.path.search(request.path))


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON the way the big APIs send it: UTF-8, explicit charset."""
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def text_response(
    text: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "text/plain",
) -> web.Response:
    return web.Response(
        status=status, text=text, content_type=content_type, charset="utf-8", headers=headers
    )


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class StandIn:
    """Base class: an aiohttp app on 127.0.0.1:<ephemeral>, recording every request.

    Use as ``async with SomeStandIn(...) as s:`` or ``await s.start()`` / ``await s.stop()``.
    Subclasses add their routes in ``setup_routes`` and describe their default
    error bodies in ``default_error``.
    """

    #: where fail_next applies when no ``path`` is given (None: every request)
    default_fail_path: str | None = None

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._rules: list[FailRule] = []
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self._changed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> Self:
        self._changed = asyncio.Event()
        app = web.Application(
            middlewares=[self._make_middleware()], client_max_size=16 * 1024 * 1024
        )
        self.setup_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash."""
        return f"http://{self.host}:{self.port}"

    # -- to override -------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def default_error(self, status: int, request: web.Request) -> web.Response:
        """The service's own error answer for ``status`` (used by fail_next with body=None)."""
        return json_response({"error": {"code": status, "message": "scripted failure"}}, status)

    # -- scripted failures -------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        body: Any = None,
        times: int = 1,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        delay: float = 0.0,
    ) -> FailRule:
        """Answer the next ``times`` matching requests with ``status``.

        ``body``: dict/list (sent as JSON), str/bytes (sent as is), or None for the
        service's documented error body for that status. ``path``: a regex searched
        in the request path (default: the stand-in's API endpoints). ``delay``:
        seconds to wait before answering (for client timeouts). Rules are used in
        the order they were added; the request is still recorded.
        """
        pattern = path if path is not None else self.default_fail_path
        rule = FailRule(
            status=status,
            body=body,
            times=times,
            headers=dict(headers or {}),
            path=re.compile(pattern) if pattern else None,
            method=method.upper() if method else None,
            delay=delay,
        )
        self._rules.append(rule)
        return rule

    def delay_next(self, seconds: float, times: int = 1, *, path: str | None = None) -> FailRule:
        """Wait ``seconds`` before handling the next ``times`` requests normally."""
        rule = self.fail_next(200, None, times, path=path, delay=seconds)
        rule.passthrough = True
        return rule

    def clear_failures(self) -> None:
        self._rules.clear()

    @property
    def pending_failures(self) -> int:
        return sum(r.times for r in self._rules)

    def reset(self) -> None:
        """Forget recorded requests and scripted failures (service state is kept)."""
        self.requests.clear()
        self._rules.clear()

    # -- helpers for tests -------------------------------------------------------------

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if pattern.search(r.path) and (method is None or r.method == method.upper())
        ]

    async def wait_for_requests(
        self,
        count: int = 1,
        timeout: float = 10.0,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> list[RecordedRequest]:
        """Wait until at least ``count`` (matching) requests were answered; return them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            done = [
                r
                for r in self.requests
                if r.status is not None and (predicate is None or predicate(r))
            ]
            if len(done) >= count:
                return done
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{type(self).__name__}: {len(done)} of {count} requests after {timeout}s "
                    f"(received: {[(r.method, r.path, r.status) for r in self.requests]})"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass

    # -- machinery ---------------------------------------------------------------------

    def _take_rule(self, request: web.Request) -> FailRule | None:
        for rule in self._rules:
            if rule.times > 0 and rule.matches(request):
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
                return rule
        return None

    def _scripted_response(self, rule: FailRule, request: web.Request) -> web.Response:
        if rule.body is None:
            resp = self.default_error(rule.status, request)
        elif isinstance(rule.body, (dict, list)):
            resp = json_response(rule.body, rule.status)
        elif isinstance(rule.body, bytes):
            resp = web.Response(status=rule.status, body=rule.body)
        else:
            resp = text_response(str(rule.body), rule.status)
        for k, v in rule.headers.items():
            resp.headers[k] = v
        return resp

    def _make_middleware(self) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
            body = await request.read()
            parsed: Any = None
            form: dict[str, str] | None = None
            if body:
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                if request.content_type == "application/x-www-form-urlencoded":
                    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            record = RecordedRequest(
                method=request.method,
                path=request.path,
                raw_path=request.raw_path,
                query=dict(request.query),
                query_all=list(request.query.items()),
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                body=body,
                json=parsed,
                form=form,
            )
            self.requests.append(record)
            try:
                rule = self._take_rule(request)
                if rule is not None and rule.delay:
                    await asyncio.sleep(rule.delay)
                if rule is not None and not rule.passthrough:
                    record.scripted = True
                    resp: web.StreamResponse = self._scripted_response(rule, request)
                else:
                    resp = await handler(request)
            except web.HTTPException as exc:
                record.status = exc.status
                self._changed.set()
                raise
            except asyncio.CancelledError:
                record.status = 499  # the client went away (e.g. its timeout) before the answer
                self._changed.set()
                raise
            except Exception:
                record.status = 500
                self._changed.set()
                raise
            record.status = resp.status
            if isinstance(resp, web.Response) and isinstance(resp.body, bytes):
                record.response_body = resp.body
            self._changed.set()
            return resp

        return middleware
