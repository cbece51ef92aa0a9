# ruff: noqa: F811 - pytest fixtures imported by name
"""Answers a seed client reads (issue 19): seed 004's workflow detail (run counters, project),
seed 003's list rows and detail (attached actions and triggers), seed 004's integration
`webhook_configured`, seed 002's webhook test with a bare payload, and seed 004's base URL
`/api/v1/automation/` for its resources, all over the running pipeline."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import orjson
from conftest import wait_for
from pipeline import api, create_active, execution, executions_of, wait_status  # noqa: F401 - fixtures

from ingest.webhooks import sign

SHARE_PIPELINE = True

SEED_003 = "/api/v1/workflow/api"
SEED_004 = "/api/v1/automation"
PROJECT = "550e8400-e29b-41d4-a716-446655440000"
SEED_EXECUTE_BODY = {
    "input_data": {"client_id": 123, "client_email": "newclient@example.com", "client_name": "Nouveau Client"},
    "execution_context": {"triggered_by": "admin@company.com", "manual_execution": True},
}


def _curl(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client like the seeds' (no redirect followed: a 307 would fail the status checks)."""
    return httpx.AsyncClient(base_url=str(api.base_url), headers=dict(api.headers), timeout=30, follow_redirects=False)


async def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json()


async def test_seed_004_workflow_detail_has_run_counters_and_project(api: httpx.AsyncClient) -> None:
    u = uuid.uuid4().hex[:8]
    async with _curl(api) as curl:
        created = await _ok(await curl.post(f"{SEED_004}/workflows/", json={
            "name": f"Processus d'Onboarding Client {u}", "description": "Workflow automatique",
            "project": PROJECT, "trigger_type": "manual",
            "nodes": [{"id": "start", "node_type": "trigger", "config": {}},
                      {"id": "greet", "node_type": "transform", "config": {"mapping": {"hello": "{{input_data.client_name}}"}}}],
            "edges": [{"source_node": "start", "target_node": "greet"}],
        }), 201)
        workflow_id = created["id"]
        # Only the id is known: the project is answered as given, no name made up.
        assert created["project"] == PROJECT

        fresh = await _ok(await curl.get(f"{SEED_004}/workflows/{workflow_id}/"))
        assert (fresh["executions_count"], fresh["success_rate"], fresh["last_executed"]) == (0, 0.0, None)

        started = await _ok(await curl.post(f"{SEED_004}/workflows/{workflow_id}/execute/", json=SEED_EXECUTE_BODY), 202)
        await wait_status(api, started["execution_id"], "completed")

        detail = await _ok(await curl.get(f"{SEED_004}/workflows/{workflow_id}/"))
        assert detail["executions_count"] == 1 and detail["success_rate"] == 1.0, detail
        last = datetime.fromisoformat(detail["last_executed"])
        assert last >= datetime.fromisoformat(started["started_at"])
        # The same figures as the list row and the statistics block.
        rows = (await _ok(await curl.get(f"{SEED_004}/workflows/", params={"project": PROJECT, "search": u})))["results"]
        assert [(r["executions_count"], r["success_rate"], r["last_executed"]) for r in rows] == [
            (1, 1.0, detail["last_executed"])]
        assert detail["statistics"]["executions_total"] == 1
        assert detail["statistics"]["last_execution_at"] == detail["last_executed"]

        # Given its name, the project is seed 004's object, in the detail and the list.
        named = await _ok(await curl.patch(f"{SEED_004}/workflows/{workflow_id}/", json={"project_name": "Gestion Client"}))
        assert named["project"] == {"tracking_id": PROJECT, "name": "Gestion Client"}
        assert named["executions_count"] == 1
        rows = (await _ok(await curl.get(f"{SEED_004}/workflows/", params={"project": PROJECT, "search": u})))["results"]
        assert rows[0]["project"] == {"tracking_id": PROJECT, "name": "Gestion Client"}
        # A new project id without a name forgets the old name.
        moved = await _ok(await curl.patch(f"{SEED_004}/workflows/{workflow_id}/", json={"project": "other-project"}))
        assert moved["project"] == "other-project"

        # What seed 004 answers can be sent back as the project.
        echoed = await _ok(await curl.post(f"{SEED_004}/workflows/", json={
            "name": f"Echo {u}", "project": {"tracking_id": PROJECT, "name": "Gestion Client"}}), 201)
        assert echoed["project"] == {"tracking_id": PROJECT, "name": "Gestion Client"}
        read = await _ok(await curl.get(f"{SEED_004}/workflows/{echoed['id']}/"))
        assert read["project"] == {"tracking_id": PROJECT, "name": "Gestion Client"}

        nameless = await curl.post(f"{SEED_004}/workflows/", json={"name": f"No project {u}", "project_name": "Orphan"})
        assert nameless.status_code == 422 and "project_name" in nameless.json()["error"]["fields"], nameless.text


