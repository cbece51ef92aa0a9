# ruff: noqa: F811 - pytest fixtures imported by name
"""Inbound webhooks (seed 002) over the real pipeline: CRUD with a write-only HMAC
secret, the public /hooks/{token} call in immediate and last_node modes, refusals,
idempotency, the call log, the test endpoint, workspace isolation and replay."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from conftest import Processes, free_port, wait_for
from pipeline import (  # noqa: F401
    Sink,
    api,
    assert_secrets_nowhere,
    create_active,
    executions_of,
    sink,
    wait_status,
)

from infra.bootstrap import bootstrap_admin
from infra.migrations import migrate
from infra.settings import Settings
from infra.topic_admin import ensure_topics
from projections.replay import replay_check

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True
# Every process writes its log to a file: the secrets check reads them all.
pytestmark = pytest.mark.process_logs

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}
SECRET = f"whsec-{uuid.uuid4().hex}-never-shown"
TABLES = ("webhooks", "webhook_logs")


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    """Its own database as well as its own topics: replay_check compares whole tables."""
    name = f"fluxo_webhooks_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(services.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    mine = services.model_copy(update={
        "topic_prefix": f"{services.topic_prefix}{uuid.uuid4().hex[:6]}.", "api_port": free_port(),
        "database_url": f"{services.dsn.rsplit('/', 1)[0]}/{name}",
    })
    await ensure_topics(mine)
    await migrate(mine.dsn)
    return mine


def edge(source: str, target: str) -> dict[str, Any]:
    return {"source_node": source, "target_node": target}


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def workflow_to_sink(api: httpx.AsyncClient, sink: Sink, path: str, *, active: bool = True) -> str:
    body = {
        "name": f"to {path}", "trigger_type": "webhook",
        "nodes": [TRIGGER, {"id": "post", "node_type": "action", "config": {
            "action_type": "webhook", "url": sink.url(path), "method": "POST", "payload": {"got": "{{input_data.order}}"}}}],
        "edges": [edge("trigger", "post")],
    }
    if active:
        return await create_active(api, body)
    created = await api.post("/api/v1/workflows", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def greeting_workflow(api: httpx.AsyncClient) -> str:
    return await create_active(api, {
        "name": "greeter", "trigger_type": "webhook",
        "nodes": [TRIGGER,
                  {"id": "shape", "node_type": "transform", "config": {"mapping": {"name": "{{input_data.name}}"}}},
                  {"id": "reply", "node_type": "transform", "config": {"mapping": {"greeting": "Hello {{input_data.name}}"}}}],
        "edges": [edge("trigger", "shape"), edge("shape", "reply")],
    })


async def hook(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await api.post("/api/v1/webhooks", json={"name": "hook", **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def logs(api: httpx.AsyncClient, webhook_id: str, count: int, **params: Any) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]] | None:
        r = await api.get(f"/api/v1/webhooks/{webhook_id}/logs", params={"page_size": 100, **params})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        return list(results) if len(results) >= count else None

    found: list[dict[str, Any]] = await wait_for(listed, timeout=30, what=f"{count} log lines of {webhook_id}")
    return found


def public(api: httpx.AsyncClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=str(api.base_url), timeout=30)  # no JWT: the token is the credential


async def test_crud_hmac_and_the_secret_is_never_shown(
    api: httpx.AsyncClient, sink: Sink, settings: Settings, processes: Processes
) -> None:
    workflow_id = await workflow_to_sink(api, sink, "signed")
    created = await hook(api, name="Signed orders", description="from the shop", workflow_id=workflow_id,
                         auth_mode="hmac", secret=SECRET)
    assert SECRET not in str(created)
    assert created["secret_configured"] is True and created["signature_header"] == "X-Fluxo-Signature"
    assert created["methods"] == ["POST"] and created["response_mode"] == "immediate"
    assert created["response_timeout_seconds"] == 10 and created["is_active"] is True and created["version"] == 1
    token = created["token"]
    assert len(token) >= 24 and created["url"].endswith(f"/api/v1/hooks/{token}")
    webhook_id = created["id"]

    # Bad definitions: the field at fault is named.
    for body, field in (
        ({"workflow_id": "no-such-workflow"}, "workflow_id"),
        ({"workflow_id": workflow_id, "auth_mode": "hmac"}, "secret"),
        ({"workflow_id": workflow_id, "auth_mode": "hmac", "secret": "short"}, "secret"),
        ({"workflow_id": workflow_id, "methods": ["DELETE"]}, "methods.0"),
        ({"workflow_id": workflow_id, "response_timeout_seconds": 31}, "response_timeout_seconds"),
        ({"workflow_id": workflow_id, "surprise": 1}, "surprise"),
    ):
        r = await api.post("/api/v1/webhooks", json={"name": "bad", **body})
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)

    other = await hook(api, name="Plain", workflow_id=workflow_id)
    assert other["secret_configured"] is False and other["auth_mode"] == "none"
    listed = (await api.get("/api/v1/webhooks", params={"search": "signed"})).json()
    assert set(listed) == {"count", "next", "previous", "results"}
    assert [w["id"] for w in listed["results"]] == [webhook_id] and listed["count"] == 1
    by_workflow = (await api.get("/api/v1/webhooks", params={"workflow": workflow_id, "page_size": 1})).json()
    assert by_workflow["count"] == 2 and len(by_workflow["results"]) == 1 and by_workflow["next"] and by_workflow["previous"] is None
    assert (await api.get("/api/v1/webhooks", params={"workflow": "nope"})).json()["count"] == 0

    patched = await api.patch(f"/api/v1/webhooks/{webhook_id}", json={"name": "Signed orders v2", "response_timeout_seconds": 5})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Signed orders v2" and patched.json()["version"] == 2
    assert patched.json()["secret_configured"] is True and patched.json()["token"] == token  # a secret left out stays
    put = await api.put(f"/api/v1/webhooks/{webhook_id}", json={"description": "signed by the shop"})
    assert put.json()["description"] == "signed by the shop" and put.json()["name"] == "Signed orders v2"
    assert (await api.patch(f"/api/v1/webhooks/{webhook_id}", json={"methods": "POST"})).status_code == 422
    fetched = (await api.get(f"/api/v1/webhooks/{webhook_id}")).json()
    assert fetched["version"] == 3 and SECRET not in str(fetched)

    async with public(api) as client:
        path = f"/api/v1/hooks/{token}"
        body = b'{"order": "A-1"}'
        missing = await client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "AUTH_001"
        assert "X-Fluxo-Signature" in missing.json()["error"]["fields"]
        wrong = await client.post(path, content=body, headers={"X-Fluxo-Signature": sign(body, "not-the-secret-at-all")})
        assert wrong.status_code == 401 and wrong.json()["error"]["fields"]["X-Fluxo-Signature"] == "does not match"
        tampered = await client.post(path, content=b'{"order": "A-2"}', headers={"X-Fluxo-Signature": sign(body)})
        assert tampered.status_code == 401
        good = await client.post(path, content=body, headers={
            "Content-Type": "application/json", "X-Fluxo-Signature": sign(body),
            "Authorization": "Bearer should-not-be-logged", "Cookie": "session=nope", "X-Shop": "north"})
        assert good.status_code == 202, good.text
        assert good.json()["status"] == "queued" and good.json()["webhook_id"] == webhook_id

    done = await wait_status(api, good.json()["execution_id"], "completed")
    assert done["trigger_type"] == "webhook"
    assert [c.body for c in sink.to("signed")] == [{"got": "A-1"}]

    lines = await logs(api, webhook_id, 4)
    assert [line["response"]["status"] for line in lines] == [202, 401, 401, 401]  # newest first
    accepted = lines[0]
    assert accepted["success"] is True and accepted["outcome"] == "accepted" and accepted["test"] is False
    assert accepted["execution_id"] == good.json()["execution_id"] and accepted["execution_status"] == "completed"
    assert accepted["request"]["body"] == {"order": "A-1"} and accepted["request"]["method"] == "POST"
    assert accepted["request"]["headers"]["x-shop"] == "north"
    for name in ("authorization", "cookie", "x-fluxo-signature"):
        assert name not in accepted["request"]["headers"]
    assert accepted["response"]["body"]["execution_id"] == good.json()["execution_id"]
    assert accepted["duration_ms"] > 0
    assert all(line["success"] is False and line["outcome"] == "rejected" for line in lines[1:])
    assert (await api.get(f"/api/v1/webhooks/{webhook_id}/logs", params={"status": 401})).json()["count"] == 3
    stats = (await api.get(f"/api/v1/webhooks/{webhook_id}")).json()["statistics"]
    assert stats["calls_total"] == 4 and stats["calls_failed"] == 3

    # The test endpoint signs its sample with the stored secret and goes the same way.
    tested = await api.post(f"/api/v1/webhooks/{webhook_id}/test", json={"body": {"order": "T-1"}})
    assert tested.status_code == 200, tested.text
    assert tested.json()["success"] is True and tested.json()["status_code"] == 202
    marked = (await api.get(f"/api/v1/webhooks/{webhook_id}/logs", params={"test": True})).json()["results"]
    assert [line["id"] for line in marked] == [tested.json()["log_id"]]  # listed as soon as the test answers
    await wait_status(api, tested.json()["execution_id"], "completed")

    # HMAC without a stored secret is refused.
    unsigned = await api.patch(f"/api/v1/webhooks/{other['id']}", json={"auth_mode": "hmac"})
    assert unsigned.status_code == 422 and "secret" in unsigned.json()["error"]["fields"]

    # A new token: the old URL stops working.
    renewed = await api.post(f"/api/v1/webhooks/{webhook_id}/regenerate_token")
    assert renewed.status_code == 200 and renewed.json()["token"] != token
    async with public(api) as client:
        gone = await client.post(f"/api/v1/hooks/{token}", content=body, headers={"X-Fluxo-Signature": sign(body)})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "AUTO_001"
        again = await client.post(f"/api/v1/webhooks/execute/{renewed.json()['token']}", content=body,
                                  headers={"X-Fluxo-Signature": sign(body), "Content-Type": "application/json"})
        assert again.status_code == 202, again.text
    await wait_status(api, again.json()["execution_id"], "completed")

    assert (await api.delete(f"/api/v1/webhooks/{webhook_id}")).status_code == 204
    assert (await api.get(f"/api/v1/webhooks/{webhook_id}")).status_code == 404
    assert (await api.get(f"/api/v1/webhooks/{webhook_id}/logs")).status_code == 404
    assert (await api.get("/api/v1/webhooks", params={"workflow": workflow_id})).json()["count"] == 1
    async with public(api) as client:
        assert (await client.post(f"/api/v1/webhooks/execute/{renewed.json()['token']}", json={})).status_code == 404

    await assert_secrets_nowhere(settings, processes, [SECRET])


async def test_immediate_last_node_timeout_and_idempotency(api: httpx.AsyncClient, sink: Sink) -> None:
    to_sink = await workflow_to_sink(api, sink, "orders")
    immediate = await hook(api, workflow_id=to_sink)
    greeter = await greeting_workflow(api)
    sync = await hook(api, workflow_id=greeter, response_mode="last_node", methods=["get", "POST"])
    slow_workflow = await create_active(api, {
        "name": "slow", "trigger_type": "webhook", "settings": {"timeout_seconds": 7200},
        "nodes": [TRIGGER, {"id": "wait", "node_type": "delay", "config": {"delay_seconds": 3600}},
                  {"id": "after", "node_type": "transform", "config": {"mapping": {"done": True}}}],
        "edges": [edge("trigger", "wait"), edge("wait", "after")],
    })
    slow = await hook(api, workflow_id=slow_workflow, response_mode="last_node", response_timeout_seconds=1)

    async with public(api) as client:
        # immediate: 202 with the execution id, the run goes on by itself.
        first = await client.post(f"/api/v1/hooks/{immediate['token']}", json={"order": "B-1"}, headers={"Idempotency-Key": "order-B-1"})
        assert first.status_code == 202, first.text
        repeat = await client.post(f"/api/v1/hooks/{immediate['token']}", json={"order": "B-1"}, headers={"Idempotency-Key": "order-B-1"})
        assert repeat.status_code == 202 and repeat.json() == first.json()
        assert (await client.get(f"/api/v1/hooks/{immediate['token']}")).status_code == 405

        # last_node: the answer is the last node's output.
        answered = await client.post(f"/api/v1/hooks/{sync['token']}", json={"name": "Ada"})
        assert answered.status_code == 200, answered.text
        result = answered.json()
        assert result["status"] == "completed" and result["last_node"] == "reply"
        assert result["output"] == {"greeting": "Hello Ada"}
        assert result["execution_output"] == {"name": "Ada", "greeting": "Hello Ada"}
        by_get = await client.get(f"/api/v1/webhooks/execute/{sync['token']}", params={"name": "Bob"})
        assert by_get.status_code == 200 and by_get.json()["output"] == {"greeting": "Hello Bob"}
        keyed = [await client.post(f"/api/v1/hooks/{sync['token']}", json={"name": "Cy"}, headers={"Idempotency-Key": "cy"}) for _ in range(2)]
        assert keyed[0].json() == keyed[1].json() and keyed[0].json()["output"] == {"greeting": "Hello Cy"}

        # last_node bounded: a run longer than the bound answers 202 with its id.
        timed = await client.post(f"/api/v1/hooks/{slow['token']}", json={})
        assert timed.status_code == 202, timed.text
        assert timed.json()["status"] == "running" and timed.json()["execution_id"]

    done = await wait_status(api, first.json()["execution_id"], "completed")
    assert done["input_data"] == {"order": "B-1"}
    assert [c.body for c in sink.to("orders")] == [{"got": "B-1"}]
    assert len(await executions_of(api, to_sink)) == 1
    assert len(await executions_of(api, greeter)) == 3
    assert (await api.get(f"/api/v1/executions/{timed.json()['execution_id']}")).json()["status"] == "running"

    slow_log = (await logs(api, slow["id"], 1))[0]
    assert slow_log["outcome"] == "timeout" and slow_log["success"] is False and slow_log["response"]["status"] == 202
    assert 1000 <= slow_log["duration_ms"] < 10000
    sync_logs = await logs(api, sync["id"], 4)
    assert sync_logs[-1]["response"]["body"]["output"] == {"greeting": "Hello Ada"}
    assert any(line["request"]["method"] == "GET" and line["request"]["query"] == {"name": "Bob"} for line in sync_logs)
    immediate_logs = await logs(api, immediate["id"], 3)
    assert [line["response"]["status"] for line in immediate_logs] == [405, 202, 202]
    assert immediate_logs[1]["execution_id"] == immediate_logs[2]["execution_id"]


async def test_refusals_the_test_endpoint_workspaces_and_replay(api: httpx.AsyncClient, sink: Sink, settings: Settings) -> None:
    draft = await workflow_to_sink(api, sink, "draft", active=False)
    parked = await hook(api, workflow_id=draft)
    live_workflow = await workflow_to_sink(api, sink, "live")
    live = await hook(api, workflow_id=live_workflow)
    disabled = await hook(api, workflow_id=live_workflow, is_active=False)

    async with public(api) as client:
        inactive = await client.post(f"/api/v1/hooks/{parked['token']}", json={"order": "C-1"})
        assert inactive.status_code == 409 and "workflow_id" in inactive.json()["error"]["fields"]
        off = await client.post(f"/api/v1/hooks/{disabled['token']}", json={})
        assert off.status_code == 409 and "is_active" in off.json()["error"]["fields"]
        unknown = await client.post("/api/v1/hooks/no-such-token-at-all-here-123", json={})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "AUTO_001"
        path = f"/api/v1/hooks/{live['token']}"
        for content in (b"{not json", b"[1, 2]", b'"text"'):
            bad = await client.post(path, content=content, headers={"Content-Type": "application/json"})
            assert bad.status_code == 422 and "body" in bad.json()["error"]["fields"], bad.text
        too_big = await client.post(path, json={"pad": "x" * (settings.max_event_bytes + 10)})
        assert too_big.status_code == 413 and "body" in too_big.json()["error"]["fields"]
        way_too_big = await client.post(path, content=b"x" * (settings.max_request_bytes + 10))
        assert way_too_big.status_code == 413  # refused by the body limit before any handler
        form = await client.post(path, data={"order": "F-1"})
        assert form.status_code == 202, form.text
    await wait_status(api, form.json()["execution_id"], "completed")
    assert [c.body for c in sink.to("live")] == [{"got": "F-1"}]
    assert sink.to("draft") == []

    lines = await logs(api, live["id"], 5)
    assert [line["response"]["status"] for line in lines] == [202, 413, 422, 422, 422]
    failed = (await api.get(f"/api/v1/webhooks/{live['id']}/logs", params={"success": False})).json()
    assert failed["count"] == 4 and all(line["error"] for line in failed["results"])
    assert failed["results"][0]["request"]["truncated"] is True and failed["results"][0]["request"]["size"] > settings.max_event_bytes
    page = (await api.get(f"/api/v1/webhooks/{live['id']}/logs", params={"page_size": 2, "page": 2})).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"] and page["previous"]
    assert (await logs(api, parked["id"], 1))[0]["outcome"] == "rejected"

    # The test endpoint reports what a caller would get, and logs it as a test.
    refused = (await api.post(f"/api/v1/webhooks/{parked['id']}/test")).json()
    assert refused["success"] is False and refused["status_code"] == 409 and refused["execution_id"] is None
    sample = await api.post(f"/api/v1/webhooks/{live['id']}/test")
    assert sample.json()["success"] is True and sample.json()["status_code"] == 202
    run = await wait_status(api, sample.json()["execution_id"], "completed")
    assert run["input_data"]["test"] is True
    tests = (await api.get(f"/api/v1/webhooks/{live['id']}/logs", params={"test": True})).json()["results"]
    assert [t["id"] for t in tests] == [sample.json()["log_id"]] and tests[0]["execution_id"] == run["id"]
    assert (await api.post(f"/api/v1/webhooks/{live['id']}/test", json={"body": [1]})).status_code == 422

    # Every row belongs to its workspace: another workspace sees nothing of these.
    strangers = settings.model_copy(update={"admin_email": "stranger@fluxo.test", "admin_workspace": "Strangers"})
    await bootstrap_admin(strangers)

    async def stranger_token() -> str | None:
        r = await api.post("/api/v1/auth/login", json={"email": "stranger@fluxo.test", "password": settings.admin_password})
        return r.json()["access_token"] if r.status_code == 200 else None

    headers = {"Authorization": f"Bearer {await wait_for(stranger_token, timeout=30, what='stranger login')}"}
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"name": "mine"}), ("PUT", "", {"name": "mine"}),
                                 ("DELETE", "", None), ("GET", "/logs", None), ("POST", "/test", None),
                                 ("POST", "/regenerate_token", None)):
        r = await api.request(method, f"/api/v1/webhooks/{live['id']}{suffix}", json=body, headers=headers)
        assert r.status_code == 404, (method, suffix, r.text)
    assert (await api.get("/api/v1/webhooks", headers=headers)).json()["count"] == 0
    theirs = await api.post("/api/v1/webhooks", headers=headers, json={"name": "steal", "workflow_id": live_workflow})
    assert theirs.status_code == 422 and "workflow_id" in theirs.json()["error"]["fields"]
    assert (await api.get("/api/v1/webhooks/no-such-id")).status_code == 404
    assert (await api.get("/api/v1/webhooks/no-such-id/logs")).status_code == 404
    assert (await api.get(f"/api/v1/webhooks/{live['id']}")).json()["is_active"] is True

    # Both tables come from the log alone.
    report = await replay_check(settings)
    mine = {t.table: t for t in report.tables if t.table in TABLES}
    assert set(mine) == set(TABLES)
    assert all(t.same and t.live_rows > 0 for t in mine.values()), [t for t in mine.values() if not t.same]
