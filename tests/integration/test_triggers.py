# ruff: noqa: F811 - pytest fixtures imported by name
"""Trigger kinds and contacts over the real pipeline: webhooks by token, manual
runs, dry runs, tag actions that trigger workflows, and the loop guard."""

from __future__ import annotations

from typing import Any

import httpx
from conftest import wait_for
from pipeline import Sink, api, create_active, execution, executions_of, sink, wait_status  # noqa: F401 - fixtures

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


def hook(node_id: str, url: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "node_type": "action", "config": {"action_type": "webhook", "url": url, "method": "POST", **config}}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source_node": source, "target_node": target, **extra}


async def test_a_webhook_workflow_starts_by_token_once_per_idempotency_key(api: httpx.AsyncClient, sink: Sink) -> None:
    created = await api.post("/api/v1/workflows", json={
        "name": "inbound lead", "trigger_type": "webhook",
        "nodes": [TRIGGER, hook("crm", sink.url("crm"), payload={"lead": "{{input_data.email}}"})],
        "edges": [edge("trigger", "crm")],
    })
    assert created.status_code == 201, created.text
    workflow = created.json()
    url = workflow["trigger_config"]["webhook_url"]
    token = workflow["trigger_config"]["webhook_token"]
    assert url.endswith(f"/api/v1/workflows/{workflow['id']}/trigger?token={token}") and len(token) >= 24
    path = f"/api/v1/workflows/{workflow['id']}/trigger"
    public = httpx.AsyncClient(base_url=str(api.base_url))  # no JWT: the token is the credential
    try:
        inactive = await public.post(path, params={"token": token}, json={"email": "a@b.c"})
        assert inactive.status_code == 409
        assert (await api.post(f"/api/v1/workflows/{workflow['id']}/activate")).status_code == 200
        wrong = await public.post(path, params={"token": "nope"}, json={})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "AUTH_001"
        assert (await public.post("/api/v1/workflows/ghost/trigger", params={"token": token}, json={})).status_code == 404
        bad = await public.post(path, params={"token": token}, content=b"[1, 2]", headers={"Content-Type": "application/json"})
        assert bad.status_code == 422 and "body" in bad.json()["error"]["fields"]
        first = await public.post(path, json={"email": "lead@x.io"}, headers={"X-Fluxo-Token": token, "Idempotency-Key": "hook-1"})
        assert first.status_code == 202, first.text
        repeat = await public.post(path, params={"token": token}, json={"email": "lead@x.io"}, headers={"Idempotency-Key": "hook-1"})
        assert repeat.json()["execution_id"] == first.json()["execution_id"]
    finally:
        await public.aclose()
    done = await wait_status(api, first.json()["execution_id"], "completed")
    assert done["trigger_type"] == "webhook"
    assert [c.body for c in sink.to("crm")] == [{"lead": "lead@x.io"}]
    assert len(await executions_of(api, workflow["id"])) == 1


async def test_the_dry_run_runs_the_engine_without_side_effects(api: httpx.AsyncClient, sink: Sink) -> None:
    created = await api.post("/api/v1/workflows", json={
        "name": "dry", "trigger_type": "event", "trigger_config": {"event_type": "DRY"},
        "nodes": [TRIGGER, {"id": "c", "node_type": "condition", "config": {"condition": "input_data.amount > 100"}},
                  {"id": "wait", "node_type": "delay", "config": {"duration": 1, "unit": "days"}},
                  hook("big", sink.url("big"), payload={"amount": "{{input_data.amount}}"}), hook("small", sink.url("small"))],
        "edges": [edge("trigger", "c"), edge("c", "wait", label="true"), edge("wait", "big"), edge("c", "small", label="false")],
        "settings": {"timeout_seconds": 200000},
    })
    workflow_id = created.json()["id"]
    r = await api.post(f"/api/v1/workflows/{workflow_id}/test", json={"test_data": {"amount": 250}})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["success"] is True and result["dry_run"] is True
    assert result["execution_path"] == ["trigger", "c", "wait", "big"]
    assert result["results"]["big"]["would_send"]["payload"] == {"amount": 250}
    assert result["simulated_duration_seconds"] == 86400
    assert result["validation_results"]["is_valid"] is True
    assert {k: result["validation_results"][k] for k in ("all_nodes_connected", "no_circular_dependencies", "all_required_inputs_provided")} == {
        "all_nodes_connected": True, "no_circular_dependencies": True, "all_required_inputs_provided": True}
    small = (await api.post(f"/api/v1/workflows/{workflow_id}/test", json={"test_data": {"amount": 5}})).json()
    assert small["execution_path"] == ["trigger", "c", "small"]
    assert sink.calls == [] and await executions_of(api, workflow_id) == []
    strict = await api.post(f"/api/v1/workflows/{workflow_id}/test", json={"test_data": {}, "surprise": 1})
    assert strict.status_code == 422


