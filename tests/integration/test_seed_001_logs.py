# ruff: noqa: F811 - pytest fixtures imported by name
"""Issue 19, items 11 and 12, and `page_size` capping, over the running pipeline: seed 001's
endpoints as it lists them (metrics, an explicit WhatsApp send, its log fields), the history
filters (a seed 003 action's id, a date alone as a whole day), and a page over 100 rows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from conftest import wait_for
from pipeline import Sink, api, executions_of, sink, wait_status  # noqa: F401 - fixtures
from prometheus_client.parser import text_string_to_metric_families
from standins.fixtures import whatsapp  # noqa: F401 - fixture
from standins.whatsapp import WhatsAppStandIn

# Each test makes its own workflows, events and leads, so the module's tests share one
# running pipeline (and one workspace: the WhatsApp test adds its integration last).
SHARE_PIPELINE = True

V1 = "/api/v1"
TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}
SEED_001_LOG_FIELDS = {"retry_count", "max_retries", "start_time", "end_time", "duration_ms", "error_details", "output_data", "connector_type"}


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def _manual(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    created = await api.post(f"{V1}/workflows", json={"trigger_type": "manual", **body})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _execute(api: httpx.AsyncClient, workflow_id: str, *statuses: str) -> dict[str, Any]:
    started = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={"input_data": {}})
    assert started.status_code in (200, 202), started.text
    return await wait_status(api, started.json()["execution_id"], *statuses)


# -- item 11: seed 001's endpoints --------------------------------------------------------


async def test_seed_001_metrics_path_serves_the_prometheus_text(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/automation/metrics", headers={"Authorization": ""})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(r.text)}
    assert {"automation_executions", "automation_execution_duration_seconds", "automation_queue_size"} <= names
    plain = await api.get("/metrics", headers={"Authorization": ""})
    assert {family.name for family in text_string_to_metric_families(plain.text)} == names


async def test_seed_001_status_and_logs_carry_its_log_fields(api: httpx.AsyncClient) -> None:
    label = f"wf-seed-001-{_tag()}"
    sent = await api.post(f"{V1}/automation/code/execute", json={
        "leadId": "lead-001", "workflowId": label, "nodeId": "score",
        "lead": {"score": 120}, "config": {"language": "python", "code": "result = {'vip': context['lead']['score'] > 100}"}})
    assert sent.status_code == 202, sent.text
    execution_id = sent.json()["executionId"]
    done = await wait_status(api, execution_id, "completed", "failed")
    assert done["status"] == "completed", done
    status = (await api.get(f"{V1}/automation/execution/{execution_id}/status")).json()
    assert SEED_001_LOG_FIELDS <= status.keys(), status
    assert status["connector_type"] == "custom_code" and status["action_type"] == "custom_code"
    assert (status["retry_count"], status["max_retries"]) == (0, 0)
    assert status["output_data"]["result"] == {"vip": True} and status["error_details"] is None
    assert status["start_time"] == status["started_at"] and status["end_time"] == status["completed_at"]
    took = datetime.fromisoformat(status["end_time"]) - datetime.fromisoformat(status["start_time"])
    assert status["duration_ms"] == round(took.total_seconds() * 1000, 3) > 0
    logs = (await api.get(f"{V1}/automation/workflow/{label}/logs")).json()
    assert logs["count"] == 1, logs
    log = logs["results"][0]
    assert SEED_001_LOG_FIELDS <= log.keys(), log
    assert (log["connector_type"], log["status"], log["lead_id"], log["node_id"]) == ("custom_code", "succeeded", "lead-001", "score")
    assert (log["retry_count"], log["max_retries"]) == (0, 0)
    assert log["output_data"]["result"] == {"vip": True} and log["error_details"] is None
    assert log["start_time"] == log["started_at"] is not None and log["end_time"] == log["completed_at"] is not None
    assert log["duration_ms"] > 0


async def test_a_retried_node_is_one_log_with_its_retries_counted(api: httpx.AsyncClient, sink: Sink) -> None:
    tag = _tag()
    sink.script[f"/flaky-{tag}"] = [503]
    own = await _manual(api, {
        "name": f"retries in the node {tag}",
        "nodes": [TRIGGER, {"id": "call", "node_type": "action", "config": {
            "action_type": "webhook", "url": sink.url(f"flaky-{tag}"), "retry": {"max_retries": 2, "backoff_seconds": 0.05}}}],
        "edges": [{"source_node": "trigger", "target_node": "call"}],
    })
    by_settings = await _manual(api, {
        "name": f"retries in the settings {tag}",
        "settings": {"retry_on_failure": True, "max_retries": 3, "retry_backoff_seconds": 0.05},
        "nodes": [TRIGGER, {"id": "call", "node_type": "action", "config": {"action_type": "webhook", "url": sink.url(f"ok-{tag}")}}],
        "edges": [{"source_node": "trigger", "target_node": "call"}],
    })
    done = await _execute(api, own, "completed", "failed")
    assert done["status"] == "completed" and [s["attempt"] for s in done["execution_details"] if s["node_id"] == "call"] == [1, 2]
    assert (await _execute(api, by_settings, "completed", "failed"))["status"] == "completed"
    logs = (await api.get(f"{V1}/automation/workflow/{own}/logs")).json()
    # Seed 001 keeps one row per run: the retried call is one log, succeeded, retried once.
    assert [(x["node_id"], x["status"], x["attempt"], x["retry_count"], x["max_retries"], x["connector_type"]) for x in logs["results"]] == [
        ("call", "succeeded", 2, 1, 2, "webhook")]
    assert logs["count"] == 1 and logs["results"][0]["error_details"] is None
    settled = (await api.get(f"{V1}/automation/workflow/{by_settings}/logs")).json()["results"]
    assert [(x["retry_count"], x["max_retries"]) for x in settled] == [(0, 3)]


async def test_an_explicit_whatsapp_send_needs_a_whatsapp_integration(api: httpx.AsyncClient, whatsapp: WhatsAppStandIn) -> None:
    lead = {"phone": "+971 50 123 4567", "name": "Leila"}
    body = {"leadId": f"lead-wa-{_tag()}", "lead": lead, "config": {"message": "Hello {{lead.name}}"}}
    sent = await api.post(f"{V1}/automation/whatsapp/send", json=body)
    assert sent.status_code == 202, sent.text
    failed = await wait_status(api, sent.json()["executionId"], "completed", "failed")
    # Nothing was delivered, so nothing says `sent`: it fails like email and Sheets do.
    assert failed["status"] == "failed", failed
    status = (await api.get(f"{V1}/automation/execution/{sent.json()['executionId']}/status")).json()
    assert status["status"] == "failed" and status["connector_type"] == "whatsapp"
    assert status["error_details"]["code"] == status["error"]["code"] == "AUTO_004", status
    assert status["output_data"] is None and whatsapp.messages == []
    # A workflow's send_message is a conversation reply: without an integration it is the
    # MESSAGE_SENT event alone and succeeds, as documented.
    reply = await _manual(api, {
        "name": f"reply {_tag()}",
        "nodes": [TRIGGER, {"id": "reply", "node_type": "action", "config": {"action_type": "send_message", "message": "hi"}}],
        "edges": [{"source_node": "trigger", "target_node": "reply"}],
    })
    replied = await _execute(api, reply, "completed", "failed")
    step = next(s for s in replied["execution_details"] if s["node_id"] == "reply")
    assert replied["status"] == "completed" and step["output_data"]["delivery"] == "event_only", replied
    # With a WhatsApp integration the same call delivers the message.
    r = await api.post(f"{V1}/integrations", json={"name": "WA", "type": "messaging", "provider": "whatsapp", "configuration": {
        "phone_number_id": whatsapp.phone_number_id, "access_token": whatsapp.access_token,
        "base_url": whatsapp.base_url, "api_version": whatsapp.api_version}})
    assert r.status_code == 201, r.text
    again = await api.post(f"{V1}/automation/whatsapp/send", json=body)
    delivered = await wait_status(api, again.json()["executionId"], "completed", "failed")
    assert delivered["status"] == "completed", delivered
    assert whatsapp.messages[0]["to"] == "971501234567" and whatsapp.messages[0]["payload"]["text"]["body"] == "Hello Leila"
    status = (await api.get(f"{V1}/automation/execution/{again.json()['executionId']}/status")).json()
    assert status["output_data"]["message_id"] == whatsapp.messages[0]["id"] and status["connector_type"] == "whatsapp"


# -- item 12: filters ----------------------------------------------------------------------


async def test_action_logs_find_a_seed_003_action_by_its_id_and_by_its_node_id(api: httpx.AsyncClient, sink: Sink) -> None:
    tag = _tag()
    action = await api.post(f"{V1}/actions", json={
        "name": f"Notify {tag}", "action_type": "webhook", "configuration": {"url": sink.url(f"attached-{tag}")}, "order": 1})
    assert action.status_code == 201, action.text
    action_id = action.json()["id"]
    workflow_id = (await api.post(f"{V1}/workflows", json={"name": f"attached {tag}", "status": "DRAFT"})).json()["id"]
    r = await api.post(f"{V1}/workflows/{workflow_id}/add_action", json={"action_id": action_id, "order": 1})
    assert r.status_code == 200, r.text
    done = await _execute(api, workflow_id, "completed", "failed")
    assert done["status"] == "completed", done
    node_id = next(s["node_id"] for s in done["execution_details"] if s["node_type"] == "action")
    assert node_id != action_id  # the compiled node has an id of its own
    for spelling in (action_id, node_id):
        found = (await api.get(f"{V1}/action-logs", params={"action": spelling})).json()
        assert [(x["execution_id"], x["action"]) for x in found["results"]] == [(done["id"], node_id)], (spelling, found)
        seed = (await api.get(f"{V1}/workflow-action-executions", params={"action": spelling})).json()
        assert seed["count"] == 1, (spelling, seed)
    assert (await api.get(f"{V1}/action-logs", params={"action": f"nothing-{tag}"})).json()["count"] == 0


async def test_a_date_alone_is_the_whole_day_on_every_dated_list(api: httpx.AsyncClient, sink: Sink) -> None:
    tag = _tag()
    workflow_id = await _manual(api, {
        "name": f"dated {tag}",
        "nodes": [TRIGGER, {"id": "call", "node_type": "action", "config": {"action_type": "webhook", "url": sink.url(f"dated-{tag}")}}],
        "edges": [{"source_node": "trigger", "target_node": "call"}],
    })
    done = await _execute(api, workflow_id, "completed", "failed")
    event_type = f"DATED_{tag.upper()}"
    assert (await api.post(f"{V1}/triggers/process_event", json={"event_type": event_type, "user_id": f"u-{tag}", "data": {}})).status_code == 202

    async def logged() -> bool:
        return (await api.get(f"{V1}/event-logs", params={"event_type": event_type})).json()["count"] == 1

    await wait_for(logged, timeout=30, what="the event log")
    day = datetime.fromisoformat(done["started_at"]).date()  # UTC: the API answers in UTC
    before, after = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()

    async def count(path: str, params: dict[str, Any]) -> int:
        r = await api.get(f"{V1}/{path}", params=params)
        assert r.status_code == 200, (path, params, r.text)
        return int(r.json()["count"])

    lists: list[tuple[str, dict[str, Any], str, str]] = [
        ("executions", {"workflow": workflow_id}, "date_from", "date_to"),
        ("dashboard/executions", {"workflow": workflow_id}, "date_from", "date_to"),
        (f"workflows/{workflow_id}/executions", {}, "date_from", "date_to"),
        ("workflow-executions", {"workflow": workflow_id}, "created_at__gte", "created_at__lte"),
        ("event-logs", {"event_type": event_type}, "date_from", "date_to"),
        ("audit-logs", {"resource_id": workflow_id, "action": "workflows.create"}, "created_at__gte", "created_at__lte"),
    ]
    for path, scope, lower, upper in lists:
        where = f"{path} {scope}"

        async def listed(path: str = path, scope: dict[str, Any] = scope) -> bool:
            return await count(path, scope) == 1  # the audit entry is projected on its own

        await wait_for(listed, timeout=30, what=where)
        # `date_to=<that day>` takes in the whole day, `date_from=<that day>` starts at its first instant.
        assert await count(path, {**scope, upper: day.isoformat()}) == 1, where
        assert await count(path, {**scope, lower: day.isoformat()}) == 1, where
        assert await count(path, {**scope, lower: day.isoformat(), upper: day.isoformat()}) == 1, where
        assert await count(path, {**scope, upper: before}) == 0, where
        assert await count(path, {**scope, lower: after}) == 0, where
    r = await api.get(f"{V1}/executions", params={"date_to": "2026-02-30"})
    assert r.status_code == 422 and "date_to" in str(r.json()["error"]["fields"]), r.text


# -- page_size over the maximum --------------------------------------------------------------


async def test_a_page_size_over_100_is_served_as_100(api: httpx.AsyncClient) -> None:
    event_type = f"PAGED_{_tag().upper()}"
    for batch in range(0, 101, 25):
        sends = [api.post(f"{V1}/triggers/process_event", json={"event_type": event_type, "user_id": f"p-{n}", "data": {"n": n}})
                 for n in range(batch, min(batch + 25, 101))]
        assert all(r.status_code == 202 for r in await asyncio.gather(*sends))

    async def all_logged() -> bool:
        return (await api.get(f"{V1}/event-logs", params={"event_type": event_type})).json()["count"] == 101

    await wait_for(all_logged, timeout=60, what="101 event logs")
    first = await api.get(f"{V1}/event-logs", params={"event_type": event_type, "page_size": 1000})
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["count"] == 101 and len(page["results"]) == 100
    assert page["next"] is not None and "page_size=100" in page["next"] and "page=2" in page["next"]
    rest = (await api.get(page["next"])).json()
    assert len(rest["results"]) == 1 and rest["next"] is None and "page_size=100" in rest["previous"]
    ids = {x["id"] for x in page["results"]} | {x["id"] for x in rest["results"]}
    assert len(ids) == 101
    assert (await api.get(f"{V1}/event-logs", params={"page_size": 0})).status_code == 422
