# ruff: noqa: F811 - pytest fixtures imported by name
"""Inbound webhooks (seed 002) over the real pipeline: CRUD with a write-only HMAC
secret, the public /hooks/{token} call in immediate and last_node modes, refusals,
idempotency, the call log, the test endpoint, workspace isolation and replay."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio
from conftest import Processes, free_port, wait_for
from pipeline import (  # noqa: F401
    Sink,
    api,
    assert_secrets_nowhere,
    create_active,
    executions_of,
    records_holding,
    sink,
    wait_status,
)

from infra.bootstrap import bootstrap_admin
from infra.kafka_io import make_producer
from infra.migrations import migrate
from infra.settings import Settings
from infra.topic_admin import ensure_topics
from ingest.webhooks import token_digest
from projections.replay import replay_check
from schemas.topics import DEFINITIONS, TRIGGER_LOG

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


def sign(body: bytes, secret: str = SECRET, at: float | None = None) -> str:
    """The timestamped form: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    stamp = int(time.time() if at is None else at)
    return f"t={stamp},v1=" + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_legacy(body: bytes, secret: str = SECRET) -> str:
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
    assert patched.json()["secret_configured"] is True  # a secret left out stays
    # The token was answered once: later answers show its prefix only.
    assert patched.json()["token"] is None and patched.json()["url"] is None
    assert patched.json()["token_prefix"] == token[:8] == created["token_prefix"]
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


