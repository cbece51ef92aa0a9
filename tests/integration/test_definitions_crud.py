# ruff: noqa: F811 - pytest fixtures imported by name
"""Seed 003's /triggers, /actions and /conditions over HTTP: CRUD, filters and pagination,
test endpoints with explanations, the action catalog, and bad input (4xx, never 500,
nothing written; another workspace's ids are 404)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from conftest import wait_for
from pipeline import api  # noqa: F401 - fixtures

from infra.bootstrap import bootstrap_admin
from infra.settings import Settings

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

V1 = "/api/v1"

COUPON = {"operator": "or", "conditions": [
    {"field": "event.data.content", "operator": "icontains", "value": "discount"},
    {"operator": "and", "conditions": [
        {"field": "event.data.content", "operator": "icontains", "value": "coupon"},
        {"field": "user.tags", "operator": "contains", "value": "premium"},
    ]},
]}


def error(r: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = r.json()["error"]
    return body


async def count(api: httpx.AsyncClient, path: str) -> int:
    r = await api.get(f"{V1}/{path}")
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


async def test_triggers_actions_and_conditions_crud_and_tests(api: httpx.AsyncClient) -> None:
    # The read models are shared by the test modules of a session: this test's rows carry a tag.
    u = uuid.uuid4().hex[:8]
    mine = {"search": u}
    # -- triggers --------------------------------------------------------------------------
    created = []
    for name, kind in (("Coupon", "MESSAGE_RECEIVED"), ("Signup", "user_created"), ("Nightly", "cron"), ("Hook", "webhook")):
        body: dict[str, Any] = {"name": f"{name} {u}", "trigger_type": kind, "description": f"{name} trigger"}
        if kind == "MESSAGE_RECEIVED":
            body["filters"] = COUPON
        if kind == "cron":
            body.update(schedule="0 3 * * *", timezone="Europe/Paris", is_active=False)
        r = await api.post(f"{V1}/triggers", json=body)
        assert r.status_code == 201, r.text
        created.append(r.json())
    coupon = created[0]
    assert [t["trigger_type"] for t in created] == ["MESSAGE_RECEIVED", "USER_CREATED", "cron", "webhook"]
    r = await api.get(f"{V1}/triggers", params={"trigger_type": "message_received", "is_active": "true", **mine})
    assert [t["id"] for t in r.json()["results"]] == [coupon["id"]]
    assert (await api.get(f"{V1}/triggers", params={"is_active": "false", **mine})).json()["count"] == 1
    assert [t["name"] for t in (await api.get(f"{V1}/triggers", params={"search": f"sign%{u}"})).json()["results"]] == [f"Signup {u}"]
    paged = (await api.get(f"{V1}/triggers", params={"page_size": 3, **mine})).json()
    assert paged["count"] == 4 and len(paged["results"]) == 3 and paged["next"] and paged["previous"] is None
    assert (await api.get(paged["next"])).json()["previous"] is not None
    r = await api.patch(f"{V1}/triggers/{coupon['id']}", json={"description": "asks for a discount"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["filters"] == COUPON
    r = await api.put(f"{V1}/triggers/{created[1]['id']}", json={"name": f"Signup v2 {u}", "trigger_type": "USER_CREATED"})
    assert r.status_code == 200 and r.json()["name"] == f"Signup v2 {u}" and r.json()["version"] == 2
    assert (await api.get(f"{V1}/triggers/{coupon['id']}")).json()["description"] == "asks for a discount"

    # The test says whether it fires and which condition failed, where, and with what.
    r = await api.post(f"{V1}/triggers/{coupon['id']}/test", json={"context": {
        "event": {"data": {"content": "I need a coupon code"}}, "user": {"tags": ["interested", "premium"]}}})
    assert r.status_code == 200, r.text
    assert r.json()["matches"] is True and r.json()["explanation"]["failed_conditions"] == []
    r = await api.post(f"{V1}/triggers/{coupon['id']}/test", json={
        "event_type": "MESSAGE_RECEIVED", "event_data": {"content": "I need a coupon code"}, "user": {"tags": ["interested"]}})
    result = r.json()
    assert result["matches"] is False and result["event_type_matches"] is True
    failed = result["explanation"]["failed_conditions"]
    assert {"path": "conditions[0]", "field": "event.data.content", "operator": "icontains", "expected": "discount",
            "actual": "I need a coupon code"} in failed
    assert {"path": "conditions[1].conditions[1]", "field": "user.tags", "operator": "contains", "expected": "premium",
            "actual": ["interested"]} in failed
    assert "conditions[1].conditions[1]" in result["explanation"]["summary"]
    other_type = (await api.post(f"{V1}/triggers/{coupon['id']}/test", json={
        "event_type": "USER_CREATED", "event_data": {"content": "discount"}})).json()
    assert other_type["matches"] is False and other_type["filters_match"] is True
    assert "listens to MESSAGE_RECEIVED" in other_type["explanation"]["summary"]

    assert (await api.post(f"{V1}/triggers/{coupon['id']}/deactivate")).json()["is_active"] is False
    inactive = (await api.post(f"{V1}/triggers/{coupon['id']}/test", json={"event_data": {"content": "discount"}})).json()
    assert inactive["matches"] is False and "inactive" in inactive["explanation"]["summary"]
    assert (await api.post(f"{V1}/triggers/{coupon['id']}/activate")).json()["is_active"] is True
    assert (await api.get(f"{V1}/triggers/{coupon['id']}/workflows")).json()["results"] == []
    assert (await api.delete(f"{V1}/triggers/{created[3]['id']}")).status_code == 204
    assert (await api.get(f"{V1}/triggers/{created[3]['id']}")).status_code == 404
    # The ingest endpoint under the same prefix is not shadowed.
    r = await api.post(f"{V1}/triggers/process_event", json={"event_type": "MESSAGE_RECEIVED", "data": {"content": "x"}})
    assert r.status_code == 202 and r.json()["success"] is True

    # -- actions ---------------------------------------------------------------------------
    types = (await api.get(f"{V1}/actions/action_types")).json()
    assert {"value": "send_message", "label": "Send Message"} in types and len(types) >= 10
    template = (await api.get(f"{V1}/actions/parameter_templates", params={"action_type": "send_message"})).json()
    assert template["json_schema"]["properties"]["message"] and template["example"]["message"]
    assert "message" in [p["name"] for p in template["parameters"]]
    wait = (await api.get(f"{V1}/actions/parameter_templates", params={"action_type": "wait"})).json()
    assert wait["json_schema"]["properties"]["unit"]
    assert len((await api.get(f"{V1}/actions/parameter_templates")).json()["results"]) == len(types)
    r = await api.post(f"{V1}/actions", json={
        "name": f"Send Welcome Message {u}", "description": "Send personalized welcome message", "action_type": "send_message",
        "configuration": {"message": "خوش آمدید {{user.first_name}}! چطور می‌تونم کمکتون کنم؟"}, "order": 1, "delay": 0,
        "is_active": True})
    assert r.status_code == 201, r.text
    welcome = r.json()
    for body in (
        {"name": "Send Welcome Email", "action_type": "send_email", "configuration": {
            "subject": "Welcome {{user.first_name}}!", "body": "Thank you for joining us!", "recipient": "{{user.email}}", "is_html": False}},
        {"name": "Add Interested Tag", "action_type": "add_tag", "configuration": {"tag_name": "interested"}},
        {"name": "Notify External System", "action_type": "webhook", "configuration": {
            "url": "https://your-system.com/webhook", "method": "POST", "headers": {"Content-Type": "application/json"},
            "payload": {"user_id": "{{user.id}}", "event_type": "{{event.type}}", "timestamp": "{{event.timestamp}}"}}},
        {"name": "Wait 10 Minutes", "action_type": "wait", "configuration": {"duration": 10, "unit": "minutes"}},
    ):
        r = await api.post(f"{V1}/actions", json={**body, "name": f"{body['name']} {u}"})
        assert r.status_code == 201, (body["name"], r.text)
    assert (await api.get(f"{V1}/actions", params={"action_type": "add_tag", **mine})).json()["count"] == 1
    assert (await api.get(f"{V1}/actions", params={"is_active": "true", **mine})).json()["count"] == 5
    r = await api.patch(f"{V1}/actions/{welcome['id']}", json={"is_active": False, "order": 3})
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["order"] == 3

    tested = (await api.post(f"{V1}/actions/{welcome['id']}/test", json={"context": {
        "user": {"id": "customer-123", "first_name": "John", "email": "john@example.com"},
        "event": {"type": "MESSAGE_RECEIVED"}, "conversation": {"id": "conv-1"}}})).json()
    assert tested["success"] is True and tested["dry_run"] is True
    assert tested["rendered_configuration"]["message"].startswith("خوش آمدید John!")
    assert [(e["event_type"], e["conversation_id"], e["data"]["content"]) for e in tested["events"]] == [
        ("MESSAGE_SENT", "conv-1", tested["rendered_configuration"]["message"])]
    # `live: true` really runs it once (issue 19 item 14c; test_seed_triggers.py checks what it does).
    r = await api.post(f"{V1}/actions/{welcome['id']}/test", json={"live": True, "context": {}})
    assert r.status_code == 200, r.text
    assert r.json()["dry_run"] is False and r.json()["execution_id"]
    assert (await api.delete(f"{V1}/actions/{welcome['id']}")).status_code == 204
    assert (await api.get(f"{V1}/actions/{welcome['id']}")).status_code == 404

    # -- conditions ------------------------------------------------------------------------
    r = await api.post(f"{V1}/conditions", json={
        "name": f"Active Premium User {u}", "operator": "and", "conditions": [
            {"field": "user.tags", "operator": "contains", "value": "premium"},
            {"operator": "or", "conditions": [
                {"field": "user.email", "operator": "ends_with", "value": "@company.com"},
                {"field": "user.profile.age", "operator": "greater", "value": 25}]}]})
    assert r.status_code == 201, r.text
    premium = r.json()
    yes = (await api.post(f"{V1}/conditions/{premium['id']}/test", json={"context": {
        "user": {"tags": ["premium"], "email": "a@b.io", "profile": {"age": 30}}}})).json()
    assert yes["result"] is True
    no = (await api.post(f"{V1}/conditions/{premium['id']}/test", json={"context": {
        "user": {"tags": ["premium"], "email": "a@b.io", "profile": {"age": 20}}}})).json()
    assert no["result"] is False
    assert [f["path"] for f in no["failed_conditions"]] == ["conditions[1].conditions[0]", "conditions[1].conditions[1]"]
    r = await api.post(f"{V1}/conditions", json={
        "name": f"Custom Business Logic {u}", "use_custom_code": True,
        "custom_code": "user_score = context.get('user', {}).get('score', 0)\n"
                       "message_length = len(context.get('event', {}).get('data', {}).get('content', ''))\n"
                       "result = user_score > 100 and message_length > 10"})
    assert r.status_code == 201, r.text
    code = r.json()
    ran = (await api.post(f"{V1}/conditions/{code['id']}/test", json={
        "user": {"score": 150}, "event_data": {"content": "a long enough message"}})).json()
    assert ran["result"] is True and ran["error"] is None, ran
    low = (await api.post(f"{V1}/conditions/{code['id']}/test", json={"user": {"score": 1}, "event_data": {"content": "x"}})).json()
    assert low["result"] is False
    r = await api.patch(f"{V1}/conditions/{premium['id']}", json={"name": f"Premium {u}"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["conditions"] == premium["conditions"]
    assert (await api.get(f"{V1}/conditions", params={"use_custom_code": "true", **mine})).json()["count"] == 1
    assert (await api.delete(f"{V1}/conditions/{code['id']}")).status_code == 204
    assert (await api.get(f"{V1}/conditions", params=mine)).json()["count"] == 1


async def test_bad_input_is_a_4xx_with_the_field_and_writes_nothing(api: httpx.AsyncClient, settings: Settings) -> None:
    trigger = (await api.post(f"{V1}/triggers", json={"name": "ok", "trigger_type": "TAG_ADDED"})).json()
    action = (await api.post(f"{V1}/actions", json={"name": "ok", "action_type": "add_tag", "configuration": {"tag_name": "x"}})).json()
    workflow = (await api.post(f"{V1}/workflows", json={"name": "wf"})).json()
    condition = (await api.post(f"{V1}/conditions", json={"name": "ok", "conditions": [{"field": "a", "operator": "exists"}]})).json()
    before = {p: await count(api, p) for p in ("triggers", "actions", "conditions")}

    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("triggers", "POST", {"name": "x", "trigger_type": "MESSAGE_EXPLODED"}, 422, "trigger_type"),
        ("triggers", "POST", {"name": "x", "trigger_type": "event"}, 422, "event_type"),
        ("triggers", "POST", {"name": "x", "trigger_type": "cron", "schedule": "every tuesday"}, 422, "schedule"),
        ("triggers", "POST", {"name": "x", "trigger_type": "cron", "schedule": "0 3 * * *", "timezone": "Mars/Olympus"}, 422, "schedule"),
        ("triggers", "POST", {"name": "x", "trigger_type": "TAG_ADDED", "filters": {"operator": "or", "conditions": [
            {"field": "a", "operator": "equals", "value": 1},
            {"operator": "and", "conditions": [{"field": "b", "operator": "resembles", "value": 2}]}]}},
         422, "filters.conditions[1].conditions[0].operator"),
        ("triggers", "POST", {"name": "x", "trigger_type": "TAG_ADDED", "filters": {"operator": "xor", "conditions": []}}, 422, "filters.operator"),
        ("triggers", "POST", {"name": "x", "trigger_type": "TAG_ADDED", "filters": {"conditions": [{"field": "a", "operator": "in", "value": 3}]}},
         422, "filters.conditions[0].value"),
        ("triggers", "POST", {"name": "x", "trigger_type": "TAG_ADDED", "filters": {"conditions": [{"field": "a", "operator": "regex", "value": "("}]}},
         422, "filters.conditions[0].value"),
        ("triggers", "POST", {"name": "x", "trigger_type": "TAG_ADDED", "surprise": True}, 422, "surprise"),
        ("triggers", "POST", {"name": "x" * 500, "trigger_type": "TAG_ADDED"}, 422, "name"),
        ("actions", "POST", {"name": "x", "action_type": "teleport"}, 422, "action_type"),
        ("actions", "POST", {"name": "x", "action_type": "send_message", "configuration": {}}, 422, "configuration"),
        ("actions", "POST", {"name": "x", "action_type": "webhook", "configuration": {"url": "ftp://x", "method": "POST"}}, 422, "configuration.url"),
        ("actions", "POST", {"name": "x", "action_type": "set_conversation_status", "configuration": {"status": "asleep"}}, 422, "configuration.status"),
        ("actions", "POST", {"name": "x", "action_type": "add_tag", "configuration": {"tag_name": "t"}, "order": -1}, 422, "order"),
        ("actions", "POST", {"name": "x", "action_type": "add_tag", "configuration": {"tag_name": "t"}, "workflow": "ghost"}, 404, "workflow"),
        ("conditions", "POST", {"name": "x", "operator": "and", "conditions": [{"field": "a", "operator": "between", "value": 1}]},
         422, "conditions[0].operator"),
        ("conditions", "POST", {"name": "x", "operator": "nand", "conditions": [{"field": "a", "operator": "exists"}]}, 422, "operator"),
        ("conditions", "POST", {"name": "x", "use_custom_code": True}, 422, "custom_code"),
        ("conditions", "POST", {"name": "x"}, 422, "conditions"),
        (f"triggers/{trigger['id']}", "PATCH", {"trigger_type": "nope"}, 422, "trigger_type"),
        (f"triggers/{trigger['id']}", "PATCH", {"name": None}, 422, "name"),
        # A description is text: null is refused, not a 500 (schemathesis found it).
        (f"triggers/{trigger['id']}", "PATCH", {"description": None}, 422, "description"),
        (f"actions/{action['id']}", "PATCH", {"description": None}, 422, "description"),
        (f"conditions/{condition['id']}", "PATCH", {"description": None}, 422, "description"),
        (f"actions/{action['id']}", "PATCH", {"configuration": {"tag_name": ""}}, 422, "configuration.tag_name"),
        (f"workflows/{workflow['id']}/add_trigger", "POST", {"trigger_id": "ghost"}, 404, "trigger_id"),
        (f"workflows/{workflow['id']}/add_trigger", "POST", {"trigger_id": trigger["id"], "specific_conditions": {
            "conditions": [{"field": "a", "operator": "bogus", "value": 1}]}}, 422, "specific_conditions.conditions[0].operator"),
        (f"workflows/{workflow['id']}/add_trigger", "POST", {"trigger_id": trigger["id"], "priority": "high"}, 422, "priority"),
        (f"workflows/{workflow['id']}/add_action", "POST", {"action_id": "ghost"}, 404, "action_id"),
        (f"workflows/{workflow['id']}/remove_action", "POST", {"action_id": action["id"]}, 404, "action_id"),
        (f"workflows/{workflow['id']}/remove_trigger", "POST", {"trigger_id": trigger["id"]}, 404, "trigger_id"),
    ]
    for path, method, body, status, field in cases:
        r = await api.request(method, f"{V1}/{path}", json=body)
        assert r.status_code == status, (path, body, r.status_code, r.text)
        assert field in error(r)["fields"], (path, body, r.text)
        assert error(r)["code"] == ("AUTO_007" if status == 422 else "AUTO_001")
    for bad_query in ({"trigger_type": "NOPE"}, {"page_size": 0}, {"is_active": "maybe"}):
        r = await api.get(f"{V1}/triggers", params=bad_query)
        assert r.status_code == 422 and error(r)["code"] == "AUTO_007", r.text
    r = await api.get(f"{V1}/actions/parameter_templates", params={"action_type": "teleport"})
    assert r.status_code == 422 and "action_type" in error(r)["fields"]
    r = await api.post(f"{V1}/triggers", content=b'{"name": "' + b"x" * 2_000_000 + b'"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = await api.post(f"{V1}/triggers/{trigger['id']}/test", content=b"[1]", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert {p: await count(api, p) for p in ("triggers", "actions", "conditions")} == before
    assert (await api.get(f"{V1}/workflows/{workflow['id']}")).json()["version"] == 1  # nothing attached

    # Another workspace sees none of it: 404 everywhere.
    other = settings.model_copy(update={"admin_email": "other@fluxo.test", "admin_workspace": "Other"})
    await bootstrap_admin(other)

    async def login() -> str | None:
        r = await api.post(f"{V1}/auth/login", json={"email": "other@fluxo.test", "password": settings.admin_password})
        return r.json()["access_token"] if r.status_code == 200 else None

    headers = {"Authorization": f"Bearer {await wait_for(login, timeout=30, what='other workspace login')}"}
    for method, path, body in (
        ("GET", f"triggers/{trigger['id']}", None), ("PATCH", f"triggers/{trigger['id']}", {"name": "mine"}),
        ("DELETE", f"triggers/{trigger['id']}", None), ("POST", f"triggers/{trigger['id']}/test", {}),
        ("POST", f"triggers/{trigger['id']}/activate", None), ("GET", f"triggers/{trigger['id']}/workflows", None),
        ("GET", f"actions/{action['id']}", None), ("POST", f"actions/{action['id']}/test", {}),
        ("GET", f"workflows/{workflow['id']}/triggers", None),
    ):
        r = await api.request(method, f"{V1}/{path}", json=body, headers=headers)
        assert r.status_code == 404, (method, path, r.text)
    mine = (await api.post(f"{V1}/workflows", json={"name": "theirs"}, headers=headers)).json()
    r = await api.post(f"{V1}/workflows/{mine['id']}/add_trigger", json={"trigger_id": trigger["id"]}, headers=headers)
    assert r.status_code == 404 and "trigger_id" in error(r)["fields"]
    assert (await api.get(f"{V1}/triggers", headers=headers)).json()["count"] == 0
    assert (await api.get(f"{V1}/triggers/{trigger['id']}")).json()["name"] == "ok"


# Every operator the issue names, each with a context that passes and one that fails.
OPERATOR_CASES: list[tuple[str, object, object, object]] = [
    # operator, expected value, actual that matches, actual that does not
    ("equals", "vip", "vip", "basic"),
    ("not_equals", "vip", "basic", "vip"),
    ("contains", "coupon", "any coupon today?", "hello"),
    ("icontains", "COUPON", "any Coupon today?", "hello"),
    ("not_contains", "spam", "hello", "spam offer"),
    ("starts_with", "+33", "+33612345678", "+44712345678"),
    ("ends_with", "@company.com", "ada@company.com", "ada@gmail.com"),
    ("greater", 100, 150, 100),
    ("greater_or_equal", 100, 100, 99),
    ("less", 10, 9.5, 10),
    ("less_or_equal", 10, 10, 11),
    ("in", ["fr", "be"], "fr", "de"),
    ("not_in", ["fr", "be"], "de", "be"),
    ("exists", None, "anything", None),
    ("not_exists", None, None, "anything"),
    ("regex", r"^ORD-\d{4}$", "ORD-1234", "ORD-12"),
    ("is_empty", None, "", "text"),
]


async def test_every_filter_operator_through_the_trigger_test_endpoint(api: httpx.AsyncClient) -> None:
    assert len({case[0] for case in OPERATOR_CASES}) == 17
    for operator, expected, good, bad in OPERATOR_CASES:
        leaf: dict[str, object] = {"field": "event.data.value", "operator": operator}
        if expected is not None:
            leaf["value"] = expected
        created = await api.post(f"{V1}/triggers", json={"name": f"op {operator}", "trigger_type": "MESSAGE_RECEIVED",
                                                        "filters": {"operator": "and", "conditions": [leaf]}})
        assert created.status_code == 201, (operator, created.text)
        trigger_id = created.json()["id"]
        for actual, should_match in ((good, True), (bad, False)):
            data = {} if actual is None else {"value": actual}
            r = await api.post(f"{V1}/triggers/{trigger_id}/test", json={"event_type": "MESSAGE_RECEIVED", "event_data": data})
            assert r.status_code == 200, (operator, r.text)
            assert r.json()["matches"] is should_match, (operator, actual, r.json()["explanation"])
            if not should_match:
                assert r.json()["explanation"]["failed_conditions"][0]["operator"] == operator
        assert (await api.delete(f"{V1}/triggers/{trigger_id}")).status_code == 204
