# ruff: noqa: F811 - pytest fixtures imported by name
"""Seed 003 over the real pipeline: reusable triggers attached to workflows start them,
attached actions run in order (pinned at start), send_message replies with a MESSAGE_SENT
event, and the /triggers endpoints (CRUD, filters, activation, test with explanations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from conftest import wait_for
from pipeline import Sink, api, executions_of, sink, wait_status  # noqa: F401 - fixtures

from infra.kafka_io import topic_partitions
from infra.settings import Settings
from schemas.codec import decode
from schemas.records import EventIngested
from schemas.topics import EVENTS

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

V1 = "/api/v1"


async def events_on_topic(settings: Settings, event_type: str) -> list[tuple[str, EventIngested]]:
    """Every event of that type on this module's events topic (envelope id, event)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[str, EventIngested]] = []
    try:
        tps = await topic_partitions(consumer, settings, [EVENTS])
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    env, data = decode(record.value, record.headers or ())
                    if isinstance(data, EventIngested) and data.event_type == event_type:
                        found.append((env.id, data))
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    return found


async def event_log(settings: Settings, event_id: str) -> dict[str, Any] | None:
    conn = await asyncpg.connect(settings.dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM event_logs WHERE id = $1", event_id)
    finally:
        await conn.close()
    return dict(row) if row is not None else None


async def test_the_seed_003_complete_workflow_setup_example(api: httpx.AsyncClient, settings: Settings) -> None:
    # 1. Create a trigger (seed body, verbatim).
    r = await api.post(f"{V1}/triggers", json={
        "name": "Discount Request",
        "trigger_type": "MESSAGE_RECEIVED",
        "filters": {"operator": "or", "conditions": [
            {"field": "event.data.content", "operator": "icontains", "value": "discount"},
            {"field": "event.data.content", "operator": "icontains", "value": "coupon"},
        ]},
    })
    assert r.status_code == 201, r.text
    trigger_id = r.json()["id"]
    assert r.json()["trigger_type"] == "MESSAGE_RECEIVED" and r.json()["is_active"] is True
    # 2. Create the action (a personalised reply).
    r = await api.post(f"{V1}/actions", json={
        "name": "Send Discount Code", "action_type": "send_message",
        "configuration": {"message": "Hi {{user.first_name}}, here is your discount code: SAVE20"}, "order": 1,
    })
    assert r.status_code == 201, r.text
    action_id = r.json()["id"]
    # 3. Create the workflow (seed spells the status in upper case).
    r = await api.post(f"{V1}/workflows", json={
        "name": "Discount Code Campaign", "description": "Send discount codes when requested", "status": "DRAFT",
    })
    assert r.status_code == 201, r.text
    workflow_id = r.json()["id"]
    # 4. Associate the trigger, attach the action.
    r = await api.post(f"{V1}/workflows/{workflow_id}/add_trigger", json={"trigger_id": trigger_id, "priority": 100})
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["triggers"]] == [trigger_id]
    r = await api.post(f"{V1}/workflows/{workflow_id}/add_action", json={"action_id": action_id, "order": 1})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3
    listed = (await api.get(f"{V1}/workflows/{workflow_id}/actions")).json()
    assert [(a["id"], a["action_type"], a["order"]) for a in listed["results"]] == [(action_id, "send_message", 1)]
    linked = (await api.get(f"{V1}/workflows/{workflow_id}/triggers")).json()
    assert linked["results"][0]["trigger_name"] == "Discount Request" and linked["results"][0]["priority"] == 100
    using = (await api.get(f"{V1}/triggers/{trigger_id}/workflows")).json()
    assert [w["id"] for w in using["results"]] == [workflow_id]
    # 5. Activate.
    r = await api.post(f"{V1}/workflows/{workflow_id}/activate")
    assert r.status_code == 200, r.text
    # 6. Test with an event.
    r = await api.post(f"{V1}/triggers/process_event", json={
        "event_type": "MESSAGE_RECEIVED",
        "data": {"message_id": "test-123", "content": "Do you have any discount codes?", "timestamp": "2024-01-01T10:00:00Z"},
        "user_id": "customer-123", "conversation_id": "conv-456", "user": {"first_name": "Ada"},
    })
    assert r.status_code == 202 and r.json()["success"] is True, r.text

    async def started() -> list[dict[str, Any]]:
        return await executions_of(api, workflow_id)

    runs = await wait_for(started, timeout=60, what="the execution to start")
    done = await wait_status(api, runs[0]["id"], "completed", "failed")
    assert done["status"] == "completed", done
    node_id = f"action-{action_id}"
    assert done["execution_path"] == ["trigger", node_id]
    step = next(s for s in done["execution_details"] if s["node_id"] == node_id)
    assert step["node_name"] == "Send Discount Code"
    assert step["output_data"]["content"] == "Hi Ada, here is your discount code: SAVE20"
    assert step["output_data"]["conversation_id"] == "conv-456"
    assert step["output_data"]["event_type"] == "MESSAGE_SENT"
    assert step["output_data"]["delivery"] == "event_only"  # no WhatsApp integration in this workspace

    # The reply is a MESSAGE_SENT event on the events topic, in the same conversation...
    async def message_sent() -> list[tuple[str, EventIngested]]:
        return await events_on_topic(settings, "MESSAGE_SENT")

    sent = await wait_for(message_sent, timeout=30, what="MESSAGE_SENT on the events topic")
    assert len(sent) == 1
    event_id, event = sent[0]
    assert event_id == step["output_data"]["event_id"]
    assert event.conversation_id == "conv-456" and event.user_id == "customer-123"
    assert event.data["content"] == "Hi Ada, here is your discount code: SAVE20"
    assert event.data["execution_id"] == done["id"] and event.data["workflow_id"] == workflow_id

    # ...which the matcher logs like any event (the event logs).
    async def logged() -> dict[str, Any] | None:
        return await event_log(settings, event_id)

    row = await wait_for(logged, timeout=30, what="the MESSAGE_SENT event log")
    assert row["event_type"] == "MESSAGE_SENT" and row["conversation_id"] == "conv-456"

    # A message that matches no filter starts nothing; the log says which trigger did not fire and why.
    r = await api.post(f"{V1}/triggers/process_event", json={
        "event_type": "message_received", "data": {"content": "hello"}, "user_id": "customer-9", "conversation_id": "c-9",
    })
    other = r.json()["event_log_id"]
    row = await wait_for(lambda: event_log(settings, other), timeout=30, what="the event log")
    assert row["matched_workflows"] == 0
    assert "filters did not match" in str(row["evaluations"])
    assert len(await executions_of(api, workflow_id)) == 1