async def test_seed_003_list_rows_and_detail_show_the_attached_actions_and_triggers(api: httpx.AsyncClient) -> None:
    u = uuid.uuid4().hex[:8]
    async with _curl(api) as curl:
        trigger = await _ok(await curl.post(f"{SEED_003}/triggers/", json={
            "name": f"New User Registration {u}", "trigger_type": "USER_CREATED", "is_active": True}), 201)
        action = await _ok(await curl.post(f"{SEED_003}/actions/", json={
            "name": f"Send Welcome Message {u}", "action_type": "send_message",
            "configuration": {"message": "Bienvenue {{user.first_name}}"}, "order": 1}), 201)
        workflow = await _ok(await curl.post(f"{SEED_003}/workflows/", json={
            "name": f"Welcome New Users {u}", "description": "Send welcome message", "status": "DRAFT"}), 201)
        assert (workflow["actions_count"], workflow["triggers_count"]) == (0, 0)
        workflow_id = workflow["id"]
        await _ok(await curl.post(f"{SEED_003}/workflows/{workflow_id}/add_trigger/", json={"trigger_id": trigger["id"], "priority": 100}))
        await _ok(await curl.post(f"{SEED_003}/workflows/{workflow_id}/add_action/", json={"action_id": action["id"]}))

        rows = (await _ok(await curl.get(f"{SEED_003}/workflows/", params={"search": u})))["results"]
        assert [(r["id"], r["actions_count"], r["triggers_count"]) for r in rows] == [(workflow_id, 1, 1)]

        detail = await _ok(await curl.get(f"{SEED_003}/workflows/{workflow_id}/"))
        assert [{k: a[k] for k in ("id", "action_name", "action_type", "order", "is_required")} for a in detail["actions"]] == [
            {"id": action["id"], "action_name": f"Send Welcome Message {u}", "action_type": "send_message",
             "order": 1, "is_required": True}]
        assert [{k: t[k] for k in ("id", "trigger_name", "priority", "is_active")} for t in detail["triggers"]] == [
            {"id": trigger["id"], "trigger_name": f"New User Registration {u}", "priority": 100, "is_active": True}]
        # The references as they were answered before stay.
        assert detail["actions"][0]["action_id"] == action["id"] and detail["triggers"][0]["trigger_id"] == trigger["id"]

        # A deactivated trigger shows as inactive; a deleted action stays listed without a name.
        await _ok(await curl.post(f"{SEED_003}/triggers/{trigger['id']}/deactivate/"))
        assert (await curl.delete(f"{SEED_003}/actions/{action['id']}/")).status_code == 204
        detail = await _ok(await curl.get(f"{SEED_003}/workflows/{workflow_id}/"))
        assert detail["triggers"][0]["is_active"] is False
        assert detail["actions"][0]["action_name"] is None and detail["actions_count"] == 1


