"""Webhook and HTTP request nodes over aiohttp."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from processors.connectors.base import ConnectorContext, ConnectorError
from schemas.records import NodeWorkOrdered

_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_REDIRECTS = 5


async def run_http(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    config = order.config
    url = config.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConnectorError("AUTO_007", "config.url must be an http(s) URL", retryable=False)
    method = str(config.get("method", "POST")).upper()
    if method not in _METHODS:
        raise ConnectorError("AUTO_007", f"config.method {method!r} is not an HTTP method", retryable=False)
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    # The receiving side can drop a repeated delivery of the same step.
    headers.setdefault("Idempotency-Key", order.idempotency_key)
    body = config.get("payload", config.get("body"))
    data: bytes | None = None
    if body is not None and method not in ("GET", "HEAD"):
        if isinstance(body, str):
            data = body.encode()
        else:
            data = orjson.dumps(body)
            headers.setdefault("Content-Type", "application/json")
    params = {str(k): str(v) for k, v in (config.get("query") or {}).items()}
    try:
        async with ctx.http.request(
            method,
            url,
            headers=headers,
            data=data,
            params=params or None,
            timeout=aiohttp.ClientTimeout(total=order.timeout_seconds),
            max_redirects=MAX_REDIRECTS,
        ) as response:
            raw = await response.content.read(MAX_RESPONSE_BYTES)
            status = response.status
            response_headers = dict(response.headers)
    except asyncio.TimeoutError:
        raise ConnectorError("AUTO_006", f"{method} {url} timed out after {order.timeout_seconds}s", retryable=True) from None
    except aiohttp.TooManyRedirects:
        raise ConnectorError("HTTP_REDIRECTS", f"more than {MAX_REDIRECTS} redirects", retryable=False) from None
    except aiohttp.ClientError as exc:
        raise ConnectorError("HTTP_CONNECTION", f"{method} {url}: {exc}", retryable=True) from None
    try:
        parsed: Any = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        parsed = raw.decode(errors="replace")
    if status >= 400:
        raise ConnectorError(
            f"HTTP_{status}", f"{method} {url} answered {status}", retryable=status >= 500 or status == 429
        )
    return {"status_code": status, "headers": response_headers, "body": parsed, "ok": True}
