"""SSRF guard for outgoing HTTP: only globally routable addresses, unless allowed.

Checked twice: the URL's host before the request (IP literals never reach a
resolver), and every address the resolver returns (a public name may
resolve to 10.x or to the cloud metadata address). Redirects are followed by
hand so each hop is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from processors.connectors.base import ConnectorError
from schemas.errors import InvalidInput


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    return host.lower().strip("[]") in {h.lower().strip("[]") for h in allowed}


def check_url(url: str, allowed: Iterable[str]) -> str:
    """The URL's host, or a refusal: non-http(s), userinfo tricks, private IP literals."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorError("AUTO_007", "config.url must be an http(s) URL with a host", retryable=False)
    host = parts.hostname
    if host_allowed(host, allowed):
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host  # a name: its addresses are checked when it is resolved
    if not address_allowed(host):
        raise ConnectorError("SSRF_BLOCKED", f"refused to call {host}: not a public address", retryable=False)
    return host


class GuardedResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses non-global addresses."""

    def __init__(self, inner: AbstractResolver | None = None, allowed: Iterable[str] = ()) -> None:
        self._inner = inner or DefaultResolver()
        self._allowed = tuple(allowed)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host_allowed(host, self._allowed):
            return results
        refused = [r["host"] for r in results if not address_allowed(r["host"])]
        if refused:
            raise SsrfRefused(host, refused[0])
        return results

    async def close(self) -> None:
        await self._inner.close()


class SsrfRefused(OSError, InvalidInput):
    """Raised inside aiohttp's connector; surfaces as a connection error we translate.

    An OSError first (aiohttp wraps it as one); in our hierarchy an invalid input: the
    address configured is not one Fluxo may call.
    """

    def __init__(self, host: str, address: str) -> None:
        message = f"refused to call {host}: it resolves to {address}, not a public address"
        super().__init__(message)  # OSError's: it does not chain to FluxoError's
        self.message = message
        self.fields = {}
        self.host = host
        self.address = address


def ssrf_cause(exc: BaseException) -> SsrfRefused | None:
    seen: set[int] = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, SsrfRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__ or getattr(current, "os_error", None)
    return None