async def test_a_tag_action_updates_the_contact_and_triggers_tag_workflows(api: httpx.AsyncClient, sink: Sink) -> None:
    await create_active(api, {
        "name": "tag new users", "trigger_type": "event", "trigger_config": {"event_type": "SIGNED_UP"},
        "nodes": [TRIGGER, {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "onboarding"}},
                  {"id": "status", "node_type": "action", "config": {"action_type": "update_user", "fields": {"plan": "trial"}}}],
        "edges": [edge("trigger", "tag"), edge("tag", "status")],
    })
    follow_up = await create_active(api, {
        "name": "when tagged onboarding", "trigger_type": "event",
        "trigger_config": {"event_type": "TAG_ADDED", "filters": {"operator": "and", "conditions": [
            {"field": "event.data.tag_name", "operator": "equals", "value": "onboarding"}]}},
        "nodes": [TRIGGER, hook("welcome", sink.url("welcome"), payload={"tags": "{{user.tags}}", "email": "{{user.email}}"})],
        "edges": [edge("trigger", "welcome")],
    })
    await api.post("/api/v1/triggers/process_event", json={"event_type": "SIGNED_UP", "user_id": "c-1", "user": {"email": "c1@x.io"}})

    async def welcomed() -> bool:
        return bool(await executions_of(api, follow_up, status="completed"))

    await wait_for(welcomed, timeout=60, what="the TAG_ADDED workflow")
    assert [c.body for c in sink.to("welcome")] == [{"tags": ["onboarding"], "email": "c1@x.io"}]

    async def contact() -> dict[str, Any] | None:
        r = await api.get("/api/v1/contacts/c-1")
        body = r.json() if r.status_code == 200 else None
        return body if body and body["profile"].get("custom_fields", {}).get("plan") == "trial" else None

    c = await wait_for(contact, timeout=30, what="the contact projection")
    assert c["tags"] == ["onboarding"] and c["email"] == "c1@x.io"
    listed = (await api.get("/api/v1/contacts", params={"tag": "onboarding"})).json()
    assert [x["id"] for x in listed["results"]] == ["c-1"]
    assert (await api.get("/api/v1/contacts/nobody")).status_code == 404


async def test_a_workflow_that_retriggers_itself_is_cut_by_the_loop_guard(api: httpx.AsyncClient) -> None:
    # Each run removes then adds the tag, so every TAG_ADDED starts the workflow again.
    workflow_id = await create_active(api, {
        "name": "ping-pong", "trigger_type": "event", "trigger_config": {"event_type": "TAG_ADDED"},
        "nodes": [TRIGGER, {"id": "off", "node_type": "action", "config": {"action_type": "remove_tag", "tag_name": "pong"}},
                  {"id": "on", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "pong"}}],
        "edges": [edge("trigger", "off"), edge("off", "on")],
    })
    await api.post("/api/v1/triggers/process_event", json={"event_type": "TAG_ADDED", "user_id": "loop-1", "data": {"tag_name": "pong"}})

    async def guarded() -> list[dict[str, Any]] | None:
        r = await api.get("/api/v1/contacts/loop-1")
        if r.status_code != 200 or r.json()["events_count"] < 17:
            return None
        return await executions_of(api, workflow_id, status="completed")

    runs = await wait_for(guarded, timeout=90, what="the chain to reach the guard")
    # Started at depths 1..8; the event at depth 8 is refused; nothing runs after.
    assert len(runs) == 8
    assert await executions_of(api, workflow_id, status="running") == []
    assert len(await executions_of(api, workflow_id)) == 8