async def test_seed_004_integrations_answer_webhook_configured_and_never_the_secret(api: httpx.AsyncClient) -> None:
    u = uuid.uuid4().hex[:8]
    async with _curl(api) as curl:
        # Seed 004's own body.
        stripe = await _ok(await curl.post(f"{SEED_004}/integrations/", json={
            "name": f"Stripe Payments {u}", "type": "payment", "provider": "stripe",
            "configuration": {"api_key": f"sk_test_{u}", "webhook_secret": f"whsec_{u}", "default_currency": "EUR",
                              "success_url": "https://app.company.com/payment/success",
                              "cancel_url": "https://app.company.com/payment/cancel"},
            "settings": {"test_mode": True, "retry_on_failure": True,
                         "webhook_events": ["payment_intent.succeeded", "payment_intent.payment_failed"]},
        }), 201)
        assert stripe["webhook_configured"] is True
        assert stripe["configuration"]["webhook_configured"] is True and stripe["configuration"]["api_key_configured"] is True
        mail = await _ok(await curl.post(f"{SEED_004}/integrations/", json={
            "name": f"SendGrid {u}", "type": "email", "provider": "sendgrid", "configuration": {"api_key": f"SG.{u}"}}), 201)
        assert mail["webhook_configured"] is False and mail["configuration"]["webhook_configured"] is False

        for path in (f"{SEED_004}/integrations/{stripe['id']}/", f"{SEED_004}/integrations/"):
            r = await curl.get(path)
            assert r.status_code == 200, r.text
            assert f"whsec_{u}" not in r.text and f"sk_test_{u}" not in r.text
        listed = {i["id"]: i["webhook_configured"] for i in (await curl.get(f"{SEED_004}/integrations/", params={"page_size": 100})).json()["results"]}
        assert listed[stripe["id"]] is True and listed[mail["id"]] is False
        # Removing the secret (explicit null) turns it off.
        cleared = await _ok(await curl.patch(f"{SEED_004}/integrations/{stripe['id']}/", json={"configuration": {"webhook_secret": None}}))
        assert cleared["webhook_configured"] is False


async def test_seed_002_webhook_test_accepts_a_bare_payload(api: httpx.AsyncClient) -> None:
    created = await _ok(await api.post("/api/v1/workflows", json={
        "name": f"hooked {uuid.uuid4().hex[:8]}", "trigger_type": "webhook",
        "nodes": [{"id": "trigger", "node_type": "trigger", "config": {}},
                  {"id": "echo", "node_type": "transform", "config": {"mapping": {"order": "{{input_data.order_id}}"}}}],
        "edges": [{"source_node": "trigger", "target_node": "echo"}],
    }), 201)
    await _ok(await api.post(f"/api/v1/workflows/{created['id']}/activate"))
    hook = await _ok(await api.post("/api/v1/webhooks", json={"name": "bare", "workflow_id": created["id"]}), 201)

    # Seed 002's client posts the payload itself.
    bare = await _ok(await api.post(f"/api/v1/webhooks/{hook['id']}/test", json={"order_id": "B-1", "amount": 5}))
    assert bare["test"] is True and bare["success"] is True and bare["outcome"] == "accepted", bare
    done = await wait_status(api, bare["execution_id"], "completed")
    assert done["output_data"]["order"] == "B-1", done["output_data"]

    # Today's wrapped form keeps working, query included.
    wrapped = await _ok(await api.post(f"/api/v1/webhooks/{hook['id']}/test", json={"body": {"order_id": "W-1"}, "query": {"src": "t"}}))
    done = await wait_status(api, wrapped["execution_id"], "completed")
    assert done["output_data"]["order"] == "W-1", done["output_data"]

    # An array is a payload too, answered as a real call with it would be (refused: a hook
    # takes a JSON object); the wrapped form is still checked strictly.
    listed = await api.post(f"/api/v1/webhooks/{hook['id']}/test", json=[{"order_id": "A-1"}])
    assert listed.status_code == 200, listed.text
    assert (listed.json()["status_code"], listed.json()["outcome"], listed.json()["execution_id"]) == (422, "rejected", None)
    bad = await api.post(f"/api/v1/webhooks/{hook['id']}/test", json={"method": "DELETE"})
    assert bad.status_code == 422 and "method" in bad.json()["error"]["fields"], bad.text

    logs = (await _ok(await api.get(f"/api/v1/webhooks/{hook['id']}/logs", params={"page_size": 10})))["results"]
    bodies = [line["request"]["body"] for line in logs]
    assert {"order_id": "B-1", "amount": 5} in bodies and {"order_id": "W-1"} in bodies


