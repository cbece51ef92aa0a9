# ruff: noqa: F811 - pytest fixtures imported by name
"""Issue 19, items 13 and 14, over the real pipeline: a named email template is validated
before any run; attached webhook, manual and api_call triggers start what their names say;
reusable conditions referenced from nodes and edges; an action's live test."""

from __future__ import annotations

from typing import Any

import httpx
from conftest import wait_for
from pipeline import Sink, api, executions_of, sink, wait_status  # noqa: F401 - fixtures
from standins.fixtures import smtp_server  # noqa: F401 - fixture
from standins.smtp import SMTPStandIn

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

V1 = "/api/v1"
TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source_node": source, "target_node": target, **extra}


async def created(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.post(f"{V1}{path}", json=body)
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def smtp_integration(api: httpx.AsyncClient, server: SMTPStandIn, name: str) -> dict[str, Any]:
    return await created(api, "/integrations", {"name": name, "type": "email", "provider": "smtp", "configuration": {
        "host": server.host, "port": server.port, "security": "none", "from_email": "hello@fluxo.test",
        "username": server.username, "password": server.password,
        "templates": {"welcome": {"subject": "Bienvenue {{user.first_name}}", "body": "Code {{input_data.code}}"}}}})


# -- 13: a send_email's named template ------------------------------------------------------
async def test_validate_and_activation_report_an_email_template_the_integration_does_not_have(
    api: httpx.AsyncClient, smtp_server: SMTPStandIn,
) -> None:
    integration = await smtp_integration(api, smtp_server, "Templates for validation")

    def body(template: str, status: str = "draft") -> dict[str, Any]:
        return {"name": f"template {template}", "trigger_type": "manual", "status": status, "nodes": [TRIGGER, {
            "id": "mail", "node_type": "action", "config": {
                "action_type": "send_email", "integration_id": integration["id"], "template": template,
                "recipient": "a@example.com"}}], "edges": [edge("trigger", "mail")]}

    good = await created(api, "/workflows", body("welcome"))
    assert (await api.get(f"{V1}/workflows/{good['id']}/validate")).json()["is_valid"] is True
    bad = await created(api, "/workflows", body("nope"))
    report = (await api.get(f"{V1}/workflows/{bad['id']}/validate")).json()
    assert report["is_valid"] is False, report
    [issue] = report["issues"]
    assert (issue["code"], issue["field"], issue["node_id"]) == ("AUTO_007", "nodes.1.config.template", "mail")
    assert "no email template 'nope'" in issue["message"] and "welcome" in issue["message"]
    # Activation (and creating it active) refuses it with the same field, and runs refuse it too.
    r = await api.post(f"{V1}/workflows/{bad['id']}/activate")
    assert r.status_code == 422 and "nodes.1.config.template" in r.json()["error"]["fields"], r.text
    assert r.json()["error"]["code"] == "AUTO_007"
    r = await api.post(f"{V1}/workflows", json=body("nope", status="active"))
    assert r.status_code == 422 and "nodes.1.config.template" in r.json()["error"]["fields"], r.text
    r = await api.post(f"{V1}/workflows/{bad['id']}/execute", json={})
    assert r.status_code == 422 and "nodes.1.config.template" in r.json()["error"]["fields"], r.text
    # Adding the template to the integration makes the same workflow valid.
    r = await api.patch(f"{V1}/integrations/{integration['id']}", json={"configuration": {"templates": {
        "welcome": {"subject": "s", "body": "b"}, "nope": {"subject": "Now it exists", "body": "b"}}}})
    assert r.status_code == 200, r.text
    assert (await api.get(f"{V1}/workflows/{bad['id']}/validate")).json()["is_valid"] is True
    assert (await api.post(f"{V1}/workflows/{bad['id']}/activate")).status_code == 200


# -- 14c: an action's live test ---------------------------------------------------------------
async def test_an_actions_live_test_really_runs_it_once_and_a_dry_run_sends_nothing(
    api: httpx.AsyncClient, sink: Sink, smtp_server: SMTPStandIn,
) -> None:
    hook = await created(api, "/actions", {"name": "Notify", "action_type": "webhook", "delay": 3600, "configuration": {
        "url": sink.url("live-action"), "method": "POST", "payload": {"user_id": "{{user.id}}", "event_type": "{{event.type}}"}}})
    context = {"context": {"user": {"id": "customer-123", "first_name": "John", "email": "john@example.com"},
                           "event": {"type": "MESSAGE_RECEIVED"}}}
    dry = await api.post(f"{V1}/actions/{hook['id']}/test", json=context)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["success"] is True, dry.text
    assert sink.to("live-action") == []
    live = await api.post(f"{V1}/actions/{hook['id']}/test", json={**context, "live": True})
    assert live.status_code == 200, live.text
    answer = live.json()
    assert (answer["dry_run"], answer["success"], answer["status"]) == (False, True, "completed"), answer
    # Once, now (the action's own delay is not waited), with the rendered payload.
    [call] = sink.to("live-action")
    assert call.body == {"user_id": "customer-123", "event_type": "MESSAGE_RECEIVED"}
    assert answer["output"]["status_code"] == 200 and answer["rendered_configuration"]["url"] == sink.url("live-action")
    # It is an execution like any other, run by the worker, and listed.
    run = await wait_status(api, answer["execution_id"], "completed")
    assert run["status"] == "completed"

    await smtp_integration(api, smtp_server, "Live SMTP")
    mail = await created(api, "/actions", {"name": "Welcome mail", "action_type": "send_email", "configuration": {
        "subject": "Welcome {{user.first_name}}!", "body": "Thank you for joining us!", "recipient": "{{user.email}}"}})
    live = await api.post(f"{V1}/actions/{mail['id']}/test", json={**context, "live": True})
    assert live.status_code == 200 and live.json()["success"] is True, live.text
    [message] = await smtp_server.wait_for_messages(1)
    assert message.subject == "Welcome John!" and message.to == ["john@example.com"]

    # A failing live run says why (no retries: one call).
    sink.script["/live-broken"] = [500, 500]
    broken = await created(api, "/actions", {"name": "Broken", "action_type": "webhook", "configuration": {
        "url": sink.url("live-broken")}})
    failed = (await api.post(f"{V1}/actions/{broken['id']}/test", json={"live": True})).json()
    assert (failed["success"], failed["status"]) == (False, "failed") and failed["error"]["code"], failed
    assert len(sink.to("live-broken")) == 1


# -- 14a: attached webhook, manual and api_call triggers ---------------------------------------
async def seed_003_workflow(api: httpx.AsyncClient, sink: Sink, path: str, trigger: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Seed 003's setup: an action calling the sink at `path`, a draft workflow, the trigger
    attached (the add_trigger answer is returned), the action attached, activated."""
    action = await created(api, "/actions", {"name": f"Call {path}", "action_type": "webhook", "configuration": {
        "url": sink.url(path), "payload": {"order": "{{input_data.order}}", "trigger": "{{trigger.id}}"}}})
    workflow = await created(api, "/workflows", {"name": f"Started by {path}", "status": "DRAFT"})
    r = await api.post(f"{V1}/workflows/{workflow['id']}/add_trigger/", json={"trigger_id": trigger["id"], "priority": 100})
    assert r.status_code == 200, r.text
    assert (await api.post(f"{V1}/workflows/{workflow['id']}/add_action/", json={"action_id": action["id"]})).status_code == 200
    assert (await api.post(f"{V1}/workflows/{workflow['id']}/activate/")).status_code == 200
    return workflow["id"], r.json()


def hook_path(url: str) -> str:
    assert "/api/v1/hooks/" in url, url
    return "/api/v1/hooks/" + url.rsplit("/api/v1/hooks/", 1)[1]


async def test_an_attached_webhook_trigger_gives_the_workflow_a_url_that_starts_it(api: httpx.AsyncClient, sink: Sink) -> None:
    trigger = await created(api, "/triggers", {"name": "Order webhook", "trigger_type": "webhook"})
    workflow_id, attached = await seed_003_workflow(api, sink, "by-webhook", trigger)
    [view] = attached["triggers"]
    assert view["trigger_type"] == "webhook" and view["webhook_url"] and view["webhook_id"], view
    url = hook_path(view["webhook_url"])
    listed = (await api.get(f"{V1}/workflows/{workflow_id}/triggers")).json()["results"]
    assert listed[0]["webhook_url"] == view["webhook_url"]
    using = (await api.get(f"{V1}/triggers/{trigger['id']}/workflows")).json()["results"]
    assert [(w["id"], w["webhook_url"]) for w in using] == [(workflow_id, view["webhook_url"])]
    # It is an inbound webhook like any other: listed, with its logs.
    assert (await api.get(f"{V1}/webhooks/{view['webhook_id']}")).json()["workflow_id"] == workflow_id

    # The URL needs no JWT: the token is the credential.
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=30) as anonymous:
        r = await anonymous.post(url, json={"order": "A-1"})
        assert r.status_code == 202, r.text
        run = await wait_status(api, r.json()["execution_id"], "completed", "failed")
        assert run["status"] == "completed" and run["trigger_type"] == "webhook", run
        assert run["trigger"]["id"] == trigger["id"] and run["trigger"]["type"] == "webhook"
        assert [c.body for c in sink.to("by-webhook")] == [{"order": "A-1", "trigger": trigger["id"]}]

        # Deactivating the trigger disables its webhook; activating it enables it again.
        assert (await api.post(f"{V1}/triggers/{trigger['id']}/deactivate/")).status_code == 200
        r = await anonymous.post(url, json={"order": "A-2"})
        assert r.status_code == 409 and "is_active" in r.json()["error"]["fields"], r.text
        assert (await api.post(f"{V1}/triggers/{trigger['id']}/activate/")).status_code == 200
        r = await anonymous.post(url, json={"order": "A-3"})
        assert r.status_code == 202, r.text
        await wait_status(api, r.json()["execution_id"], "completed")
        # Detached, the URL stops working.
        r = await api.post(f"{V1}/workflows/{workflow_id}/remove_trigger/", json={"trigger_id": trigger["id"]})
        assert r.status_code == 200, r.text
        assert (await anonymous.post(url, json={"order": "A-4"})).status_code == 404
    assert sorted(c.body["order"] for c in sink.to("by-webhook")) == ["A-1", "A-3"]
    # A signed webhook is made with POST /webhooks: a trigger's configuration is not sealed.
    r = await api.post(f"{V1}/triggers", json={"name": "signed", "trigger_type": "webhook", "configuration": {"secret": "x" * 20}})
    assert r.status_code == 422 and "configuration.secret" in r.json()["error"]["fields"], r.text


async def test_a_manual_run_is_attributed_to_the_attached_manual_trigger(api: httpx.AsyncClient, sink: Sink) -> None:
    manual = await created(api, "/triggers", {"name": "Run by hand", "trigger_type": "manual"})
    workflow_id, _ = await seed_003_workflow(api, sink, "by-hand", manual)
    r = await api.post(f"{V1}/workflows/{workflow_id}/execute/", json={"context": {
        "user": {"id": "customer-123", "email": "test@example.com", "first_name": "John"},
        "event": {"type": "MANUAL_TRIGGER", "data": {"reason": "Testing workflow"}}}})
    assert r.status_code == 202, r.text
    run = await wait_status(api, r.json()["execution_id"], "completed", "failed")
    assert run["status"] == "completed" and run["trigger_type"] == "manual", run
    assert (run["trigger"]["id"], run["trigger"]["name"], run["trigger"]["type"]) == (manual["id"], "Run by hand", "manual")
    assert sink.to("by-hand")[0].body["trigger"] == manual["id"]
    # Naming a trigger that cannot start a manual run is refused with the field.
    hook = await created(api, "/triggers", {"name": "Not by hand", "trigger_type": "webhook"})
    assert (await api.post(f"{V1}/workflows/{workflow_id}/add_trigger", json={"trigger_id": hook["id"]})).status_code == 200
    r = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={"trigger_id": hook["id"]})
    assert r.status_code == 422 and "webhook trigger" in r.json()["error"]["fields"]["trigger_id"], r.text
    r = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={"trigger_id": manual["id"]})
    assert r.status_code == 202, r.text


async def test_an_attached_api_call_trigger_starts_the_workflow_on_process_event(api: httpx.AsyncClient, sink: Sink) -> None:
    # Seed 004's spelling: the event an api_call trigger answers is in its configuration.
    trigger = await created(api, "/triggers", {"name": "Order API", "trigger_type": "api_call", "configuration": {"event": "order.created"}})
    assert trigger["listens_to"] == "ORDER.CREATED"
    workflow_id, _ = await seed_003_workflow(api, sink, "by-api-call", trigger)
    r = await api.post(f"{V1}/triggers/process_event/", json={"event_type": "order.created", "user_id": "shop-1", "data": {"order": "B-7"}})
    assert r.status_code == 202, r.text

    async def started() -> list[dict[str, Any]] | None:
        done = await executions_of(api, workflow_id, status="completed")
        return done or None

    [run] = await wait_for(started, timeout=60, what="the api_call trigger's execution")
    assert run["trigger_type"] == "api_call" and run["trigger"]["id"] == trigger["id"], run
    assert [c.body for c in sink.to("by-api-call")] == [{"order": "B-7", "trigger": trigger["id"]}]
    logs = (await api.get(f"{V1}/trigger-event-logs", params={"event_type": "order.created"})).json()["results"]
    assert any(e["workflow_id"] == workflow_id and e["matched"] for log in logs for e in log["evaluations"]), logs


# -- 14b: reusable conditions referenced from nodes and edges ---------------------------------
async def test_reusable_conditions_are_referenced_from_nodes_and_edges_pinned_until_the_next_version(
    api: httpx.AsyncClient, sink: Sink,
) -> None:
    premium = await created(api, "/conditions", {"name": "User Has Premium Tag", "operator": "and", "conditions": [
        {"field": "user.tags", "operator": "contains", "value": "premium"}]})
    staff = await created(api, "/conditions", {"name": "Company address", "operator": "or", "conditions": [
        {"field": "user.email", "operator": "ends_with", "value": "@company.com"}]})

    def call(node_id: str) -> dict[str, Any]:
        return {"id": node_id, "node_type": "action", "config": {"action_type": "webhook", "url": sink.url(f"cond-{node_id}"),
                                                                  "payload": {"user": "{{user.id}}"}}}

    body = {"name": "Premium or not", "trigger_type": "manual", "nodes": [
        TRIGGER, {"id": "check", "node_type": "condition", "config": {"condition_id": premium["id"]}},
        call("premium"), call("free"), call("staff")], "edges": [
        edge("trigger", "check"), edge("check", "premium", label="true"), edge("check", "free", label="false"),
        edge("trigger", "staff", condition_id=staff["id"])]}
    workflow = await created(api, "/workflows", body)
    report = (await api.get(f"{V1}/workflows/{workflow['id']}/validate")).json()
    assert report["is_valid"] is True, report
    stored = (await api.get(f"{V1}/workflows/{workflow['id']}")).json()
    assert stored["nodes"][1]["config"]["condition_ref"]["version"] == 1
    assert stored["edges"][3]["condition_id"] == staff["id"] and stored["edges"][3]["condition_ref"]["version"] == 1
    assert (await api.post(f"{V1}/workflows/{workflow['id']}/activate")).status_code == 200

    async def run(user_id: str, tags: list[str], email: str) -> list[str]:
        r = await api.post(f"{V1}/workflows/{workflow['id']}/execute", json={"context": {
            "user": {"id": user_id, "tags": tags, "email": email}}})
        assert r.status_code == 202, r.text
        done = await wait_status(api, r.json()["execution_id"], "completed", "failed")
        assert done["status"] == "completed", done
        return sorted(p for p in done["execution_path"] if p in ("premium", "free", "staff"))

    assert await run("u-1", ["premium"], "a@company.com") == ["premium", "staff"]
    assert await run("u-2", ["basic"], "b@example.com") == ["free"]
    # Editing the condition changes nothing until the workflow's next version...
    r = await api.patch(f"{V1}/conditions/{premium['id']}", json={"conditions": [
        {"field": "user.tags", "operator": "contains", "value": "vip"}]})
    assert r.status_code == 200, r.text
    assert await run("u-3", ["premium"], "c@example.com") == ["premium"]
    # ... which pins the condition as it is then (activating again after a pause).
    assert (await api.post(f"{V1}/workflows/{workflow['id']}/pause")).status_code == 200
    assert (await api.post(f"{V1}/workflows/{workflow['id']}/activate")).status_code == 200
    stored = (await api.get(f"{V1}/workflows/{workflow['id']}")).json()
    assert stored["nodes"][1]["config"]["condition_ref"]["version"] == 2
    assert await run("u-4", ["premium"], "d@example.com") == ["free"]
    assert await run("u-5", ["vip"], "e@example.com") == ["premium"]
    assert [c.body["user"] for c in sink.to("cond-staff")] == ["u-1"]

    # An unknown condition is an issue naming the field; activation refuses it.
    ghost = await created(api, "/workflows", {**body, "name": "ghost condition", "nodes": [
        TRIGGER, {"id": "check", "node_type": "condition", "config": {"condition_id": "no-such-condition"}},
        call("premium"), call("free"), call("staff")]})
    report = (await api.get(f"{V1}/workflows/{ghost['id']}/validate")).json()
    assert [(i["code"], i["field"]) for i in report["issues"]] == [("AUTO_007", "nodes.1.config.condition_id")], report
    r = await api.post(f"{V1}/workflows/{ghost['id']}/activate")
    assert r.status_code == 422 and "nodes.1.config.condition_id" in r.json()["error"]["fields"], r.text
    r = await api.post(f"{V1}/workflows/{workflow['id']}/edges", json={"source_node": "check", "target_node": "staff",
                                                                     "condition_id": "nope"})
    assert r.status_code == 422 and "edges.4.condition_id" in r.json()["error"]["fields"], r.text
