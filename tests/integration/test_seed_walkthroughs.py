# ruff: noqa: F811 - pytest fixtures imported by name
"""The seeds' walkthroughs, as written: their paths (trailing slashes, seed 003's base URL),
their bodies, and a client that does not follow redirects (`curl -s … | jq -r .id`)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from conftest import wait_for
from pipeline import api  # noqa: F401 - fixtures

from infra.settings import Settings

SHARE_PIPELINE = True

SEED_003 = "/api/v1/workflow/api"


async def _id(r: httpx.Response) -> str:
    """What `jq -r '.id'` reads: a 3xx with an empty body would give `null` here."""
    assert r.status_code in (200, 201), (r.status_code, r.text)
    value = r.json()["id"]
    assert isinstance(value, str) and value
    return value


async def test_seed_003_complete_workflow_setup_example(api: httpx.AsyncClient, settings: Settings) -> None:
    u = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=30, follow_redirects=False) as curl:
        # Get Authentication Token: POST /api/v1/usr/login/ with username and password.
        login = await curl.post("/api/v1/usr/login/", json={"username": settings.admin_email.split("@")[0],
                                                             "password": settings.admin_password})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}", "Content-Type": "application/json"}

        # 1. Create a trigger
        trigger_id = await _id(await curl.post(f"{SEED_003}/triggers/", headers=headers, json={
            "name": f"Discount Request {u}",
            "trigger_type": "MESSAGE_RECEIVED",
            "filters": {"operator": "or", "conditions": [
                {"field": "event.data.content", "operator": "icontains", "value": "discount"},
                {"field": "event.data.content", "operator": "icontains", "value": "coupon"},
            ]},
        }))
        # 2. Create actions
        action_id = await _id(await curl.post(f"{SEED_003}/actions/", headers=headers, json={
            "name": f"Send Discount Code {u}",
            "action_type": "send_message",
            "configuration": {"message": "Here is your discount code: SAVE20"},
            "order": 1,
        }))
        # 3. Create workflow
        workflow_id = await _id(await curl.post(f"{SEED_003}/workflows/", headers=headers, json={
            "name": f"Discount Code Campaign {u}",
            "description": "Send discount codes when requested",
            "status": "DRAFT",
        }))
        # 4. Associate trigger with workflow
        r = await curl.post(f"{SEED_003}/workflows/{workflow_id}/add_trigger/", headers=headers,
                            json={"trigger_id": trigger_id, "priority": 100})
        assert r.status_code == 200, r.text
        # The one call the seed leaves out: the action joins the workflow (seed 003's add_action).
        r = await curl.post(f"{SEED_003}/workflows/{workflow_id}/add_action/", headers=headers,
                            json={"action_id": action_id, "order": 1})
        assert r.status_code == 200, r.text
        # 5. Activate workflow
        r = await curl.post(f"{SEED_003}/workflows/{workflow_id}/activate/", headers=headers)
        assert r.status_code == 200, r.text
        # 6. Test with an event
        customer = f"customer-{u}"
        r = await curl.post(f"{SEED_003}/triggers/process_event/", headers=headers, json={
            "event_type": "MESSAGE_RECEIVED",
            "data": {"message_id": "test-123", "content": "Do you have any discount codes?",
                     "timestamp": "2024-01-01T10:00:00Z"},
            "user_id": customer,
            "conversation_id": "conv-456",
        })
        assert r.status_code == 202, r.text
        assert r.json()["success"] is True

        # Monitoring Workflow Performance, as the seed reads it.
        async def completed() -> list[dict[str, Any]]:
            r = await curl.get(f"{SEED_003}/workflow-executions/", headers=headers,
                               params={"page_size": 10, "workflow": workflow_id})
            assert r.status_code == 200, r.text
            return [e for e in r.json()["results"] if e["status"].lower() == "completed"]

        runs = await wait_for(completed, what="the discount workflow's execution")
        assert len(runs) == 1
        stats = await curl.get(f"{SEED_003}/workflows/statistics/", headers=headers)
        assert stats.status_code == 200, stats.text
        assert stats.json()["total_executions"] >= 1 and stats.json()["successful_executions"] >= 1, stats.text
        failed = await curl.get(f"{SEED_003}/workflow-executions/", headers=headers, params={"status": "FAILED", "workflow": workflow_id})
        assert failed.status_code == 200 and failed.json()["count"] == 0, failed.text

        # The reply went out: the send_message step succeeded with the seed's text.
        logs = await curl.get(f"{SEED_003}/workflow-action-executions/", headers=headers, params={"workflow": workflow_id})
        assert logs.status_code == 200, logs.text
        steps = logs.json()["results"]
        assert [s["success"] for s in steps] == [True], steps


async def test_a_trailing_slash_is_served_directly_on_every_method(api: httpx.AsyncClient) -> None:
    u = uuid.uuid4().hex[:8]
    created = await api.post("/api/v1/workflows/", json={"name": f"Slash {u}"})
    assert created.status_code == 201, created.text  # not a 307
    workflow_id = created.json()["id"]
    for method, path, body in (
        ("GET", f"/api/v1/workflows/{workflow_id}/", None),
        ("PATCH", f"/api/v1/workflows/{workflow_id}/", {"description": "with a slash"}),
        ("GET", "/api/v1/workflows/?page_size=5", None),
        ("DELETE", f"/api/v1/workflows/{workflow_id}/", None),
    ):
        r = await api.request(method, path, json=body)
        assert 200 <= r.status_code < 300, (method, path, r.status_code, r.text)
    listed = await api.get("/api/v1/workflows/", params={"page_size": 1})
    # Paging links carry the canonical path.
    nxt = listed.json()["next"]
    assert nxt is None or "/api/v1/workflows?" in nxt


async def test_an_action_without_its_integration_fails_with_seed_004s_code(api: httpx.AsyncClient) -> None:
    """Seed 004's table: AUTO_004 "Integration non configurée" (AUTO_003 is a circular dependency)."""
    u = uuid.uuid4().hex[:8]
    created = await api.post("/api/v1/workflows/", json={
        "name": f"No SMTP {u}", "trigger_type": "manual",
        "nodes": [
            {"id": "start", "node_type": "trigger", "config": {}},
            {"id": "mail", "node_type": "action", "config": {
                "action_type": "send_email", "recipient": "someone@example.com", "subject": "Hi", "body": "Hello"}},
        ],
        "edges": [{"source_node": "start", "target_node": "mail"}],
    })
    assert created.status_code == 201, created.text
    started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute/", json={"input_data": {}})
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]

    async def finished() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/executions/{execution_id}/")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body["status"] != "running" else None

    detail = await wait_for(finished, what="the execution to fail")
    assert detail["status"] == "failed", detail
    steps = {d["node_id"]: d for d in detail["execution_details"]}
    assert steps["mail"]["error"]["code"] == "AUTO_004", steps["mail"]


