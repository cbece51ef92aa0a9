"""An outbound call from the API answers within its bound, whatever the other side does.

A connection test of an integration talks to the outside service from the API process;
a server that accepts the connection and then says nothing must not hold the request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from conftest import Processes
from pipeline import running_pipeline

from infra.settings import Settings

V1 = "/api/v1"
BOUND = 1.5


@pytest_asyncio.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts TCP connections and never answers (an SMTP server that hangs before its greeting)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest_asyncio.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    procs = Processes(settings)
    try:
        async with running_pipeline(settings, procs, FLUXO_INTEGRATION_CHECK_TIMEOUT_SECONDS=str(BOUND)) as (client, _):
            yield client
    finally:
        procs.stop_all()


async def test_an_integration_check_against_a_silent_server_ends_in_time(api: httpx.AsyncClient, silent_server: int) -> None:
    created = await api.post(f"{V1}/integrations", json={
        "name": "Hanging SMTP", "type": "email", "provider": "smtp",
        "configuration": {"host": "127.0.0.1", "port": silent_server, "security": "none", "from_email": "a@fluxo.test"},
    })
    assert created.status_code == 201, created.text
    started = time.monotonic()
    r = await api.post(f"{V1}/integrations/{created.json()['id']}/test")
    took = time.monotonic() - started
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["success"] is False
    assert answer["checks"][-1] == {"check": "smtp", "ok": False, "detail": f"no answer within {BOUND:g}s"}
    # SMTP's own timeout (10 s per command) would have held it far longer.
    assert BOUND <= took < BOUND + 5


pytestmark = pytest.mark.asyncio(loop_scope="session")