async def test_seed_004s_base_url_serves_its_endpoints_without_redirects(api: httpx.AsyncClient) -> None:
    u = uuid.uuid4().hex[:8]
    async with _curl(api) as curl:
        workflow = await _ok(await curl.post(f"{SEED_004}/workflows/", json={"name": f"Base URL {u}", "trigger_type": "manual"}), 201)
        workflow_id = workflow["id"]
        trigger = await _ok(await curl.post(f"{SEED_004}/workflows/{workflow_id}/nodes/", json={
            "name": "Trigger", "node_type": "trigger", "position": {"x": 50, "y": 100}}), 201)
        node = await _ok(await curl.post(f"{SEED_004}/workflows/{workflow_id}/nodes/", json={
            "name": "Transform", "node_type": "transform", "position": {"x": 200, "y": 100},
            "config": {"mapping": {"greeting": "hi {{input_data.name}}"}}}), 201)
        await _ok(await curl.post(f"{SEED_004}/workflows/{workflow_id}/edges/", json={
            "source_node": trigger["tracking_id"], "target_node": node["tracking_id"]}), 201)
        graph = await _ok(await curl.get(f"{SEED_004}/workflows/{workflow_id}/graph/"))
        assert graph["metadata"]["total_nodes"] == 2 and graph["metadata"]["total_edges"] == 1
        valid = await _ok(await curl.get(f"{SEED_004}/workflows/{workflow_id}/validate/"))
        assert valid["can_execute"] is True, valid
        await _ok(await curl.post(f"{SEED_004}/workflows/{workflow_id}/activate/"))
        started = await _ok(await curl.post(f"{SEED_004}/workflows/{workflow_id}/execute/", json={"input_data": {"name": u}}), 202)
        await wait_status(api, started["execution_id"], "completed")
        detail = await _ok(await curl.get(f"{SEED_004}/executions/{started['execution_id']}/"))
        assert detail["output_data"]["greeting"] == f"hi {u}"
        runs = await _ok(await curl.get(f"{SEED_004}/executions/", params={"workflow": workflow_id}))
        assert [r["id"] for r in runs["results"]] == [started["execution_id"]]
        templates = await _ok(await curl.get(f"{SEED_004}/action-templates/"))
        assert templates["count"] >= 1
        assert (await _ok(await curl.get(f"{SEED_004}/integrations/")))["count"] >= 0
        # Paging links carry the canonical path.
        page = await _ok(await curl.get(f"{SEED_004}/workflows/", params={"page_size": 1}))
        assert page["next"] is None or "/api/v1/workflows?" in page["next"]
        # Seed 001's connector endpoints under our own /api/v1/automation/ are unchanged.
        status = await curl.get(f"{SEED_004}/execution/{started['execution_id']}/status")
        assert status.status_code == 200, status.text
        assert (await curl.delete(f"{SEED_004}/workflows/{workflow_id}/")).status_code == 204
        gone = await curl.get(f"{SEED_004}/workflows/{workflow_id}/")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "AUTO_001"


async def test_memory_usage_is_left_out_where_it_is_not_measured(api: httpx.AsyncClient) -> None:
    """Seed 004 shows `performance_metrics.memory_usage_mb` and the test answer's
    `performance.memory_usage_mb`; nothing measures an execution's memory, so neither is answered."""
    created = await _ok(await api.post("/api/v1/workflows", json={
        "name": f"memory {uuid.uuid4().hex[:8]}", "trigger_type": "manual",
        "nodes": [{"id": "start", "node_type": "trigger", "config": {}},
                  {"id": "code", "node_type": "action", "config": {
                      "action_type": "custom_code", "language": "python", "code": "result = {'n': len([0] * 100000)}"}}],
        "edges": [{"source_node": "start", "target_node": "code"}],
    }), 201)
    started = await _ok(await api.post(f"/api/v1/workflows/{created['id']}/execute", json={"input_data": {}}), 202)
    detail = await wait_status(api, started["execution_id"], "completed", "failed")
    assert "memory_usage_mb" not in detail["performance_metrics"], detail["performance_metrics"]
    tested = await _ok(await api.post(f"/api/v1/workflows/{created['id']}/test", json={"test_data": {}, "test_mode": "dry_run"}))
    assert "memory_usage_mb" not in tested["test_results"]["performance"], tested["test_results"]