async def test_attached_actions_are_pinned_at_start_and_triggers_gate_by_state(api: httpx.AsyncClient, sink: Sink, settings: Settings) -> None:
    trigger = (await api.post(f"{V1}/triggers", json={
        "name": "Signup", "trigger_type": "user_created",
        "filters": {"field": "user.email", "operator": "ends_with", "value": "@example.com"},
    })).json()
    assert trigger["trigger_type"] == "USER_CREATED"
    call = (await api.post(f"{V1}/actions", json={
        "name": "Notify CRM", "action_type": "webhook", "order": 2, "delay": 2,
        "configuration": {"url": sink.url("crm"), "method": "POST", "payload": {"v": 1, "email": "{{user.email}}"}},
    })).json()
    workflow_id = (await api.post(f"{V1}/workflows", json={"name": "Pinned"})).json()["id"]
    # An action may be created for a workflow: it is attached to it.
    tag = await api.post(f"{V1}/actions", json={
        "name": "Tag", "action_type": "add_tag", "order": 1, "configuration": {"tag_name": "signed-up"}, "workflow": workflow_id,
    })
    assert tag.status_code == 201, tag.text
    assert (await api.post(f"{V1}/workflows/{workflow_id}/add_action", json={"action_id": call["id"]})).status_code == 200
    r = await api.post(f"{V1}/workflows/{workflow_id}/add_trigger", json={
        "trigger_id": trigger["id"], "priority": 50,
        "specific_conditions": {"operator": "and", "conditions": [{"field": "event.data.plan", "operator": "not_equals", "value": "free"}]},
    })
    assert r.status_code == 200, r.text
    assert (await api.post(f"{V1}/workflows/{workflow_id}/activate")).status_code == 200

    await api.post(f"{V1}/triggers/process_event", json={"event_type": "USER_CREATED", "user_id": "p-1", "data": {"email": "ada@example.com"}})
    runs = await wait_for(lambda: executions_of(api, workflow_id), timeout=60, what="the first execution")
    # While the first run waits for the action's own delay, the action changes: the run keeps v1.
    changed = await api.patch(f"{V1}/actions/{call['id']}", json={"configuration": {
        "url": sink.url("crm"), "method": "POST", "payload": {"v": 2, "email": "{{user.email}}"}}})
    assert changed.status_code == 200 and changed.json()["version"] == 2, changed.text
    first = await wait_status(api, runs[0]["id"], "completed", "failed")
    assert first["status"] == "completed", first
    assert first["execution_path"] == ["trigger", f"action-{tag.json()['id']}", f"action-{call['id']}"]
    assert [c.body for c in sink.to("crm")] == [{"v": 1, "email": "ada@example.com"}]

    # The next run pins the new version.
    await api.post(f"{V1}/triggers/process_event", json={"event_type": "USER_CREATED", "user_id": "p-2", "data": {"email": "bob@example.com"}})

    async def second() -> list[Any] | None:
        done = await executions_of(api, workflow_id, status="completed")
        return done if len(done) == 2 else None

    await wait_for(second, timeout=60, what="the second execution")
    assert [c.body for c in sink.to("crm")][1] == {"v": 2, "email": "bob@example.com"}

    # Not started: the filters fail, the link's specific_conditions fail, the trigger is inactive.
    async def reason(event: dict[str, Any]) -> str:
        r = await api.post(f"{V1}/triggers/process_event", json={"event_type": "USER_CREATED", **event})
        event_id = r.json()["event_log_id"]
        # The matcher reads definitions as they are when it gets to the event: wait for it.
        row = await wait_for(lambda: event_log(settings, event_id), timeout=30, what="event log")
        return str(row["evaluations"])

    reasons = [
        await reason({"user_id": "p-3", "data": {"email": "eve@elsewhere.org"}}),
        await reason({"user_id": "p-4", "data": {"email": "c@example.com", "plan": "free"}}),
    ]
    assert (await api.post(f"{V1}/triggers/{trigger['id']}/deactivate")).json()["is_active"] is False
    reasons.append(await reason({"user_id": "p-5", "data": {"email": "d@example.com"}}))
    assert "filters did not match" in reasons[0]
    assert "specific_conditions did not match" in reasons[1]
    assert "is inactive" in reasons[2]
    assert len(await executions_of(api, workflow_id)) == 2
    # Reactivated, it fires again.
    assert (await api.post(f"{V1}/triggers/{trigger['id']}/activate")).json()["is_active"] is True
    await api.post(f"{V1}/triggers/process_event", json={"event_type": "USER_CREATED", "user_id": "p-6", "data": {"email": "e@example.com"}})

    async def third() -> list[Any] | None:
        done = await executions_of(api, workflow_id, status="completed")
        return done if len(done) == 3 else None

    await wait_for(third, timeout=60, what="the third execution")


    # A manual run and a dry run pin the attached actions the same way.
    r = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={
        "input_data": {}, "execution_context": {"user": {"id": "p-7", "email": "m@example.com"}}})
    assert r.status_code == 202, r.text
    manual = await wait_status(api, r.json()["execution_id"], "completed", "failed")
    assert manual["status"] == "completed" and manual["execution_path"][1:] == [f"action-{tag.json()['id']}", f"action-{call['id']}"]
    dry = (await api.post(f"{V1}/workflows/{workflow_id}/test", json={"test_data": {}, "user": {"id": "p-8", "email": "x@example.com"}})).json()
    assert dry["success"] is True and dry["results"][f"action-{call['id']}"]["would_send"]["payload"] == {"v": 2, "email": "x@example.com"}


