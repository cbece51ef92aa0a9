"""API keys against the real pipeline: shown once, stored as a digest, scoped, refused once revoked."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import add_person, assert_secrets_nowhere, login, running_pipeline

from infra.bootstrap import bootstrap_admin
from infra.settings import Settings
from schemas.records import Role

V1 = "/api/v1"
KEY = re.compile(r"^fx_[a-z0-9]{8}_[A-Za-z0-9_-]{32,64}$")


@pytest_asyncio.fixture(scope="module")
async def pipeline(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, str, Processes]]:
    procs = Processes(settings, log_dir=tmp_path_factory.mktemp("api-key-logs"))
    try:
        async with running_pipeline(settings, procs) as (client, workspace_id):
            yield client, workspace_id, procs
    finally:
        procs.stop_all()


# Every key this module saw: none may appear in a topic or a log (checked last).
SEEN: list[str] = []


async def create_key(api: httpx.AsyncClient, headers: dict[str, str] | None = None, **body: object) -> dict[str, object]:
    r = await api.post(f"{V1}/api-keys", json={"name": "machine", **body}, headers=headers)
    assert r.status_code == 201, r.text
    created: dict[str, object] = r.json()
    SEEN.append(str(created["key"]))
    return created


def bearer(key: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_is_shown_once_and_works_as_bearer_or_x_api_key(
    pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings
) -> None:
    api, ws, _ = pipeline
    created = await create_key(api, name="CRM sync", role="editor")
    key = str(created["key"])
    assert KEY.match(key), key
    assert created["prefix"] == key[:11] and created["role"] == "editor" and created["workspace_id"] == ws
    assert created["is_active"] is True and created["revoked_at"] is None and created["last_used_at"] is None

    listed = (await api.get(f"{V1}/api-keys")).json()
    mine = next(k for k in listed["results"] if k["id"] == created["id"])
    assert "key" not in mine and mine["prefix"] == created["prefix"] and mine["name"] == "CRM sync"

    conn = await asyncpg.connect(settings.dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM api_keys WHERE id = $1", created["id"])
    finally:
        await conn.close()
    assert row["digest"] != key and len(row["digest"]) == 64 and key not in str(dict(row))

    async with httpx.AsyncClient(base_url=str(api.base_url)) as machine:
        for headers in (bearer(key), {"X-API-Key": key}):
            r = await machine.get(f"{V1}/workflows", headers=headers)
            assert r.status_code == 200, r.text
        r = await machine.post(f"{V1}/workflows", json={"name": "made by a key"}, headers={"X-API-Key": key})
        assert r.status_code == 201, r.text
        assert (await api.get(f"{V1}/workflows/{r.json()['id']}")).status_code == 200  # same workspace
        r = await machine.post(f"{V1}/triggers/process_event", json={"event_type": "KEY_EVENT"}, headers=bearer(key))
        assert r.status_code == 202, r.text

        # A key does not manage keys, members or workspaces, whatever its role.
        for method, path, body in (
            ("GET", "api-keys", None), ("POST", "api-keys", {"name": "more"}),
            ("DELETE", f"api-keys/{created['id']}", None), ("POST", "workspaces", {"name": "mine"}),
            ("POST", f"workspaces/{ws}/members", {"email": "x@example.com"}),
        ):
            r = await machine.request(method, f"{V1}/{path}", json=body, headers=bearer(key))
            assert r.status_code == 403, (method, path, r.text)

        for bad in ("fx_short_abc", "fx_" + "a" * 8 + "_" + "b" * 43, key[:-1] + ("A" if key[-1] != "A" else "B")):
            r = await machine.get(f"{V1}/workflows", headers={"X-API-Key": bad})
            assert r.status_code == 401 and r.json()["error"]["message"] == "invalid API key", bad

    async def used() -> bool:
        listed = (await api.get(f"{V1}/api-keys", params={"page_size": 100})).json()["results"]
        return next(k for k in listed if k["id"] == created["id"])["last_used_at"] is not None

    await wait_for(used, timeout=10, what="last_used_at")

    # The audit log names the key, not a person, as the actor of what it wrote.
    async def audited() -> dict[str, object] | None:
        page = (await api.get(f"{V1}/audit-logs", params={"action": "workflows.create", "api_key_id": created["id"]})).json()
        return page["results"][0] if page["results"] else None

    entry = await wait_for(audited, timeout=20, what="the key's write in the audit log")
    assert entry["actor"]["type"] == "api_key" and entry["actor"]["api_key_id"] == created["id"], entry
    assert entry["status_code"] == 201 and entry["outcome"] == "success"


async def test_a_revoked_key_is_refused_as_soon_as_delete_answered(
    pipeline: tuple[httpx.AsyncClient, str, Processes],
) -> None:
    api, _, _ = pipeline
    created = await create_key(api, name="to revoke")
    key = created["key"]
    async with httpx.AsyncClient(base_url=str(api.base_url)) as machine:
        assert (await machine.get(f"{V1}/workflows", headers=bearer(key))).status_code == 200
        r = await api.delete(f"{V1}/api-keys/{created['id']}")
        assert r.status_code == 204, r.text
        # No waiting: the DELETE answered after the projection applied the revocation.
        for headers in (bearer(key), {"X-API-Key": str(key)}):
            r = await machine.get(f"{V1}/workflows", headers=headers)
            assert r.status_code == 401 and "revoked" in r.json()["error"]["message"], r.text
    listed = (await api.get(f"{V1}/api-keys", params={"page_size": 100})).json()["results"]
    row = next(k for k in listed if k["id"] == created["id"])
    assert row["revoked_at"] is not None and row["is_active"] is False
    assert (await api.delete(f"{V1}/api-keys/{created['id']}")).status_code == 204  # already revoked: still gone
    assert (await api.delete(f"{V1}/api-keys/{uuid.uuid4()}")).status_code == 404


async def test_expiry_and_bad_input(pipeline: tuple[httpx.AsyncClient, str, Processes]) -> None:
    api, _, _ = pipeline
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = await api.post(f"{V1}/api-keys", json={"name": "old", "expires_at": past})
    assert r.status_code == 422 and "expires_at" in r.json()["error"]["fields"]
    for body, field in (({"name": ""}, "name"), ({"name": "x", "role": "god"}, "role"), ({"name": "x", "scope": "all"}, "scope"),
                        ({"name": "x", "expires_at": "2030-01-01T00:00:00"}, "expires_at"), ({"name": "a\u0000"}, "name")):
        r = await api.post(f"{V1}/api-keys", json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
    # NUL in a path is refused before routing (api/limits.py InputGuard), so the field is the path.
    r = await api.delete(f"{V1}/api-keys/a%00b")
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"path": "contains a NUL character"}, r.text

    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    created = await create_key(api, name="short-lived", expires_at=soon)
    async with httpx.AsyncClient(base_url=str(api.base_url)) as machine:
        first = await machine.get(f"{V1}/workflows", headers=bearer(created["key"]))
        assert first.status_code == 200, first.text

        async def expired() -> bool:
            r = await machine.get(f"{V1}/workflows", headers=bearer(created["key"]))
            return r.status_code == 401 and "expired" in r.json()["error"]["message"]

        await wait_for(expired, timeout=15, interval=0.25, what="the key to expire")


async def test_roles_on_api_keys(pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings) -> None:
    api, ws, _ = pipeline
    people = {}
    roles: tuple[Role, ...] = ("admin", "editor", "viewer")
    for role in roles:
        email = f"keys-{role}-{uuid.uuid4().hex[:6]}@fluxo.test"
        await add_person(settings, workspace_id=ws, email=email, role=role)
        people[role] = await login(api, email)

    # Editors and viewers manage no keys.
    for role in ("editor", "viewer"):
        assert (await api.get(f"{V1}/api-keys", headers=people[role])).status_code == 403
        assert (await api.post(f"{V1}/api-keys", json={"name": "x"}, headers=people[role])).status_code == 403
    owner_key = await create_key(api, name="owner's", role="viewer")
    for role in ("editor", "viewer"):
        assert (await api.delete(f"{V1}/api-keys/{owner_key['id']}", headers=people[role])).status_code == 403

    # An admin manages keys, up to its own role.
    r = await api.post(f"{V1}/api-keys", json={"name": "too high", "role": "owner"}, headers=people["admin"])
    assert r.status_code == 403 and "role" in r.json()["error"]["fields"]
    admin_key = await create_key(api, headers=people["admin"], name="admin's", role="admin")
    assert admin_key["created_by"] != owner_key["created_by"]
    assert (await api.get(f"{V1}/api-keys", headers=people["admin"])).status_code == 200

    # A viewer key reads and writes nothing.
    async with httpx.AsyncClient(base_url=str(api.base_url)) as machine:
        assert (await machine.get(f"{V1}/workflows", headers=bearer(owner_key["key"]))).status_code == 200
        r = await machine.post(f"{V1}/workflows", json={"name": "no"}, headers=bearer(owner_key["key"]))
        assert r.status_code == 403
        r = await machine.post(f"{V1}/triggers/process_event", json={"event_type": "X"}, headers=bearer(owner_key["key"]))
        assert r.status_code == 403
    assert (await api.delete(f"{V1}/api-keys/{admin_key['id']}", headers=people["admin"])).status_code == 204


async def test_another_workspace_neither_sees_nor_revokes_keys(
    pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings
) -> None:
    api, _, _ = pipeline
    created = await create_key(api, name="ours")
    other = settings.model_copy(update={"admin_email": f"keys-other-{uuid.uuid4().hex[:6]}@fluxo.test", "admin_workspace": "Other"})
    await bootstrap_admin(other)

    async def signed_in() -> dict[str, str] | None:
        r = await api.post(f"{V1}/auth/login", json={"email": other.admin_email, "password": other.admin_password})
        return {"Authorization": f"Bearer {r.json()['access_token']}"} if r.status_code == 200 else None

    theirs = await wait_for(signed_in, timeout=30, what="the other owner signs in")
    assert (await api.delete(f"{V1}/api-keys/{created['id']}", headers=theirs)).status_code == 404
    listed = (await api.get(f"{V1}/api-keys", headers=theirs)).json()
    assert listed["count"] == 0
    their_key = await create_key(api, headers=theirs, name="theirs")
    async with httpx.AsyncClient(base_url=str(api.base_url)) as machine:
        mine = (await machine.post(f"{V1}/workflows", json={"name": "ours"}, headers=bearer(created["key"]))).json()
        r = await machine.get(f"{V1}/workflows/{mine['id']}", headers=bearer(their_key["key"]))
        assert r.status_code == 404
    assert (await api.delete(f"{V1}/api-keys/{their_key['id']}")).status_code == 404


@pytest.mark.process_logs
async def test_no_key_in_any_topic_or_log(pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings) -> None:
    """Last in the module: it stops the processes to read their logs."""
    _, _, procs = pipeline
    assert len(SEEN) >= 5
    await assert_secrets_nowhere(settings, procs, SEEN)


pytestmark = pytest.mark.asyncio(loop_scope="session")
