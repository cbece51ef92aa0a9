"""Webhook and HTTP request nodes over aiohttp, behind the SSRF guard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson

from processors.connectors.base import Connector, ConnectorContext, ConnectorError
from processors.connectors.checks import ACTION_TYPES, validate_http
from processors.connectors.guard import check_url, ssrf_cause
from schemas.records import NodeWorkOrdered

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_REDIRECTS = 5


async def request(
    ctx: ConnectorContext,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    data: bytes | aiohttp.FormData | None,
    params: Mapping[str, str] | None,
    timeout: float,
) -> tuple[int, dict[str, str], Any]:
    """One guarded HTTP exchange: (status, headers, parsed body). Redirects are checked hop by hop."""
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, ctx.allowed_hosts)
        try:
            async with ctx.http.request(
                method, url, headers=dict(headers), data=data, params=params or None,
                timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False,
            ) as response:
                raw = await response.content.read(MAX_RESPONSE_BYTES)
                status = response.status
                response_headers = dict(response.headers)
                location = response.headers.get("Location")
        except TimeoutError:
            raise ConnectorError("AUTO_006", f"{method} {url} timed out after {timeout}s", retryable=True) from None
        except aiohttp.ClientError as exc:
            refused = ssrf_cause(exc)
            if refused is not None:
                raise ConnectorError("SSRF_BLOCKED", str(refused), retryable=False) from None
            raise ConnectorError("HTTP_CONNECTION", f"{method} {url}: {exc}", retryable=True) from None
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, data = "GET", None
            continue
        try:
            parsed: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = raw.decode(errors="replace")
        return status, response_headers, parsed
    raise ConnectorError("HTTP_REDIRECTS", f"more than {MAX_REDIRECTS} redirects", retryable=False)


async def run_http(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    config = order.config
    url = str(config["url"])
    method = str(config.get("method", "POST")).upper()
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    # The receiving side can drop a repeated delivery of the same step.
    headers.setdefault("Idempotency-Key", order.idempotency_key)
    body = config.get("payload", config.get("body"))
    data: bytes | aiohttp.FormData | None = None
    if body is not None and method not in ("GET", "HEAD"):
        kind = config.get("body_type", "json")
        if kind == "form" and isinstance(body, Mapping):
            data = aiohttp.FormData({str(k): str(v) for k, v in body.items()})
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = orjson.dumps(body)
            headers.setdefault("Content-Type", "application/json")
    params = {str(k): str(v) for k, v in (config.get("query") or config.get("params") or {}).items()}
    status, response_headers, parsed = await request(
        ctx, method, url, headers=headers, data=data, params=params, timeout=order.timeout_seconds
    )
    if status >= 400:
        raise ConnectorError(
            f"HTTP_{status}", f"{method} {url} answered {status}", retryable=status >= 500 or status in (408, 429)
        )
    return {"status_code": status, "headers": response_headers, "body": parsed, "ok": True}


HTTP = Connector(action_types=ACTION_TYPES["http"], run=run_http, validate=validate_http)
