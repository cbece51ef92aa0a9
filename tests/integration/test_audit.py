"""The audit log through the real pipeline: a series of calls, then `/audit-logs` shows each of them
with who made it, which action on which route and resource, the status and outcome; filters,
roles, workspace isolation; no secret on the audit topic or in the table; the table replays;
and a call whose audit record Kafka refuses is not answered as a success."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from conftest import Processes, wait_for
from pipeline import (
    _grep_topics,
    add_person,
    add_workspace,
    assert_secrets_nowhere,
    create_active,
    isolated_settings,
    login_as,
    running_pipeline,
    wait_status,
)

from infra.settings import Settings
from projections.replay import replay_check
from schemas.envelope import deterministic_id
from schemas.topics import AUDIT

pytestmark = pytest.mark.process_logs

V1 = "/api/v1"
TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}
WRONG_PASSWORD = "wrong-" + uuid.uuid4().hex
INTEGRATION_SECRET = "sk_live_" + uuid.uuid4().hex
VIEWER_PASSWORD = "viewer-" + uuid.uuid4().hex


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    # A database of its own: the replay check compares whole tables.
    return await isolated_settings(services)


def rid() -> str:
    return f"req-{uuid.uuid4().hex}"


async def entries(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{V1}/audit-logs", params={"page_size": 100, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def logged(client: httpx.AsyncClient, request_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Wait until every one of these calls is in the audit log; entries by request id."""

    async def all_there() -> dict[str, dict[str, Any]] | None:
        found = {e["request_id"]: e for e in (await entries(client))["results"]}
        return found if all(r in found for r in request_ids) else None

    result: dict[str, dict[str, Any]] = await wait_for(all_there, timeout=30, what=f"{len(request_ids)} audit entries")
    return result


def check(entry: dict[str, Any], **expected: Any) -> None:
    got = {k: entry[k] for k in expected}
    assert got == expected, entry