async def test_a_providers_signed_event_at_the_webhook_endpoint_starts_its_workflows(api: httpx.AsyncClient) -> None:
    """Seed 004's `webhook_endpoint`: the provider posts its events there, signed with the
    integration's webhook_secret; each becomes an event of the provider's type."""
    u = uuid.uuid4().hex[:8]
    secret = f"whsec_{u}"
    event_type = f"payment_intent.succeeded_{u}"
    stripe = await _ok(await api.post(f"{SEED_004}/integrations/", json={
        "name": f"Stripe {u}", "type": "payment", "provider": "stripe",
        "configuration": {"api_key": f"sk_test_{u}", "webhook_secret": secret},
        "settings": {"webhook_events": [event_type]},
    }), 201)
    endpoint = stripe["webhook_endpoint"]
    assert endpoint == f"{api.base_url}/api/v1/integrations/{stripe['id']}/webhook"
    workflow_id = await create_active(api, {
        "name": f"paid {u}", "trigger_type": "event", "trigger_config": {"event_type": event_type},
        "nodes": [{"id": "trigger", "node_type": "trigger", "config": {}},
                  {"id": "amount", "node_type": "transform", "config": {"mapping": {"paid": "{{event.data.data.object.amount}}"}}}],
        "edges": [{"source_node": "trigger", "target_node": "amount"}],
    })
    body = orjson.dumps({"id": f"evt_{u}", "type": event_type, "data": {"object": {"amount": 2000}}})

    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as provider:  # no JWT: the signature is the credential
        unsigned = await provider.post(endpoint, content=body, headers={"Content-Type": "application/json"})
        assert unsigned.status_code == 401, unsigned.text
        forged = await provider.post(endpoint, content=body, headers={"X-Fluxo-Signature": sign("not-the-secret", body, int(time.time()))})
        assert forged.status_code == 401, forged.text
        stamp = int(time.time())
        stripe_signature = f"t={stamp},v1=" + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        # Seed 004's spelling of the endpoint, signed the way Stripe signs.
        accepted = await provider.post(f"{api.base_url}{SEED_004}/integrations/{stripe['id']}/webhook/", content=body,
                                       headers={"Stripe-Signature": stripe_signature, "Content-Type": "application/json"})
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["event_type"] == event_type and accepted.json()["event_log_id"]
        # A redelivery of the same provider event is the same event: it starts nothing new.
        again = await provider.post(endpoint, content=body, headers={"X-Fluxo-Signature": sign(secret, body, int(time.time()))})
        assert again.status_code == 202 and again.json()["event_log_id"] == accepted.json()["event_log_id"], again.text
        other = orjson.dumps({"id": f"evt_other_{u}", "type": "charge.refunded"})
        ignored = await provider.post(endpoint, content=other, headers={"X-Fluxo-Signature": sign(secret, other, int(time.time()))})
        assert ignored.status_code == 200 and ignored.json()["event_log_id"] is None, ignored.text

    async def ran() -> list[dict[str, Any]] | None:
        runs = await executions_of(api, workflow_id)
        return runs if runs and all(r["status"] == "completed" for r in runs) else None

    runs = await wait_for(ran, what="the provider event's execution")
    assert len(runs) == 1, runs
    done = await execution(api, runs[0]["id"])
    assert done["output_data"]["paid"] in (2000, "2000"), done["output_data"]

    # Without a webhook secret the integration takes no calls.
    cleared = await _ok(await api.patch(f"/api/v1/integrations/{stripe['id']}", json={"configuration": {"webhook_secret": None}}))
    assert cleared["webhook_configured"] is False
    async with httpx.AsyncClient(timeout=30) as provider:
        refused = await provider.post(endpoint, content=body, headers={"X-Fluxo-Signature": sign(secret, body, int(time.time()))})
    assert refused.status_code == 409 and "configuration.webhook_secret" in refused.json()["error"]["fields"], refused.text