async def _every_second(api: httpx.AsyncClient, sink: Sink, path: str) -> tuple[str, str]:
    """An active workflow whose attached cron trigger fires every second into the sink at `path`."""
    trigger = await api.post(f"{V1}/triggers", json={"name": f"every second {path}", "trigger_type": "cron", "schedule": "* * * * * *"})
    assert trigger.status_code == 201, trigger.text
    action = await api.post(f"{V1}/actions", json={
        "name": "ping", "action_type": "webhook",
        "configuration": {"url": sink.url(path), "payload": {"at": "{{input_data.scheduled_time}}"}},
    })
    assert action.status_code == 201, action.text
    workflow = await api.post(f"{V1}/workflows", json={"name": f"scheduled by a reusable trigger {path}", "trigger_type": "manual"})
    workflow_id = workflow.json()["id"]
    assert (await api.post(f"{V1}/workflows/{workflow_id}/add_trigger", json={"trigger_id": trigger.json()["id"]})).status_code == 200
    assert (await api.post(f"{V1}/workflows/{workflow_id}/add_action", json={"action_id": action.json()["id"]})).status_code == 200
    assert (await api.post(f"{V1}/workflows/{workflow_id}/activate")).status_code == 200
    return workflow_id, trigger.json()["id"]


def _fire_times(sink: Sink, path: str) -> list[datetime]:
    return [datetime.fromisoformat(c.body["at"]) for c in sink.to(path)]