async def test_the_audit_log_shows_the_calls_made(settings: Settings, processes: Processes) -> None:
    async with running_pipeline(settings, processes) as (api, workspace_id):
        owner_email = settings.admin_email
        owner_id = deterministic_id("user", owner_email)  # infra/bootstrap.py's id for the owner
        calls: dict[str, str] = {}

        async def call(name: str, client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
            calls[name] = rid()
            return await client.request(method, f"{V1}{path}", headers={"X-Request-ID": calls[name]}, **kw)

        created = await call("create", api, "POST", "/workflows", json={
            "name": "audited", "trigger_type": "manual", "nodes": [TRIGGER], "edges": []})
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == calls["create"]
        workflow_id = created.json()["id"]
        updated = await call("update", api, "PATCH", f"/workflows/{workflow_id}",
                             json={"name": "audited again", "description": "renamed"})
        assert updated.status_code == 200, updated.text
        deleted = await call("delete", api, "DELETE", f"/workflows/{workflow_id}")
        assert deleted.status_code == 204, deleted.text
        invalid = await call("invalid", api, "POST", "/workflows", json={"name": "", "surprise": 1})
        assert invalid.status_code == 422, invalid.text
        async with httpx.AsyncClient(base_url=str(api.base_url), timeout=30) as anonymous:
            failed = await call("failed_login", anonymous, "POST", "/auth/login",
                                json={"email": owner_email, "password": WRONG_PASSWORD})
            assert failed.status_code == 401, failed.text
            stranger = await call("stranger_login", anonymous, "POST", "/auth/login",
                                  json={"email": "nobody@example.com", "password": WRONG_PASSWORD})
            assert stranger.status_code == 401

        viewer_id = await add_person(
            settings, workspace_id=workspace_id, email="viewer@fluxo.test", role="viewer", password=VIEWER_PASSWORD)
        await add_person(settings, workspace_id=workspace_id, email="editor@fluxo.test", role="editor", password=VIEWER_PASSWORD)
        async with login_as(api, "viewer@fluxo.test", VIEWER_PASSWORD) as viewer, \
                login_as(api, "editor@fluxo.test", VIEWER_PASSWORD) as editor:
            refused = await call("viewer", viewer, "POST", "/workflows", json={
                "name": "not allowed", "trigger_type": "manual", "nodes": [TRIGGER], "edges": []})
            assert refused.status_code == 403, refused.text
            for reader in (viewer, editor):
                assert (await reader.get(f"{V1}/audit-logs")).status_code == 403
                assert (await reader.get(f"{V1}/audit-logs/anything")).status_code == 403

        integration = await call("integration", api, "POST", "/integrations", json={
            "name": "CRM", "type": "webhook", "provider": "custom", "configuration": {"api_key": INTEGRATION_SECRET}})
        assert integration.status_code == 201, integration.text
        hooked = await create_active(api, {"name": "hooked", "trigger_type": "webhook", "nodes": [TRIGGER], "edges": []})
        webhook = (await api.post(f"{V1}/webhooks", json={"name": "inbound", "workflow_id": hooked})).json()
        token = webhook["token"]
        async with httpx.AsyncClient(base_url=str(api.base_url), timeout=30) as public:
            hook_call = await call("hook", public, "POST", f"/hooks/{token}", json={"order": 7})
            assert hook_call.status_code == 202, hook_call.text
        event_call = await call("event", api, "POST", "/triggers/process_event", json={"event_type": "AUDIT_CHECK"})
        assert event_call.status_code == 202, event_call.text
        # Nothing may still be moving when the replay check compares the tables.
        await wait_status(api, hook_call.json()["execution_id"], "completed")

        # Ingest calls write no audit record: the event and the webhook call record say who.
        ingest = ("stranger_login", "hook", "event")
        found = await logged(api, [r for name, r in calls.items() if name not in ingest])
        by = {name: found[request_id] for name, request_id in calls.items() if request_id in found}
        owner = {"type": "user", "user_id": owner_id, "email": owner_email, "api_key_id": None}
        check(by["create"], actor=owner, action="workflows.create", method="POST", route="/api/v1/workflows",
              resource_type="workflow", resource_id=workflow_id, status_code=201, outcome="success")
        assert set(by["create"]["changed_fields"]) == {"name", "trigger_type", "nodes", "edges"}
        check(by["update"], actor=owner, action="workflows.update", method="PATCH",
              route="/api/v1/workflows/{workflow_id}", resource_type="workflow", resource_id=workflow_id,
              status_code=200, outcome="success", changed_fields=["name", "description"])
        check(by["delete"], actor=owner, action="workflows.delete", method="DELETE",
              route="/api/v1/workflows/{workflow_id}", resource_id=workflow_id, status_code=204,
              outcome="success", changed_fields=[])
        check(by["invalid"], actor=owner, action="workflows.create", resource_id=None, status_code=422,
              outcome="invalid", changed_fields=["name", "surprise"])
        check(by["failed_login"], action="auth.login", route="/api/v1/auth/login", status_code=401, outcome="denied",
              actor={"type": "anonymous", "user_id": None, "email": owner_email, "api_key_id": None},
              changed_fields=["email", "password"])
        check(by["viewer"], action="workflows.create", status_code=403, outcome="denied",
              actor={"type": "user", "user_id": viewer_id, "email": "viewer@fluxo.test", "api_key_id": None})
        check(by["integration"], actor=owner, action="integrations.create", resource_type="integration",
              resource_id=integration.json()["id"], status_code=201, outcome="success")
        assert "stranger_login" not in by, "a login of no known account belongs to no workspace"
        assert "hook" not in by and "event" not in by, "ingest calls are audited by their own records"
        hook_log = (await api.get(f"{V1}/webhooks/{webhook['id']}/logs")).json()["results"]
        assert [line["execution_id"] for line in hook_log] == [hook_call.json()["execution_id"]]
        for entry in by.values():
            assert entry["client_ip"] == "127.0.0.1" and entry["user_agent"].startswith("python-httpx/")
            assert entry["duration_ms"] >= 0 and datetime.fromisoformat(entry["occurred_at"])
        assert (await api.get(f"{V1}/audit-logs/{by['update']['id']}")).json() == by["update"]

        # Filters, and the list is newest first.
        everything = await entries(api)
        times = [datetime.fromisoformat(e["occurred_at"]) for e in everything["results"]]
        assert times == sorted(times, reverse=True) and everything["count"] == len(everything["results"])

        async def ids(**params: Any) -> set[str]:
            return {e["request_id"] for e in (await entries(api, **params))["results"]} & set(calls.values())

        assert await ids(action="workflows.update") == {calls["update"]}
        assert await ids(resource_id=workflow_id) == {calls[n] for n in ("create", "update", "delete")}
        assert await ids(outcome="denied") == {calls["failed_login"], calls["viewer"]}
        assert await ids(method="DELETE") == {calls["delete"]}
        assert await ids(status_code=422) == {calls["invalid"]}
        assert await ids(resource_type="integration") == {calls["integration"]}
        assert await ids(user_id=viewer_id) == {calls["viewer"]}
        assert await ids(actor="VIEWER@fluxo.test") == {calls["viewer"]}
        assert await ids(actor=owner_email, outcome="denied") == {calls["failed_login"]}
        assert await ids(search="integrations") == {calls["integration"]}
        assert await ids(api_key_id="no-such-key") == set()
        since = by["integration"]["occurred_at"]
        assert await ids(created_at__gte=since) == {calls["integration"]}  # the hook and event calls are not audited
        assert calls["integration"] not in await ids(created_at__lte=by["viewer"]["occurred_at"])
        paged = (await api.get(f"{V1}/audit-logs", params={"page_size": 2})).json()
        assert len(paged["results"]) == 2 and paged["next"] and paged["previous"] is None
        assert paged["count"] == (await entries(api))["count"]
        bad = await api.get(f"{V1}/audit-logs", params={"outcome": "maybe", "status_code": 1000})
        assert bad.status_code == 422 and {"outcome", "status_code"} <= set(bad.json()["error"]["fields"])

        # Another workspace's owner sees none of it.
        elsewhere = await add_workspace(settings, "other owner's workspace")
        await add_person(settings, workspace_id=elsewhere, email="other-owner@fluxo.test", role="owner", password=VIEWER_PASSWORD)
        async with login_as(api, "other-owner@fluxo.test", VIEWER_PASSWORD) as other:
            theirs = await entries(other)
            assert not {e["id"] for e in theirs["results"]} & {e["id"] for e in found.values()}
            assert {e["actor"]["email"] for e in theirs["results"]} <= {"other-owner@fluxo.test"}
            for entry in by.values():
                assert (await other.get(f"{V1}/audit-logs/{entry['id']}")).status_code == 404
            assert (await ids_of(other, resource_id=workflow_id)) == set()

        # Kept, though no workspace lists it: the login of an unknown account.
        conn = await asyncpg.connect(settings.dsn)
        try:
            row = await conn.fetchrow("SELECT * FROM audit_logs WHERE request_id = $1", calls["stranger_login"])
            assert row is not None and row["workspace_id"] == "" and row["actor_email"] == "nobody@example.com"
            for secret in (WRONG_PASSWORD, INTEGRATION_SECRET, VIEWER_PASSWORD, token):
                leaked = await conn.fetchval(
                    "SELECT count(*) FROM audit_logs t WHERE strpos(to_jsonb(t)::text, $1) > 0", secret)
                assert leaked == 0, "a secret in audit_logs"
        finally:
            await conn.close()
        assert await _grep_topics(settings, token.encode(), (AUDIT,)) == [], "the webhook token on the audit topic"

        report = await replay_check(settings)
        table = next(t for t in report.tables if t.table == "audit_logs")
        assert table.live_rows >= len(calls) and table.same, table
        assert report.same, [t for t in report.tables if not t.same]
    await assert_secrets_nowhere(settings, processes, [WRONG_PASSWORD, INTEGRATION_SECRET, VIEWER_PASSWORD])


async def _first(client: httpx.AsyncClient, **params: Any) -> dict[str, Any] | None:
    results = (await entries(client, **params))["results"]
    return dict(results[0]) if results else None


async def ids_of(client: httpx.AsyncClient, **params: Any) -> set[str]:
    return {e["id"] for e in (await entries(client, **params))["results"]}


async def _max_message_bytes(settings: Settings, value: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(
            ConfigResourceType.TOPIC, settings.topic(AUDIT), configs={"max.message.bytes": str(value)})])
    finally:
        await admin.close()


