"""Rate limits against the real pipeline, with low limits: per user, per key, per address,
the ingest budget, a route's own budget, the headers, and the exempt operational paths."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import pytest_asyncio
from conftest import Processes
from pipeline import add_person, login, running_pipeline

from infra.settings import Settings
from schemas.records import Role

V1 = "/api/v1"
DEFAULT, INGEST, PROFILE = 6, 3, 2
ENV = {
    "FLUXO_RATE_LIMIT_DEFAULT": f"{DEFAULT}/minute",
    "FLUXO_RATE_LIMIT_INGEST": f"{INGEST}/minute",
    # The fixture polls the login until the owner is projected: that route gets room of its own.
    "FLUXO_RATE_LIMIT_ROUTES": orjson.dumps(
        {"GET /api/v1/users/profile": f"{PROFILE}/minute", "POST /api/v1/auth/login": "1000/minute"}
    ).decode(),
}


@pytest_asyncio.fixture(scope="module")
async def pipeline(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    procs = Processes(settings)
    try:
        async with running_pipeline(settings, procs, **ENV) as (client, workspace_id):
            yield client, workspace_id
    finally:
        procs.stop_all()


async def person(api: httpx.AsyncClient, settings: Settings, ws: str, role: Role = "editor") -> dict[str, str]:
    email = f"rate-{role}-{uuid.uuid4().hex[:6]}@fluxo.test"
    await add_person(settings, workspace_id=ws, email=email, role=role)
    return await login(api, email)


async def spend(client: httpx.AsyncClient, method: str, path: str, n: int, limit: int, **kwargs: object) -> None:
    """n calls within the budget: each says how much is left."""
    for i in range(n):
        r = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert r.status_code < 429, (i, r.text)
        assert r.headers["RateLimit-Limit"] == str(limit), r.headers
        assert r.headers["RateLimit-Remaining"] == str(limit - i - 1), (i, r.headers)
        assert 0 < int(r.headers["RateLimit-Reset"]) <= 60


def refused(r: httpx.Response, limit: int) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "RATE_001" and r.json()["error"]["fields"] == {}
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["RateLimit-Limit"] == str(limit) and r.headers["RateLimit-Remaining"] == "0"


async def test_a_user_gets_the_default_budget_and_then_429(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    me = await person(api, settings, ws)
    await spend(api, "GET", f"{V1}/workflows", DEFAULT, DEFAULT, headers=me)
    refused(await api.get(f"{V1}/workflows", headers=me), DEFAULT)
    # The whole default budget, not one route's: another route is refused too.
    refused(await api.get(f"{V1}/executions", headers=me), DEFAULT)
    refused(await api.post(f"{V1}/workflows", json={"name": "late"}, headers=me), DEFAULT)
    # Another person is not held up by it.
    other = await person(api, settings, ws)
    assert (await api.get(f"{V1}/workflows", headers=other)).status_code == 200


async def test_health_and_metrics_are_exempt(pipeline: tuple[httpx.AsyncClient, str]) -> None:
    api, _ = pipeline
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        for path in ("/health", "/api/health", "/metrics"):
            for _ in range(DEFAULT + 2):
                r = await anonymous.get(path)
                assert r.status_code == 200, (path, r.text)
                assert "RateLimit-Limit" not in r.headers


async def test_an_api_key_has_a_budget_of_its_own(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    admin = await person(api, settings, ws, "admin")
    created = await api.post(f"{V1}/api-keys", json={"name": "busy"}, headers=admin)
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}
    async with httpx.AsyncClient(base_url=str(api.base_url)) as machine:
        await spend(machine, "GET", f"{V1}/workflows", DEFAULT, DEFAULT, headers=key)
        refused(await machine.get(f"{V1}/workflows", headers=key), DEFAULT)
    # Its creator spent one request (the creation) of their own budget.
    r = await api.get(f"{V1}/workflows", headers=admin)
    assert r.status_code == 200 and r.headers["RateLimit-Remaining"] == str(DEFAULT - 2)


async def test_ingest_has_its_own_budget(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    me = await person(api, settings, ws)
    event = {"event_type": "RATE_TEST", "data": {}}
    await spend(api, "POST", f"{V1}/triggers/process_event", INGEST, INGEST, json=event, headers=me)
    refused(await api.post(f"{V1}/triggers/process_event", json=event, headers=me), INGEST)
    r = await api.get(f"{V1}/workflows", headers=me)
    assert r.status_code == 200 and r.headers["RateLimit-Limit"] == str(DEFAULT)
    assert r.headers["RateLimit-Remaining"] == str(DEFAULT - 1)
    # The public webhook paths spend from the ingest budget of the caller's address.
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        r = await anonymous.post(f"{V1}/hooks/{'x' * 30}", json={})
        assert r.status_code == 404 and r.headers["RateLimit-Limit"] == str(INGEST)


async def test_a_route_can_have_its_own_limit(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    me = await person(api, settings, ws)
    await spend(api, "GET", f"{V1}/users/profile", PROFILE, PROFILE, headers=me)
    refused(await api.get(f"{V1}/users/profile", headers=me), PROFILE)
    r = await api.get(f"{V1}/users/preferences", headers=me)
    assert r.status_code == 200 and r.headers["RateLimit-Remaining"] == str(DEFAULT - 1)


async def test_callers_without_credentials_are_counted_by_address(pipeline: tuple[httpx.AsyncClient, str]) -> None:
    api, _ = pipeline
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        await spend(anonymous, "GET", f"{V1}/workflows", DEFAULT, DEFAULT)  # each a 401, each counted
        refused(await anonymous.get(f"{V1}/workflows"), DEFAULT)
        # A bad token is no way around it.
        refused(await anonymous.get(f"{V1}/workflows", headers={"Authorization": "Bearer junk"}), DEFAULT)
    # A signed-in person from the same address has a budget of their own.
    assert (await api.get(f"{V1}/dashboard/overview")).status_code == 200


pytestmark = pytest.mark.asyncio(loop_scope="session")
