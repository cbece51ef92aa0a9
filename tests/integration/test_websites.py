# ruff: noqa: F811 - pytest fixtures imported by name
"""Seed 000's automations API (`/websites/{website_id}/automations`) over the real pipeline."""

from __future__ import annotations

import httpx
from conftest import wait_for
from pipeline import Sink, api, sink, wait_status  # noqa: F401 - fixtures

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

BASE = "/api/v1/websites/site-1/automations"


async def test_an_automation_is_a_workflow_with_seed_000s_shape_and_stats(api: httpx.AsyncClient, sink: Sink) -> None:
    created = await api.post(BASE, json={
        "name": "Welcome Email",
        "description": "Send welcome email to new visitors",
        "triggerType": "event",
        "triggerConfig": {"eventType": "signup", "conditions": {"field": "data.plan", "operator": "equals", "value": "pro"}},
        "actions": [
            {"actionType": "webhook", "actionConfig": {"url": sink.url("welcome"), "payload": {"to": "{{data.email}}", "subject": "Welcome!"}}},
            {"actionType": "add_tag", "actionConfig": {"tag_name": "welcomed"}},
        ],
    })
    assert created.status_code == 201, created.text
    automation = created.json()
    assert automation["websiteId"] == "site-1" and automation["isActive"] is True
    assert automation["stats"] == {"totalExecutions": 0, "successfulExecutions": 0, "failedExecutions": 0, "successRate": 0.0, "last30Days": 0}
    assert [a["actionType"] for a in automation["actions"]] == ["webhook", "add_tag"]
    assert automation["triggerConfig"]["eventType"] == "signup"
    automation_id = automation["id"]

    # Stored as an ordinary workflow: visible, runnable and counted like one.
    workflow = (await api.get(f"/api/v1/workflows/{automation_id}")).json()
    assert workflow["project"] == "site-1" and workflow["status"] == "active"
    for plan in ("free", "pro"):
        r = await api.post("/api/v1/triggers/process_event", json={"event_type": "signup", "user_id": f"v-{plan}", "data": {"email": f"{plan}@x.io", "plan": plan}})
        assert r.status_code == 202

    async def one_run() -> list[dict[str, object]]:
        r = await api.get("/api/v1/executions", params={"workflow": automation_id})
        return list(r.json()["results"])

    runs = await wait_for(one_run, timeout=60, interval=0.1, what="the automation's execution")
    await wait_status(api, str(runs[0]["id"]), "completed")
    assert [c.body for c in sink.to("welcome")] == [{"to": "pro@x.io", "subject": "Welcome!"}]

    async def counted() -> dict[str, object] | None:
        s = (await api.get(f"{BASE}/{automation_id}/stats")).json()
        return s if s["totalExecutions"] == 1 and s["successfulExecutions"] == 1 else None

    assert await wait_for(counted, timeout=30, interval=0.1, what="stats") == {
        "totalExecutions": 1, "successfulExecutions": 1, "failedExecutions": 0, "successRate": 1.0, "last30Days": 1,
    }
    listed = (await api.get(BASE)).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == automation_id
    assert (await api.get("/api/v1/websites/site-2/automations")).json()["count"] == 0
    assert (await api.get(f"/api/v1/websites/site-2/automations/{automation_id}")).status_code == 404

    toggled = await api.post(f"{BASE}/{automation_id}/toggle")
    assert toggled.status_code == 200 and toggled.json()["isActive"] is False
    updated = await api.put(f"{BASE}/{automation_id}", json={"name": "Welcome v2", "isActive": True})
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Welcome v2" and updated.json()["isActive"] is True
    assert updated.json()["version"] == automation["version"] + 2
    assert (await api.delete(f"{BASE}/{automation_id}")).status_code == 204
    assert (await api.get(f"{BASE}/{automation_id}")).status_code == 404


async def test_bad_automations_are_refused_with_the_field_and_nothing_is_written(api: httpx.AsyncClient) -> None:
    cases = [
        ({"name": "x", "triggerType": "event", "triggerConfig": {"eventType": "a"}, "actions": [{"actionType": "fax"}]}, "actions.0.actionType"),
        ({"name": "x", "triggerType": "event", "triggerConfig": {}, "actions": [{"actionType": "webhook", "actionConfig": {"url": "http://127.0.0.1/x"}}]}, "triggerConfig.eventType"),
        ({"name": "x", "triggerType": "teleport"}, "triggerType"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "triggerConfig": {"eventType": "a", "conditions": {"field": "a", "operator": "resembles", "value": 1}}}, "triggerConfig.conditions"),
    ]
    for body, field in cases:
        r = await api.post(BASE, json=body)
        assert r.status_code == 422, (body, r.text)
        fields = r.json()["error"]["fields"]
        assert any(k.startswith(field) for k in fields), (field, fields)
    assert (await api.get(BASE)).json()["count"] == 0