async def test_a_call_kafka_would_not_audit_is_not_answered_as_a_success(settings: Settings, processes: Processes) -> None:
    async with running_pipeline(settings, processes) as (api, _):
        body = {"trigger_type": "manual", "nodes": [TRIGGER], "edges": []}
        request_id = rid()
        # The broker refuses any audit record (too large for the topic), and accepts everything else.
        await _max_message_bytes(settings, 64)
        try:
            refused = await api.post(f"{V1}/workflows", json={"name": "unaudited", **body},
                                     headers={"X-Request-ID": request_id})
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["code"] == "INFRA_503" and "audit" in error["fields"]
            assert refused.headers["retry-after"] == "5"
        finally:
            await _max_message_bytes(settings, 1024 * 1024)
        # The handler had written before the audit failed: the 503 says "unknown", not "nothing happened".
        listed = (await api.get(f"{V1}/workflows", params={"search": "unaudited"})).json()["results"]
        assert [w["name"] for w in listed] == ["unaudited"]

        # Once Kafka takes records again, calls answer and are audited as before.
        again = await api.post(f"{V1}/workflows", json={"name": "audited", **body})
        assert again.status_code == 201, again.text
        entry = await wait_for(lambda: _first(api, resource_id=again.json()["id"]), timeout=30, what="the audit entry")
        assert entry["action"] == "workflows.create" and entry["outcome"] == "success"
        # One workspace, one partition: the refused call would have been projected before this one.
        assert request_id not in {e["request_id"] for e in (await entries(api))["results"]}
