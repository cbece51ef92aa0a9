"""Sign-in against the real pipeline: login, refresh, expiry, lockout, headers on every answer."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import add_person, running_pipeline

from api.security import Principal, issue
from infra.settings import Settings

V1 = "/api/v1"
ORIGIN = "https://app.example.com"
ENV = {
    "FLUXO_LOGIN_MAX_FAILURES": "3",
    "FLUXO_LOGIN_FAILURE_WINDOW_SECONDS": "60",
    "FLUXO_LOGIN_LOCKOUT_SECONDS": "3",
    "FLUXO_CORS_ORIGINS": ORIGIN,
}


@pytest_asyncio.fixture(scope="module")
async def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    procs = Processes(settings, log_dir=tmp_path_factory.mktemp("auth-logs"))
    try:
        async with running_pipeline(settings, procs, **ENV) as (client, workspace_id):
            yield client, workspace_id
    finally:
        procs.stop_all()


def person() -> str:
    return f"auth-{uuid.uuid4().hex[:8]}@fluxo.test"


async def test_login_by_email_or_username_and_refresh(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    email = person()
    await add_person(settings, workspace_id=ws, email=email, role="editor", password="right-password")
    by_email = await api.post(f"{V1}/auth/login", json={"email": email.upper(), "password": "right-password"})
    assert by_email.status_code == 200, by_email.text
    answer = by_email.json()
    assert answer["token_type"] == "bearer" and answer["expires_in"] == settings.jwt_access_ttl_seconds
    assert answer["workspace_id"] == ws and answer["role"] == "editor"
    by_username = await api.post(f"{V1}/auth/login", json={"username": email.replace("@", "."), "password": "right-password"})
    assert by_username.status_code == 200, by_username.text

    me = await api.get(f"{V1}/users/profile", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == email and me.json()["role"] == "editor"

    refreshed = await api.post(f"{V1}/auth/refresh", json={"refresh_token": answer["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["workspace_id"] == ws
    again = await api.get(f"{V1}/users/profile", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"})
    assert again.status_code == 200 and again.json()["id"] == me.json()["id"]

    # Each token for its own purpose only.
    as_access = await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {answer['refresh_token']}"})
    assert as_access.status_code == 401 and as_access.json()["error"]["code"] == "AUTH_001"
    assert as_access.headers["WWW-Authenticate"] == "Bearer"
    as_refresh = await api.post(f"{V1}/auth/refresh", json={"refresh_token": answer["access_token"]})
    assert as_refresh.status_code == 401


async def test_expired_forged_and_missing_tokens_are_refused(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    email = person()
    user_id = await add_person(settings, workspace_id=ws, email=email, role="viewer")
    secret = settings.resolved_jwt_secret()
    principal = Principal(user_id=user_id, workspace_id=ws, role="viewer", email=email)
    fresh = issue(secret, principal, "access", 60)
    assert (await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200

    expired = issue(secret, principal, "access", -1)
    r = await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    expired_refresh = issue(secret, principal, "refresh", -1)
    r = await api.post(f"{V1}/auth/refresh", json={"refresh_token": expired_refresh})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    forged = issue("not-the-server-secret-" * 3, principal, "access", 60)
    assert (await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {forged}"})).status_code == 401
    # A token that claims a role or workspace it does not have: the membership decides.
    claims_owner = issue(secret, Principal(user_id, ws, "owner", email), "access", 60)
    r = await api.post(f"{V1}/workflows", json={"name": "nope"}, headers={"Authorization": f"Bearer {claims_owner}"})
    assert r.status_code == 403
    elsewhere = issue(secret, Principal(user_id, str(uuid.uuid4()), "owner", email), "access", 60)
    assert (await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {elsewhere}"})).status_code == 401

    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        r = await anonymous.get(f"{V1}/workflows")
        assert r.status_code == 401 and r.json()["error"]["code"] == "AUTH_001"
        r = await anonymous.get(f"{V1}/workflows", headers={"Authorization": "Basic abc"})
        assert r.status_code == 401


async def test_login_does_not_tell_whether_the_account_exists(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    email = person()
    await add_person(settings, workspace_id=ws, email=email, role="viewer", password="right-password")
    wrong = await api.post(f"{V1}/auth/login", json={"email": email, "password": "wrong-password"})
    nobody = await api.post(f"{V1}/auth/login", json={"email": person(), "password": "wrong-password"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    missing = await api.post(f"{V1}/auth/login", json={"password": "x"})
    assert missing.status_code == 422 and "email" in missing.json()["error"]["fields"]
    unknown_field = await api.post(f"{V1}/auth/login", json={"email": email, "password": "x", "remember": True})
    assert unknown_field.status_code == 422


async def test_lockout_after_repeated_failures_and_its_end(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, ws = pipeline
    email = person()
    await add_person(settings, workspace_id=ws, email=email, role="editor", password="right-password")
    right = {"email": email, "password": "right-password"}
    wrong = {"email": email, "password": "wrong-password"}

    # A success resets the count: two failures, a success, two failures stay under 3.
    for _ in range(2):
        assert (await api.post(f"{V1}/auth/login", json=wrong)).status_code == 401
    assert (await api.post(f"{V1}/auth/login", json=right)).status_code == 200
    for _ in range(2):
        assert (await api.post(f"{V1}/auth/login", json=wrong)).status_code == 401
    assert (await api.post(f"{V1}/auth/login", json=right)).status_code == 200

    for _ in range(3):
        assert (await api.post(f"{V1}/auth/login", json=wrong)).status_code == 401
    locked_at = time.monotonic()
    refused = await api.post(f"{V1}/auth/login", json=right)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "RATE_001"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3
    # Another spelling of the same identifier is the same identifier.
    assert (await api.post(f"{V1}/auth/login", json={**right, "email": email.upper()})).status_code == 429

    # An address nobody has locks the same way: the answers do not reveal accounts.
    nobody = {"email": person(), "password": "whatever"}
    for _ in range(3):
        assert (await api.post(f"{V1}/auth/login", json=nobody)).status_code == 401
    assert (await api.post(f"{V1}/auth/login", json=nobody)).status_code == 429

    async def unlocked() -> bool:
        r = await api.post(f"{V1}/auth/login", json=right)
        assert r.status_code in (200, 429), r.text
        return r.status_code == 200

    await wait_for(unlocked, timeout=20, interval=0.25, what="the lockout to end")
    assert time.monotonic() - locked_at >= 2  # it did last (3 s, less the time to send the attempts)
    # The success reset the count: one failure does not lock again.
    assert (await api.post(f"{V1}/auth/login", json=wrong)).status_code == 401
    assert (await api.post(f"{V1}/auth/login", json=right)).status_code == 200


async def test_security_headers_cors_and_no_store(pipeline: tuple[httpx.AsyncClient, str], settings: Settings) -> None:
    api, _ = pipeline
    for path in ("/health", f"{V1}/workflows", f"{V1}/nope", "/openapi.json"):
        r = await api.get(path)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        assert r.headers["Referrer-Policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], path
        assert "Strict-Transport-Security" not in r.headers, path  # local mode: plain HTTP
    assert "default-src 'none'" in (await api.get(f"{V1}/workflows")).headers["Content-Security-Policy"]
    docs = await api.get("/docs")
    assert docs.status_code == 200
    # Swagger UI's script and stylesheet come from its CDN and it runs one inline script.
    policy = docs.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in policy
    assert "https://cdn.jsdelivr.net" in docs.text

    assert (await api.get(f"{V1}/workflows")).headers["Cache-Control"] == "no-store"
    token = await api.post(f"{V1}/auth/login", json={"email": settings.admin_email, "password": settings.admin_password})
    assert token.headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in (await api.get("/health")).headers

    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    r = await api.options(f"{V1}/workflows", headers=preflight)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    r = await api.get(f"{V1}/workflows", headers={"Origin": ORIGIN})
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ratelimit-remaining" in r.headers["Access-Control-Expose-Headers"].lower()
    r = await api.options(f"{V1}/workflows", headers={**preflight, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = await api.get(f"{V1}/workflows", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


pytestmark = pytest.mark.asyncio(loop_scope="session")
