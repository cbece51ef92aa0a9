"""Rate limits: a moving window per caller (API key, else user, else client IP).

Every /api/v1 route spends from the caller's default budget (FLUXO_RATE_LIMIT_DEFAULT);
the ingest endpoints from a separate one (FLUXO_RATE_LIMIT_INGEST), and a route named in
FLUXO_RATE_LIMIT_ROUTES from a budget of its own. Answers carry the draft IETF
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers; over the limit,
429 with `Retry-After`. /health, /api/health and /metrics (and seed 001's spellings under
/api/automation) are outside /api/v1: exempt.

The counts live in this process's memory (`limits`' MemoryStorage): with several API
processes behind a balancer each counts on its own, so a caller gets up to N times the
budget. A shared storage (`limits` speaks Redis, Memcached, MongoDB) would fix that at the
price of a round trip per request.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from api.authn import authenticate
from infra.settings import Settings
from schemas.errors import RateLimited, Unauthenticated

Scope = dict[str, Any]

# Where events enter: producers and inbound webhooks call these far more often than people.
INGEST_ROUTES = frozenset({
    "/api/v1/triggers/process_event",
    "/api/v1/triggers/process_events",
    "/api/v1/hooks/{token}",
    "/api/v1/webhooks/execute/{token}",
    "/api/v1/workflows/{workflow_id}/trigger",
})


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
        ]


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._default = parse(settings.rate_limit_default)
        self._ingest = parse(settings.rate_limit_ingest)
        self._routes = {route: parse(rate) for route, rate in settings.rate_limit_routes.items()}

    def budget(self, method: str, template: str) -> tuple[str, RateLimitItem]:
        """(the budget's name, its rate) for a route: its own, the ingest one, or the default."""
        for name in (f"{method} {template}", template):
            if name in self._routes:
                return name, self._routes[name]
        if template in INGEST_ROUTES:
            return "ingest", self._ingest
        return "default", self._default

    async def spend(self, caller: str, method: str, template: str, cost: int = 1) -> Verdict:
        name, item = self.budget(method, template)
        allowed = await self._limiter.hit(item, caller, name, cost=cost)
        stats = await self._limiter.get_window_stats(item, caller, name)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed, item.amount, stats.remaining, reset)


def caller_of(request: Request, principal: Any) -> str:
    if principal is not None and principal.api_key_id:
        return f"key:{principal.api_key_id}"
    if principal is not None:
        return f"user:{principal.user_id}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's full template ("/api/v1/hooks/{token}").

    The route's own `path_format` is relative to the router it was included in; the
    prefix is what the request path has in front of the route's part, params filled in.
    """
    path: str = scope.get("path", "")
    relative = getattr(scope.get("route"), "path_format", None)
    if not isinstance(relative, str):
        return path
    params = scope.get("path_params") or {}
    rendered = _PARAM.sub(lambda m: str(params.get(m.group(1), m.group(0))), relative)
    if not path.endswith(rendered):
        return path
    return path[: len(path) - len(rendered)] + relative


async def rate_limit(request: Request) -> None:
    """A dependency of every /api/v1 route (it runs after routing, so the template is known)."""
    limits: RateLimits = request.app.state.rate_limits
    try:
        principal = await authenticate(request)
    except Unauthenticated:
        principal = None  # counted by address; the handler answers 401 if it needs a caller
    template = route_template(request.scope)
    verdict = await limits.spend(caller_of(request, principal), request.method, template)
    request.state.rate_limit = verdict
    if not verdict.allowed:
        raise RateLimited(
            f"rate limit of {verdict.limit} requests exceeded: retry in {verdict.reset_seconds}s",
            retry_after=verdict.reset_seconds,
        )


async def charge(request: Request, principal: Any, cost: int) -> None:
    """Spend `cost` more from the budget `rate_limit` spent one of (a batch's other items)."""
    if cost <= 0:
        return
    limits: RateLimits = request.app.state.rate_limits
    verdict = await limits.spend(caller_of(request, principal), request.method, route_template(request.scope), cost)
    request.state.rate_limit = verdict
    if not verdict.allowed:
        raise RateLimited(
            f"rate limit of {verdict.limit} requests exceeded by this batch: retry in {verdict.reset_seconds}s",
            retry_after=verdict.reset_seconds,
        )


class RateLimitHeaders:
    """Puts the verdict of `rate_limit` on the answer, whatever produced it (handler or error)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                verdict = (scope.get("state") or {}).get("rate_limit")
                if isinstance(verdict, Verdict):
                    message = {**message, "headers": [*message.get("headers", []), *verdict.headers()]}
            await send(message)

        await self.app(scope, receive, with_headers)
