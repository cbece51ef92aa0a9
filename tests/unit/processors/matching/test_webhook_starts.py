"""An accepted webhook call's start, derived from its call record (processors/matching/webhooks.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from processors.matching.linking import trigger_webhook_id
from processors.matching.webhooks import start_of_call, webhook_context
from schemas.records import ActionDefined, WebhookCalled, WebhookStart
from schemas.workflow import ActionRef, TriggerRef, WorkflowSnapshot, WorkflowStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def call(**kw: Any) -> WebhookCalled:
    base: dict[str, Any] = {
        "call_id": "c1", "webhook_id": "h1", "workflow_id": "wf", "execution_id": "e1", "method": "POST",
        "path": "/api/v1/hooks/x", "query": {"a": "1"}, "request_size": 10, "response_status": 202,
        "duration_ms": 1.0, "outcome": "accepted", "received_at": T0,
        "start": WebhookStart(input={"order": 7, "user": {"email": "a@b.c"}}, content_type="application/json"),
    }
    return WebhookCalled(**(base | kw))


def workflow(**kw: Any) -> WorkflowSnapshot:
    base: dict[str, Any] = {
        "id": "wf", "workspace_id": "ws", "version": 3, "name": "w", "status": WorkflowStatus.ACTIVE,
        "created_at": T0, "updated_at": T0,
    }
    return WorkflowSnapshot(**(base | kw))


def test_an_accepted_call_starts_its_execution_with_the_webhook_context() -> None:
    started = start_of_call(call(), "ws", workflow(), {})
    assert started is not None
    assert (started.execution_id, started.trigger_type, started.performed_by) == ("e1", "webhook", "webhook")
    assert started.workflow.version == 3
    assert started.context == webhook_context("e1", {"order": 7, "user": {"email": "a@b.c"}}, T0, {
        "id": "h1", "method": "POST", "query": {"a": "1"}, "content_type": "application/json", "test": False,
    }, workflow())
    assert "trigger" not in started.context  # an ordinary webhook: no attached trigger to name
    assert started.context["user"] == {"email": "a@b.c"} and started.context["event"]["type"] == "webhook"


def test_a_call_without_a_start_starts_nothing() -> None:
    assert start_of_call(call(start=None), "ws", workflow(), {}) is None
    assert start_of_call(call(execution_id=None), "ws", workflow(), {}) is None
    assert start_of_call(call(start=None, outcome="completed"), "ws", workflow(), {}) is None


def test_no_active_workflow_of_the_workspace_starts_nothing() -> None:
    assert start_of_call(call(), "ws", None, {}) is None
    assert start_of_call(call(), "ws", workflow(status=WorkflowStatus.INACTIVE), {}) is None
    assert start_of_call(call(), "other-ws", workflow(), {}) is None


def test_a_re_sent_call_names_the_same_execution() -> None:
    first = start_of_call(call(call_id="c1"), "ws", workflow(), {})
    again = start_of_call(call(call_id="c2"), "ws", workflow(), {})
    assert first is not None and again is not None and first.execution_id == again.execution_id


def test_attached_actions_are_pinned_into_the_started_workflow() -> None:
    action = ActionDefined(id="a1", workspace_id="ws", version=1, name="tag", action_type="add_tag",
                           configuration={"tag": "vip"}, created_at=T0, updated_at=T0)
    started = start_of_call(call(), "ws", workflow(actions=(ActionRef(action_id="a1"),)), {"a1": action})
    assert started is not None
    assert len(started.workflow.nodes) > 0 and any("a1" in n.id for n in started.workflow.nodes)


def test_a_call_to_an_attached_webhook_triggers_own_webhook_names_the_trigger() -> None:
    flow = workflow(triggers=[TriggerRef(trigger_id="t1", priority=4)])
    started = start_of_call(call(webhook_id=trigger_webhook_id("wf", "t1")), "ws", flow, {})
    assert started is not None and started.context["trigger"] == {"id": "t1", "type": "webhook", "priority": 4}
    other = start_of_call(call(webhook_id=trigger_webhook_id("wf", "t2")), "ws", flow, {})
    assert other is not None and "trigger" not in other.context
