"""Seed 003's attached triggers and actions: matching and compilation, pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from processors.engine.machine import advance, message_event_id
from processors.engine.simulate import simulate
from processors.matching.linking import (
    compile_actions,
    listens_to,
    match_linked,
    normalize_trigger_type,
    run_trigger,
    trigger_context,
    trigger_webhook_id,
    webhook_trigger,
)
from processors.matching.triggers import SubjectState, match_event
from schemas.codec import decode
from schemas.envelope import make_envelope
from schemas.records import (
    ActionDefined,
    EventIngested,
    ExecutionStarted,
    NodeSucceeded,
    NodeWorkOrdered,
    TriggerDefined,
)
from schemas.topics import EVENTS, NODE_WORK
from schemas.workflow import (
    ActionRef,
    Edge,
    Node,
    NodeType,
    TriggerRef,
    WorkflowSnapshot,
    WorkflowStatus,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def trigger(tid: str = "t1", **kw: Any) -> TriggerDefined:
    base: dict[str, Any] = {"id": tid, "workspace_id": "ws", "version": 1, "name": tid, "trigger_type": "MESSAGE_RECEIVED",
                            "created_at": T0, "updated_at": T0}
    return TriggerDefined(**(base | kw))


def action(aid: str, order: int = 0, **kw: Any) -> ActionDefined:
    base: dict[str, Any] = {"id": aid, "workspace_id": "ws", "version": 1, "name": aid, "action_type": "add_tag",
                            "configuration": {"tag_name": aid}, "order": order, "created_at": T0, "updated_at": T0}
    return ActionDefined(**(base | kw))


def wf(**kw: Any) -> WorkflowSnapshot:
    base: dict[str, Any] = {"id": "w1", "workspace_id": "ws", "version": 1, "name": "n", "status": WorkflowStatus.ACTIVE,
                            "created_at": T0, "updated_at": T0, "triggers": (TriggerRef(trigger_id="t1"),)}
    return WorkflowSnapshot(**(base | kw))


def ctx(content: str = "any coupon?", **user: Any) -> dict[str, Any]:
    return {"event": {"type": "MESSAGE_RECEIVED", "data": {"content": content}}, "user": user}


def test_trigger_types_are_normalized() -> None:
    assert normalize_trigger_type("message_received") == "MESSAGE_RECEIVED"
    assert normalize_trigger_type("Webhook") == "webhook"
    assert normalize_trigger_type("API_CALL") == "api_call"
    assert normalize_trigger_type("MESSAGE_EXPLODED") is None
    assert listens_to(trigger(trigger_type="event", event_type="ORDER_PLACED")) == "ORDER_PLACED"
    assert listens_to(trigger(trigger_type="cron", schedule="* * * * *")) is None


def test_an_attached_trigger_matches_by_type_case_insensitively_with_its_filters() -> None:
    coupon = {"operator": "or", "conditions": [{"field": "event.data.content", "operator": "icontains", "value": "COUPON"}]}
    triggers = {"t1": trigger(filters=coupon)}
    link, why = match_linked(wf(), "message_received", ctx(), triggers)
    assert link is not None and link.trigger.id == "t1" and why == "matched"
    link, why = match_linked(wf(), "MESSAGE_RECEIVED", ctx("hello"), triggers)
    assert link is None and "filters did not match" in why
    assert "listens to MESSAGE_RECEIVED, not USER_CREATED" in match_linked(wf(), "USER_CREATED", ctx(), triggers)[1]
    assert "inactive" in match_linked(wf(), "MESSAGE_RECEIVED", ctx(), {"t1": trigger(is_active=False)})[1]
    assert "no longer exists" in match_linked(wf(), "MESSAGE_RECEIVED", ctx(), {})[1]
    assert "no longer exists" in match_linked(wf(), "MESSAGE_RECEIVED", ctx(), {"t1": trigger(workspace_id="other")})[1]


def test_an_api_call_trigger_fires_on_its_event_type_only_for_events_the_api_ingested() -> None:
    api_call = trigger(trigger_type="api_call", event_type="ORDER.CREATED")
    assert listens_to(api_call) == "ORDER.CREATED"
    assert listens_to(trigger(trigger_type="api_call")) is None  # started by /execute instead
    triggers = {"t1": api_call}
    link, why = match_linked(wf(), "order.created", ctx(), triggers, "urn:fluxo:api/process_event")
    assert link is not None and why == "matched"
    assert match_linked(wf(), "order.created", ctx(), triggers, "urn:fluxo:api/process_events")[0] is not None
    for source in ("urn:fluxo:processor/executor", "api/process_event", "shop-backend", ""):
        link, why = match_linked(wf(), "order.created", ctx(), triggers, source)
        assert link is None and "api_call trigger" in why and "sent through the API" in why
    assert "not ORDER.PAID" in match_linked(wf(), "ORDER.PAID", ctx(), triggers, "urn:fluxo:api/process_event")[1]
    # An event trigger does not care where the event came from.
    assert match_linked(wf(), "MESSAGE_RECEIVED", ctx(), {"t1": trigger()}, "shop-backend")[0] is not None
    event = EventIngested(event_type="order.created", user_id="u1")
    assert len(match_event(event, "e1", T0, [wf()], SubjectState(), triggers, "urn:fluxo:api/process_event")[0]) == 1
    assert match_event(event, "e1", T0, [wf()], SubjectState(), triggers, "urn:fluxo:processor/executor")[0] == []


def test_a_manual_run_is_attributed_to_the_highest_priority_active_manual_or_api_call_trigger() -> None:
    workflow = wf(triggers=(TriggerRef(trigger_id="hook", priority=900), TriggerRef(trigger_id="m", priority=10),
                            TriggerRef(trigger_id="api", priority=50), TriggerRef(trigger_id="off", priority=800),
                            TriggerRef(trigger_id="gone", priority=999), TriggerRef(trigger_id="ev", priority=700)))
    triggers = {
        "hook": trigger("hook", trigger_type="webhook"), "m": trigger("m", trigger_type="manual"),
        "api": trigger("api", trigger_type="api_call"), "off": trigger("off", trigger_type="manual", is_active=False),
        "ev": trigger("ev", trigger_type="api_call", event_type="ORDER.CREATED"),
    }
    link, problem = run_trigger(workflow, triggers)
    assert link is not None and link.trigger.id == "api" and problem is None
    assert trigger_context(link) == {"id": "api", "name": "api", "type": "api_call", "version": 1, "priority": 50}
    link, problem = run_trigger(workflow, triggers, "m")
    assert link is not None and link.trigger.id == "m" and problem is None
    for wanted, why in (("hook", "is a webhook trigger"), ("ev", "fires on its events"), ("off", "is inactive"),
                        ("gone", "no longer exists"), ("elsewhere", "not attached to this workflow")):
        link, problem = run_trigger(workflow, triggers, wanted)
        assert link is None and problem is not None and why in problem, (wanted, problem)
    # No manual trigger attached: the run is allowed, attributed to none.
    assert run_trigger(wf(), {"t1": trigger()}) == (None, None)
    assert run_trigger(wf(triggers=()), {}) == (None, None)


def test_an_attached_webhook_trigger_has_one_webhook_per_workflow() -> None:
    workflow = wf(triggers=(TriggerRef(trigger_id="t1"), TriggerRef(trigger_id="t2", priority=7)))
    hook = trigger_webhook_id("w1", "t2")
    assert hook == trigger_webhook_id("w1", "t2") and hook not in (trigger_webhook_id("w2", "t2"), trigger_webhook_id("w1", "t1"))
    found = webhook_trigger(workflow, hook)
    assert found is not None and found.trigger_id == "t2" and found.priority == 7
    assert webhook_trigger(workflow, "some-other-webhook") is None and webhook_trigger(workflow, None) is None
    assert webhook_trigger(wf(triggers=()), hook) is None  # detached: the webhook starts it unattributed


def test_specific_conditions_and_priority() -> None:
    premium = {"conditions": [{"field": "user.tags", "operator": "contains", "value": "premium"}]}
    workflow = wf(triggers=(TriggerRef(trigger_id="low", priority=10),
                            TriggerRef(trigger_id="high", priority=200, specific_conditions=premium)))
    triggers = {"low": trigger("low"), "high": trigger("high")}
    link, _ = match_linked(workflow, "MESSAGE_RECEIVED", ctx(tags=["premium"]), triggers)
    assert link is not None and link.trigger.id == "high"
    link, _ = match_linked(workflow, "MESSAGE_RECEIVED", ctx(tags=[]), triggers)
    assert link is not None and link.trigger.id == "low"  # the high one's specific_conditions fail


def test_match_event_goes_through_attached_triggers_and_orders_by_priority() -> None:
    event = EventIngested(event_type="MESSAGE_RECEIVED", user_id="u1", data={"content": "coupon please"})
    a = wf(id="a", triggers=(TriggerRef(trigger_id="t1", priority=5),))
    b = wf(id="b", triggers=(TriggerRef(trigger_id="t1", priority=500),))
    legacy = wf(id="c", triggers=(), trigger_config={"event_type": "MESSAGE_RECEIVED"})
    matches, evaluations, *_ = match_event(event, "e1", T0, [a, b, legacy], SubjectState(), {"t1": trigger()})
    assert [m.workflow.id for m in matches] == ["b", "c", "a"]
    assert matches[0].link is not None and matches[1].link is None
    assert "matched trigger 't1' (priority 500)" == evaluations[0].reason
    none, evaluations, *_ = match_event(event, "e1", T0, [a], SubjectState(), {})
    assert none == [] and "no longer exists" in evaluations[0].reason


def test_compile_pins_active_actions_in_order_with_their_delay() -> None:
    actions = {
        "x": action("x", order=2, delay=30),
        "y": action("y", order=1),
        "off": action("off", order=0, is_active=False),
        "w": action("w", order=3, action_type="wait", configuration={"duration": 10, "unit": "minutes"}, delay=5),
    }
    workflow = wf(actions=(ActionRef(action_id="x"), ActionRef(action_id="y"), ActionRef(action_id="off"),
                           ActionRef(action_id="gone"), ActionRef(action_id="w", order=0)))
    pinned = compile_actions(workflow, actions, trigger())
    assert [n.id for n in pinned.nodes] == ["trigger", "action-w", "action-y", "action-x"]
    assert pinned.nodes[0].node_type == NodeType.TRIGGER and pinned.nodes[0].name == "t1"
    x = pinned.node("action-x")
    assert x is not None and x.config == {"tag_name": "x", "action_type": "add_tag", "order": 2, "delay": 30}
    w = pinned.node("action-w")
    assert w is not None and "delay" not in w.config and w.config["duration"] == 10
    assert compile_actions(wf(), actions) == wf()  # nothing attached: unchanged
    # Later edits to the actions do not touch the pinned snapshot.
    actions["x"] = action("x", order=2, configuration={"tag_name": "changed"})
    assert x.config["tag_name"] == "x"


def test_compiled_actions_run_in_order_after_a_graph() -> None:
    graph = wf(nodes=(Node(id="start", node_type=NodeType.TRIGGER), Node(id="a", node_type=NodeType.TRANSFORM),
                      Node(id="b", node_type=NodeType.TRANSFORM)),
               edges=(Edge(id="e1", source_node="start", target_node="a"), Edge(id="e2", source_node="start", target_node="b")),
               actions=(ActionRef(action_id="x"), ActionRef(action_id="y")))
    pinned = compile_actions(graph, {"x": action("x", 1), "y": action("y", 2)})
    assert {(e.source_node, e.target_node) for e in pinned.edges} >= {("a", "action-x"), ("b", "action-x"), ("action-x", "action-y")}
    started = ExecutionStarted(execution_id="ex", workflow=pinned, trigger_type="event", subject="u1",
                               context={"event": {}, "user": {"id": "u1"}, "conversation": {}, "input_data": {}})
    sim = simulate(started, workspace_id="ws", now=T0)
    assert sim.status == "completed"
    path = sim.state["path"] if sim.state else []
    assert path[-2:] == ["action-x", "action-y"]


def test_send_message_emits_message_sent_in_the_conversation() -> None:
    workflow = compile_actions(
        wf(actions=(ActionRef(action_id="m"),)),
        {"m": action("m", action_type="send_message", configuration={"message": "Hi {{user.first_name}}, code SAVE20"})},
    )
    started = ExecutionStarted(execution_id="ex", workflow=workflow, trigger_type="event", subject="u1", context={
        "event": {"type": "MESSAGE_RECEIVED", "data": {}}, "user": {"id": "u1", "first_name": "Ada"},
        "conversation": {"id": "conv-9"}, "input_data": {}})
    sim = simulate(started, workspace_id="ws", now=T0)
    assert sim.status == "completed"
    order = next(w for w in sim.work if w.node_id == "action-m")
    assert order.config["message"] == "Hi Ada, code SAVE20" and order.config["conversation_id"] == "conv-9"
    sent = [r for r in sim.records if isinstance(r, EventIngested)]
    assert [(e.event_type, e.conversation_id, e.user_id, e.data["content"]) for e in sent] == [
        ("MESSAGE_SENT", "conv-9", "u1", "Hi Ada, code SAVE20")]


def test_message_sent_goes_to_the_events_topic_after_delivery_with_a_stable_id() -> None:
    workflow = compile_actions(wf(actions=(ActionRef(action_id="m"),)),
                               {"m": action("m", action_type="send_message", configuration={"message": "hi"})})
    started = ExecutionStarted(execution_id="ex", workflow=workflow, trigger_type="event", subject="u1",
                               context={"event": {}, "user": {"id": "u1"}, "conversation": {"id": "c1"}, "input_data": {}})
    state, outputs = advance(None, make_envelope(started, source="t", workspace_id="ws", execution_id="ex", time=T0), started, T0)
    assert not [o for o in outputs if o.topic == EVENTS]  # nothing before the step succeeded
    work = next(decode(o.value)[1] for o in outputs if o.topic == NODE_WORK and o.value)
    assert isinstance(work, NodeWorkOrdered)
    done = NodeSucceeded(execution_id="ex", node_id=work.node_id, node_type=work.node_type, attempt=1, input=work.config,
                         output={"delivery": "event_only"}, started_at=T0, completed_at=T0)
    _, outputs = advance(state, make_envelope(done, source="t", workspace_id="ws", execution_id="ex", time=T0), done, T0)
    events = [o for o in outputs if o.topic == EVENTS]
    assert len(events) == 1 and events[0].key == "ws:u1" and events[0].value
    env, event = decode(events[0].value)
    assert env.id == message_event_id("ex", work.node_id, 1, None)
    assert isinstance(event, EventIngested) and event.data["delivery"] == "event_only" and event.conversation_id == "c1"