async def test_seed_003s_ten_minute_wait_runs_and_dry_runs(api: httpx.AsyncClient) -> None:
    """Seed 003's "Wait 10 Minutes" action: no default execution timeout cuts it at 300 s, and
    its dry run succeeds on the virtual clock (it answered success false, error null)."""
    u = uuid.uuid4().hex[:8]
    wait = await api.post("/api/v1/actions/", json={
        "name": f"Wait 10 Minutes {u}", "action_type": "wait", "configuration": {"duration": 10, "unit": "minutes"}})
    assert wait.status_code == 201, wait.text
    tried = await api.post(f"/api/v1/actions/{wait.json()['id']}/test/", json={"context": {"user": {"id": f"u-{u}"}}})
    assert tried.status_code == 200, tried.text
    body = tried.json()
    assert body["success"] is True and body["error"] is None, body
    assert body["simulated_delay_seconds"] == 600
    # A workflow waiting as long validates without a timeout warning; with a shorter timeout it warns.
    created = await api.post("/api/v1/workflows/", json={
        "name": f"Waits {u}", "trigger_type": "manual",
        "nodes": [{"id": "start", "node_type": "trigger", "config": {}},
                  {"id": "wait", "node_type": "delay", "config": {"duration": 10, "unit": "minutes"}}],
        "edges": [{"source_node": "start", "target_node": "wait"}],
    })
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    report = (await api.get(f"/api/v1/workflows/{workflow_id}/validate/")).json()
    assert report["is_valid"] is True and report["warnings"] == [], report
    patched = await api.patch(f"/api/v1/workflows/{workflow_id}/", json={"settings": {"timeout_seconds": 300}})
    assert patched.status_code == 200, patched.text
    report = (await api.get(f"/api/v1/workflows/{workflow_id}/validate/")).json()
    assert report["is_valid"] is True
    warned = [w for w in report["warnings"] if w["node_id"] == "wait"]
    assert warned and "timeout_seconds (300)" in warned[0]["message"], report


async def test_a_manual_run_with_seed_003s_body_runs_as_that_user_and_event(api: httpx.AsyncClient) -> None:
    """Seed 003's execute body `{"context": {"user": …, "event": {"type", "data"}}}`: templates,
    the contact, the custom-code condition and the `user` filter all see that user."""
    u = uuid.uuid4().hex[:8]
    customer = f"customer-{u}"
    created = await api.post("/api/v1/workflows/", json={
        "name": f"Manual seed 003 {u}", "trigger_type": "manual",
        "nodes": [
            {"id": "start", "node_type": "trigger", "config": {}},
            {"id": "vip", "node_type": "condition", "config": {
                "use_custom_code": True,
                "custom_code": "user_score = context.get('user', {}).get('score', 0)\nresult = user_score > 100"}},
            {"id": "greet", "node_type": "transform", "config": {"mapping": {
                "greeting": "Hello {{user.first_name}}", "why": "{{event.data.reason}}", "kind": "{{event.type}}"}}},
            {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag": "vip"}},
        ],
        "edges": [
            {"source_node": "start", "target_node": "vip"},
            {"source_node": "vip", "target_node": "greet", "label": "true"},
            {"source_node": "greet", "target_node": "tag"},
        ],
    })
    assert created.status_code == 201, created.text
    started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute/", json={"context": {
        "user": {"id": customer, "email": "test@example.com", "first_name": "John", "score": 150},
        "event": {"type": "MANUAL_TRIGGER", "data": {"reason": "Testing workflow"}},
    }})
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]

    async def finished() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/executions/{execution_id}")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body["status"] != "running" else None

    detail = await wait_for(finished, what="the manual run to end")
    assert detail["status"] == "completed", detail
    assert detail["execution_path"] == ["start", "vip", "greet", "tag"], detail["execution_path"]
    steps = {d["node_id"]: d for d in detail["execution_details"]}
    assert steps["greet"]["output_data"] == {"greeting": "Hello John", "why": "Testing workflow", "kind": "MANUAL_TRIGGER"}
    assert "vip" in steps["tag"]["output_data"]["tags"], steps["tag"]
    listed = await api.get("/api/v1/executions", params={"user": customer})
    assert [e["id"] for e in listed.json()["results"]] == [execution_id], listed.text
