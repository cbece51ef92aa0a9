"""The SSRF guard, through a real aiohttp client: only the DNS answers are stubbed."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from processors.connectors.base import ConnectorContext, ConnectorError
from processors.connectors.guard import GuardedResolver, address_allowed, check_url
from processors.connectors.http import request


class StubDNS(AbstractResolver):
    """Answers fixed addresses, like a DNS zone an attacker controls."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        address = self.table[host]
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    "address,allowed",
    [
        ("8.8.8.8", True), ("1.1.1.1", True), ("2606:4700:4700::1111", True),
        ("127.0.0.1", False), ("10.0.0.7", False), ("172.16.5.4", False), ("192.168.1.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
        ("fe80::1", False), ("fd00::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False), ("not-an-ip", False),
    ],
)
def test_only_global_addresses_pass(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://169.254.169.254/latest", "http://[::1]:8080/", "http://10.1.2.3", "ftp://8.8.8.8/", "http:///nohost"])
def test_urls_to_private_literals_or_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        check_url(url, ())
    assert caught.value.code in ("SSRF_BLOCKED", "AUTO_007") and caught.value.retryable is False


def test_an_allowed_host_passes_and_names_are_left_to_the_resolver() -> None:
    assert check_url("http://127.0.0.1:9/x", ("127.0.0.1",)) == "127.0.0.1"
    assert check_url("https://intranet.example/x", ()) == "intranet.example"


async def _call(url: str, table: dict[str, str], allowed: tuple[str, ...] = ()) -> Any:
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(inner=StubDNS(table), allowed=allowed))
    async with aiohttp.ClientSession(connector=connector) as session:
        ctx = ConnectorContext(http=session, allowed_hosts=allowed)
        return await request(ctx, "GET", url, headers={}, data=None, params=None, timeout=2)


@pytest.mark.parametrize("address", ["10.0.0.7", "169.254.169.254", "127.0.0.1", "192.168.0.10"])
async def test_a_hostname_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        await _call("http://intranet.example/admin", {"intranet.example": address})
    assert caught.value.code == "SSRF_BLOCKED"
    assert f"resolves to {address}" in caught.value.message and caught.value.retryable is False


async def test_an_allowed_hostname_may_resolve_to_loopback() -> None:
    # Nothing listens on port 9 (discard): a connection error, not an SSRF refusal.
    with pytest.raises(ConnectorError) as caught:
        await _call("http://dev.local:9/", {"dev.local": "127.0.0.1"}, allowed=("dev.local",))
    assert caught.value.code == "HTTP_CONNECTION"