async def test_an_attached_cron_trigger_runs_the_workflows_actions_on_its_schedule(api: httpx.AsyncClient, sink: Sink) -> None:
    workflow_id, trigger_id = await _every_second(api, sink, "cron-linked")
    control_id, _ = await _every_second(api, sink, "cron-control")

    async def ticked() -> bool:
        return len(sink.to("cron-linked")) >= 2

    await wait_for(ticked, timeout=30, interval=0.1, what="two fires of the attached cron trigger")
    fired = {c.body["at"] for c in sink.to("cron-linked")}
    assert len(fired) == len(sink.to("cron-linked"))  # each fire time once
    runs = await executions_of(api, workflow_id)
    assert runs and all(r["trigger_type"] == "cron" for r in runs)
    # Deactivating the trigger stops its schedule; the control schedule shows the timers kept ticking.
    assert (await api.post(f"{V1}/triggers/{trigger_id}/deactivate")).status_code == 200
    deactivated = datetime.now(UTC)

    async def control_moved_on() -> bool:
        return any(at > deactivated + timedelta(seconds=4) for at in _fire_times(sink, "cron-control"))

    await wait_for(control_moved_on, timeout=30, interval=0.1, what="the control schedule to fire 4 s after the deactivation")
    # The timer service reads definitions at most a second late: nothing fires after that.
    assert not [at for at in _fire_times(sink, "cron-linked") if at > deactivated + timedelta(seconds=2)]
    assert await executions_of(api, control_id)


async def test_an_action_moved_to_another_workflow_leaves_the_first(api: httpx.AsyncClient) -> None:
    async def workflow(name: str) -> str:
        r = await api.post(f"{V1}/workflows", json={"name": name})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def attached(workflow_id: str) -> list[str]:
        r = await api.get(f"{V1}/workflows/{workflow_id}/actions")
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["results"]]

    first, second = await workflow("moves from"), await workflow("moves to")
    r = await api.post(f"{V1}/actions", json={
        "name": "Tag", "action_type": "add_tag", "configuration": {"tag_name": "moved"}, "workflow": first,
    })
    assert r.status_code == 201, r.text
    action_id = r.json()["id"]
    assert await attached(first) == [action_id]

    r = await api.patch(f"{V1}/actions/{action_id}", json={"workflow": second})
    assert r.status_code == 200 and r.json()["workflow"] == second, r.text
    assert await attached(first) == [] and await attached(second) == [action_id]

    # A patch that does not name the workflow leaves the links alone.
    assert (await api.patch(f"{V1}/actions/{action_id}", json={"name": "Tag it"})).status_code == 200
    assert await attached(second) == [action_id]

    # PUT without a workflow detaches it from every workflow.
    r = await api.put(f"{V1}/actions/{action_id}", json={
        "name": "Tag it", "action_type": "add_tag", "configuration": {"tag_name": "moved"},
    })
    assert r.status_code == 200 and r.json()["workflow"] is None, r.text
    assert await attached(first) == [] and await attached(second) == []