async def test_webhook_tokens_are_on_no_topic_and_in_no_log(api: httpx.AsyncClient, sink: Sink, settings: Settings) -> None:
    """Only the token's digest and prefix are kept: after a create, calls, a regenerated token
    and calls of it, no record of the definitions or trigger-log topics (nor any other) holds
    either token, and answers after the first show only its prefix."""
    workflow_id = await workflow_to_sink(api, sink, "tokens")
    created = await hook(api, workflow_id=workflow_id, auth_mode="hmac", secret=SECRET)
    first = created["token"]
    assert created["token_prefix"] == first[:8] and created["signature_format"] == "timestamped"
    body = b'{"order": "T-1"}'
    async with public(api) as client:
        for path in (f"/api/v1/hooks/{first}", f"/api/v1/webhooks/execute/{first}"):
            r = await client.post(path, content=body, headers={"X-Fluxo-Signature": sign(body), "Content-Type": "application/json"})
            assert r.status_code == 202, r.text
        refused = await client.post(f"/api/v1/hooks/{first}", content=body, headers={"X-Fluxo-Signature": "t=1,v1=00"})
        assert refused.status_code == 401
    renewed = await api.post(f"/api/v1/webhooks/{created['id']}/regenerate_token")
    second = renewed.json()["token"]
    assert renewed.status_code == 200 and second != first and renewed.json()["token_prefix"] == second[:8]
    async with public(api) as client:
        assert (await client.post(f"/api/v1/hooks/{first}", content=body, headers={"X-Fluxo-Signature": sign(body)})).status_code == 404
        again = await client.post(f"/api/v1/hooks/{second}", content=body, headers={"X-Fluxo-Signature": sign(body)})
        assert again.status_code == 202, again.text
    await wait_status(api, again.json()["execution_id"], "completed")

    fetched = (await api.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert fetched["token"] is None and fetched["url"] is None and fetched["token_prefix"] == second[:8]
    listed = (await api.get("/api/v1/webhooks", params={"workflow": workflow_id})).json()["results"]
    assert [w["token"] for w in listed] == [None]
    lines = await logs(api, created["id"], 4)  # the old token's 404 is no call of this webhook
    assert len(lines) == 4
    paths = [line["request"]["path"] for line in lines]
    assert paths[-1] == f"/api/v1/hooks/{first[:8]}..." and paths[-2] == f"/api/v1/webhooks/execute/{first[:8]}..."
    assert paths[0] == f"/api/v1/hooks/{second[:8]}..."
    for token in (first, second):
        assert token not in str(lines) and token not in str(fetched)
        assert await records_holding(settings, token.encode(), (DEFINITIONS, TRIGGER_LOG)) == [], "a token on a topic"
        assert await records_holding(settings, token.encode()) == [], "a token on a topic"
        assert await records_holding(settings, token_digest(token).encode(), (DEFINITIONS,)) != []  # what is kept
    conn = await asyncpg.connect(settings.dsn)
    try:
        columns = {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'webhooks'")}
        assert "token" not in columns and {"token_digest", "token_prefix", "signature_format"} <= columns
        stored = await conn.fetchrow("SELECT token_digest, token_prefix FROM webhooks WHERE id = $1", created["id"])
        assert dict(stored) == {"token_digest": token_digest(second), "token_prefix": second[:8]}
    finally:
        await conn.close()


async def test_timestamped_signatures_and_the_legacy_form(api: httpx.AsyncClient, sink: Sink, settings: Settings) -> None:
    """X-Fluxo-Signature: t=<unix seconds>,v1=<hex HMAC of "t.body">, refused outside the
    tolerance window (FLUXO_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS, 300 s) with 401 and the
    reason; the old sha256=<hex> only on a webhook whose signature_format is legacy."""
    assert settings.webhook_signature_tolerance_seconds == 300
    workflow_id = await workflow_to_sink(api, sink, "stamped")
    created = await hook(api, workflow_id=workflow_id, auth_mode="hmac", secret=SECRET)
    assert created["signature_format"] == "timestamped"
    path = f"/api/v1/hooks/{created['token']}"
    body = b'{"order": "S-1"}'
    json_type = {"Content-Type": "application/json"}

    async def call(signature: str, content: bytes = body) -> httpx.Response:
        async with public(api) as client:
            return await client.post(path, content=content, headers={**json_type, "X-Fluxo-Signature": signature})

    def refused(r: httpx.Response, reason: str) -> None:
        assert r.status_code == 401 and r.json()["error"]["code"] == "AUTH_001", r.text
        assert reason in r.json()["error"]["fields"]["X-Fluxo-Signature"], r.text
        assert r.headers["WWW-Authenticate"] == "Signature"

    now = time.time()
    good = await call(sign(body, at=now))
    assert good.status_code == 202, good.text
    refused(await call(sign(body, at=now - 3600)), "stale: signed")
    refused(await call(sign(body, at=now - 3600)), "outside the 300s window")
    refused(await call(sign(body, at=now + 3600)), "from the future")
    refused(await call(sign(body, at=now), b'{"order": "S-2"}'), "does not match")
    refused(await call(sign(body, "not-the-secret-at-all")), "does not match")
    stale = sign(body, at=now - 3600)
    refused(await call(stale.replace(f"t={int(now - 3600)}", f"t={int(now)}")), "does not match")  # the time is signed
    refused(await call("t=soon,v1=abc"), "malformed")
    refused(await call(sign_legacy(body)), "signature_format is timestamped")
    async with public(api) as client:
        refused(await client.post(path, content=body, headers=json_type), "missing")

    bad = await api.patch(f"/api/v1/webhooks/{created['id']}", json={"signature_format": "sometimes"})
    assert bad.status_code == 422 and "signature_format" in bad.json()["error"]["fields"]
    legacy = await api.patch(f"/api/v1/webhooks/{created['id']}", json={"signature_format": "legacy"})
    assert legacy.status_code == 200 and legacy.json()["signature_format"] == "legacy"
    old_form = await call(sign_legacy(body))
    assert old_form.status_code == 202, old_form.text
    still = await call(sign(body))
    assert still.status_code == 202, still.text
    refused(await call(sign(body, at=now - 3600)), "stale")  # a legacy webhook still checks a timestamp it is given
    refused(await call(sign_legacy(b"{}")), "does not match")

    for r in (good, old_form, still):
        await wait_status(api, r.json()["execution_id"], "completed")
    assert [c.body for c in sink.to("stamped")] == [{"got": "S-1"}] * 3
    lines = await logs(api, created["id"], 14)
    assert len(lines) == 14 and sum(line["response"]["status"] == 401 for line in lines) == 11
    assert all("x-fluxo-signature" not in line["request"]["headers"] for line in lines)


async def test_a_webhook_of_a_v1_record_keeps_its_url_and_legacy_signatures(
    api: httpx.AsyncClient, sink: Sink, settings: Settings
) -> None:
    """A webhook defined before tokens were digests (a fluxo.webhook.defined.v1 record, token in
    clear) is read as v2: its URL still works, and its senders' sha256=<hex> signatures too."""
    workflow_id = await workflow_to_sink(api, sink, "old-hook")
    profile = (await api.get("/api/v1/users/profile")).json()
    workspace_id = profile["workspace"]["id"]
    webhook_id, token = str(uuid.uuid4()), f"old-{uuid.uuid4().hex}-token"
    box = settings.secret_box()
    stamp = "2026-01-02T03:04:05Z"
    record = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "urn:fluxo:api/webhooks", "type": "fluxo.webhook.defined.v1",
        "subject": webhook_id, "time": stamp, "datacontenttype": "application/json", "workspaceid": workspace_id,
        "data": {"id": webhook_id, "workspace_id": workspace_id, "version": 1, "name": "Before digests", "description": "",
                 "workflow_id": workflow_id, "token": token, "methods": ["POST"], "auth_mode": "hmac",
                 "secret_sealed": box.seal({"secret": SECRET}, webhook_id), "response_mode": "immediate",
                 "response_timeout_seconds": 10.0, "is_active": True, "deleted": False, "created_by": None,
                 "created_at": stamp, "updated_at": stamp},
    }
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(DEFINITIONS), key=f"{workspace_id}:webhook:{webhook_id}".encode(),
                                     value=orjson.dumps(record), headers=[("content-type", b"application/cloudevents+json")])
    finally:
        await producer.stop()

    async def projected() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/webhooks/{webhook_id}")
        return dict(r.json()) if r.status_code == 200 else None

    shown = await wait_for(projected, timeout=30, interval=0.2, what="the v1 webhook projected")
    assert shown["signature_format"] == "legacy" and shown["token_prefix"] == token[:8] and shown["token"] is None
    body = b'{"order": "L-1"}'
    async with public(api) as client:
        r = await client.post(f"/api/v1/hooks/{token}", content=body,
                              headers={"X-Fluxo-Signature": sign_legacy(body), "Content-Type": "application/json"})
        assert r.status_code == 202, r.text
    await wait_status(api, r.json()["execution_id"], "completed")
    assert [c.body for c in sink.to("old-hook")] == [{"got": "L-1"}]
    line = (await logs(api, webhook_id, 1))[0]
    assert line["request"]["path"] == f"/api/v1/hooks/{token[:8]}..."
