"""Records the execution histories that test_histories.py holds the state machine to.

    .venv/bin/python -m tests.unit.processors.engine.histories.record            # every scenario
    .venv/bin/python -m tests.unit.processors.engine.histories.record cancel_during_wait

Each scenario builds a workflow and plays the services around the executor on a
virtual clock, as production does: the matcher (or the API) writes
`execution.started`, the executor runs `advance` on what it reads back from the
executions topic (the records its `wants` keeps, in arrival order, each at the
clock time it is read, its state shrunk to a finished marker at the end), the
node worker answers work orders after a fixed latency with deterministic
outputs, the timer service fires each timer at its due time unless it was
cancelled. One JSON file per scenario is written next to this module: every
input with its time, and every output of every step, decoded. Nothing here reads
the wall clock or a random source, so re-recording an unchanged engine rewrites
the same bytes.

Re-record only for an intended change to the records an execution produces (the
README in this folder says when that is), and say so in the commit.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from processors.engine.machine import State, advance, finished_marker, result_id, work_result
from processors.matching.linking import compile_actions
from processors.matching.triggers import event_context
from processors.services.executor import Executor
from schemas.codec import decode_record
from schemas.envelope import Envelope, RecordData, deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import (
    ActionDefined,
    EventIngested,
    ExecutionCancelRequested,
    ExecutionStarted,
    ExecutionSteps,
    NodeError,
    NodeSucceeded,
    NodeWorkOrdered,
    TimerCancelled,
    TimerFired,
    TimerScheduled,
)
from schemas.topics import EXECUTIONS, NODE_WORK, TIMERS
from schemas.workflow import ActionRef, Edge, Node, NodeType, WorkflowSettings, WorkflowSnapshot

HERE = Path(__file__).resolve().parent
FORMAT = 1
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WS = "ws-acme"
# The worker's default latency: its result is read this long after the order.
LATENCY = 0.4

# What the stand-in worker does with an order: (output or error, latency seconds), or None: never answers.
Answer = tuple["dict[str, Any] | NodeError", float] | None
Behaviour = Callable[[NodeWorkOrdered], Answer]


# -- the services around the executor, on a virtual clock ---------------------------
@dataclass
class Recording:
    name: str
    description: str
    behaviour: Behaviour
    # Nodes whose results the worker delivers twice (at least once: a retried produce), the copy this much later.
    twice: Mapping[str, float] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    workflows: list[dict[str, Any]] = field(default_factory=list)
    _queue: list[tuple[datetime, int, bytes]] = field(default_factory=list)
    _seq: int = 0
    _timers: dict[str, bytes] = field(default_factory=dict)
    _states: dict[str, State | None] = field(default_factory=dict)
    _executor: Executor = field(default_factory=Executor)

    def deliver(self, at: datetime, envelope: Envelope) -> None:
        """A record reaches the executions topic at `at` (the executor reads it then)."""
        self._push(at, envelope.to_bytes())

    def _push(self, at: datetime, value: bytes) -> None:
        heapq.heappush(self._queue, (at, self._seq, value))
        self._seq += 1

    def run(self, until: datetime | None = None) -> None:
        """Play records in time order (arrival order at equal times) until none is left or `until`."""
        while self._queue and (until is None or self._queue[0][0] <= until):
            at, _, value = heapq.heappop(self._queue)
            envelope, data = decode_record(value)
            if isinstance(data, TimerFired):
                if self._timers.get(data.timer_id) != value:
                    continue  # cancelled before it came due: the timer service never fires it
                del self._timers[data.timer_id]
            self._step(at, value, envelope, data)

    def _step(self, at: datetime, value: bytes, envelope: Envelope, data: RecordData) -> None:
        # What Executor._one does, with the virtual clock for its now() and time.time().
        execution_id = envelope.executionid
        assert execution_id is not None
        state = self._states.get(execution_id)
        new_state, outputs = advance(state, envelope, data, at)
        if new_state is not state or outputs:
            if new_state is not None and new_state.get("status") != "running":
                new_state = finished_marker(new_state, at.timestamp())
            self._states[execution_id] = new_state
        self.steps.append({"at": at.isoformat(), "input": orjson.loads(value), "outputs": [output_json(o) for o in outputs]})
        for output in outputs:
            self._route(at, output)

    def _route(self, at: datetime, output: Output) -> None:
        assert output.value is not None
        envelope, data = decode_record(output.value)
        if output.topic == EXECUTIONS:
            if self._executor.wants(output.headers):
                self._push(at, output.value)  # read back by the executor (none are, today: all are its own echoes)
        elif output.topic == NODE_WORK and isinstance(data, NodeWorkOrdered):
            answer = self.behaviour(data)
            if answer is not None:
                outcome, latency = answer
                done = at + timedelta(seconds=latency)
                kind, result = work_result(data, outcome, at, done)
                value = worker_envelope(envelope, data, result, kind, done).to_bytes()
                self._push(done, value)
                if data.node_id in self.twice:
                    self._push(done + timedelta(seconds=self.twice[data.node_id]), value)
        elif output.topic == TIMERS and isinstance(data, TimerScheduled):
            fired = timer_fired(envelope, data)
            self._timers[data.timer_id] = fired.to_bytes()
            self._push(data.fire_at, self._timers[data.timer_id])
        elif output.topic == TIMERS and isinstance(data, TimerCancelled):
            self._timers.pop(data.timer_id, None)
        # The events topic (contact changes, MESSAGE_SENT) is the matcher's: not read back here.

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "scenario": self.name,
            "description": self.description,
            "recorded_by": "tests/unit/processors/engine/histories/record.py",
            "workflows": self.workflows,
            "steps": self.steps,
        }


def output_json(output: Output) -> dict[str, Any]:
    assert output.value is not None
    return {
        "topic": output.topic.name,
        "key": output.key,
        "headers": [[name, value.decode()] for name, value in output.headers],
        "envelope": orjson.loads(output.value),
    }


def worker_envelope(cause: Envelope, order: NodeWorkOrdered, data: RecordData, kind: str, at: datetime) -> Envelope:
    """As processors/services/worker.py writes a result (its `time` is when it finished)."""
    return make_envelope(
        data, id=result_id(kind, order), source="processor/worker", workspace_id=cause.workspaceid,
        subject=cause.subject, time=at, execution_id=order.execution_id, correlation_id=cause.correlationid,
        causation_id=cause.id, depth=cause.depth,
    )


def timer_fired(scheduled_env: Envelope, data: TimerScheduled) -> Envelope:
    """As processors/services/timers.py fires a timer, here exactly at its due time."""
    fired = TimerFired(
        timer_id=data.timer_id, execution_id=data.execution_id, purpose=data.purpose, node_id=data.node_id,
        attempt=data.attempt, iteration=data.iteration, fire_at=data.fire_at, fired_at=data.fire_at,
    )
    return make_envelope(
        fired, id=deterministic_id("timer-fired", data.timer_id), source="processor/timers",
        workspace_id=scheduled_env.workspaceid, subject=scheduled_env.subject, time=data.fire_at,
        execution_id=data.execution_id, correlation_id=scheduled_env.correlationid,
        causation_id=scheduled_env.id, depth=scheduled_env.depth,
    )


# -- how executions start ------------------------------------------------------------
PROFILE: dict[str, Any] = {
    "id": "u-1001", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
    "phone": "+15550100", "tags": ["lead"],
}


def by_event(
    rec: Recording, workflow: WorkflowSnapshot, event_type: str, data: dict[str, Any], *,
    at: datetime = T0, profile: Mapping[str, Any] = PROFILE, conversation_id: str | None = None,
    actions: Mapping[str, ActionDefined] | None = None,
) -> Envelope:
    """The matcher's `execution.started` for an event (processors/services/matcher.py)."""
    event = EventIngested(event_type=event_type, data=data, user_id=str(profile["id"]), conversation_id=conversation_id)
    event_id = deterministic_id("histories", rec.name, "event")
    execution_id = deterministic_id("execution", event_id, workflow.id, str(workflow.version))
    pinned = compile_actions(workflow, actions or {})
    started = ExecutionStarted(
        execution_id=execution_id, workflow=pinned, trigger_type="event", event_id=event_id,
        subject=str(profile["id"]), context=event_context(event, event_id, at, profile),
    )
    envelope = make_envelope(
        started, id=deterministic_id("started", execution_id), source="processor/matcher", workspace_id=WS,
        subject=started.subject, time=at, execution_id=execution_id, correlation_id=event_id, causation_id=event_id,
        depth=1,
    )
    rec.workflows.append(pinned.model_dump(mode="json"))
    rec.deliver(at, envelope)
    return envelope


def by_api(rec: Recording, started: ExecutionStarted, at: datetime) -> Envelope:
    """The API's `execution.started` (api/routers/runs.py `_start`); its id is random there, fixed here."""
    envelope = make_envelope(
        started, id=deterministic_id("histories", rec.name, "api", started.execution_id), source="api/runs",
        workspace_id=WS, subject=started.subject, time=at, execution_id=started.execution_id,
        correlation_id=started.retry_of or started.execution_id, depth=1,
    )
    rec.workflows.append(started.workflow.model_dump(mode="json"))
    rec.deliver(at, envelope)
    return envelope


def cancel(rec: Recording, execution_id: str, at: datetime, subject: str | None) -> None:
    """The API's cancel request (api/routers/runs.py `cancel_execution`)."""
    request = ExecutionCancelRequested(execution_id=execution_id, requested_by="owner@acme.test", reason="customer unsubscribed")
    rec.deliver(at, make_envelope(
        request, id=deterministic_id("histories", rec.name, "cancel"), source="api/runs", workspace_id=WS,
        subject=subject, time=at, execution_id=execution_id, depth=1,
    ))


def retry_from_failed(rec: Recording, first: ExecutionStarted, at: datetime) -> ExecutionStarted:
    """The API's retry of a failed execution (api/routers/runs.py `retry_execution`), from what it recorded.

    The API reads the projection: the failed node, the execution path and the last
    completed output of each node outside loops. The same facts come from the recorded outputs here.
    """
    failed: dict[str, Any] | None = None
    outputs: dict[str, dict[str, Any]] = {}
    for step in rec.steps:
        for out in step["outputs"]:
            env = out["envelope"]
            if env.get("executionid") != first.execution_id:
                continue
            # Node steps one transaction decided come as one steps record: the projection reads its steps.
            steps = env["data"]["steps"] if env["type"] == ExecutionSteps.TYPE else [env]
            for node_step in steps:
                if node_step["type"] == NodeSucceeded.TYPE and node_step["data"]["iteration"] is None:
                    outputs[node_step["data"]["node_id"]] = node_step["data"]["output"]
            if env["type"] == "fluxo.execution.failed.v1":
                failed = env["data"]
    assert failed is not None and failed["failed_node"], "the first execution must fail at a node"
    resume_from = failed["failed_node"]
    prior_path = tuple(p for p in failed["execution_path"] if p in outputs and p != resume_from)
    return ExecutionStarted(
        execution_id=deterministic_id("histories", rec.name, "retry"),
        workflow=first.workflow, trigger_type=first.trigger_type, event_id=first.event_id, subject=first.subject,
        context=first.context, performed_by="owner@acme.test", retry_of=first.execution_id, resume_from=resume_from,
        prior_nodes={k: v for k, v in outputs.items() if k in prior_path}, prior_path=prior_path,
    )


# -- building workflows ----------------------------------------------------------------
def node(id: str, kind: str, name: str = "", **config: Any) -> Node:
    return Node(id=id, name=name or id, node_type=NodeType(kind), config=config)


def webhook(id: str, url: str, payload: dict[str, Any], **extra: Any) -> Node:
    return node(id, "action", action_type="webhook", url=url, method="POST", headers={"content-type": "application/json"}, payload=payload, **extra)


def edge(source: str, target: str, label: str | None = None) -> Edge:
    return Edge(id=f"{source}->{target}", source_node=source, target_node=target, label=label)


def workflow(id: str, name: str, nodes: list[Node], edges: list[Edge], **extra: Any) -> WorkflowSnapshot:
    base: dict[str, Any] = {
        "id": id, "workspace_id": WS, "version": 2, "name": name, "status": "active",
        "trigger_config": {"event_type": "USER_CREATED"}, "created_at": T0 - timedelta(days=30),
        "updated_at": T0 - timedelta(days=1), "nodes": tuple(nodes), "edges": tuple(edges),
    }
    base.update(extra)
    return WorkflowSnapshot(**base)


# -- the stand-in worker -----------------------------------------------------------------
def http_ok(order: NodeWorkOrdered) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": "application/json"}, "body": {"received": True, "url": order.config.get("url")}, "ok": True}


def email_sent(order: NodeWorkOrdered) -> dict[str, Any]:
    return {
        "status": "sent", "message_id": f"<{order.idempotency_key}@mail.acme.test>", "recipients": [order.config.get("recipient")],
        "refused": [], "smtp_response": "250 OK", "subject": order.config.get("subject"),
    }


def succeed(order: NodeWorkOrdered) -> Answer:
    if order.action_type in ("send_email", "email"):
        return email_sent(order), LATENCY
    if order.action_type == "send_message":
        return {"message_id": f"msg-{order.node_id}-{order.attempt}", "delivery": "queued"}, LATENCY
    return http_ok(order), LATENCY


UNAVAILABLE = NodeError(code="HTTP_503", message="POST https://crm.acme.test/api/contacts answered 503 Service Unavailable", retryable=True)


# -- the scenarios ---------------------------------------------------------------------------
def branching(value: bool) -> Recording:
    email = "ada@example.com" if value else "bob@gmail.test"
    rec = Recording(
        f"branching_condition_{str(value).lower()}",
        f"A condition on the contact's email domain ({email}): the {'true' if value else 'false'} branch runs,"
        " the other is skipped (dead-path elimination); afterwards the start is delivered again and refused.",
        succeed,
    )
    wf = workflow(
        "wf-onboarding", "Onboarding by domain",
        [
            node("trigger", "trigger", "New user"),
            node("is_customer", "condition", "Customer domain?", condition="user.email.endsWith('@example.com')"),
            node("profile", "transform", "Build profile", mapping={"full_name": "{{user.first_name}} {{user.last_name}}", "plan": "{{event.data.plan}}", "source": "onboarding"}),
            webhook("crm", "https://crm.acme.test/api/contacts", {"email": "{{user.email}}", "name": "{{nodes.profile.full_name}}", "plan": "{{nodes.profile.plan}}"}),
            node("tag_prospect", "action", "Tag prospect", action_type="add_tag", tag_name="prospect"),
        ],
        [edge("trigger", "is_customer"), edge("is_customer", "profile", "true"), edge("profile", "crm"), edge("is_customer", "tag_prospect", "false")],
    )
    start = by_event(rec, wf, "USER_CREATED", {"plan": "pro", "email": email}, profile={**PROFILE, "email": email})
    rec.run()
    rec.deliver(T0 + timedelta(minutes=5), start)  # a producer re-sent the event: the finished marker refuses it
    rec.run()
    return rec


def parallel_join() -> Recording:
    def behaviour(order: NodeWorkOrdered) -> Answer:
        answer = succeed(order)
        assert answer is not None
        # The slower branch answers last: the join waits for it.
        return answer[0], {"notify_sales": 1.2, "welcome_email": 0.3}.get(order.node_id, LATENCY)

    rec = Recording(
        "parallel_join",
        "Two branches in parallel (a webhook, an email) joined by a transform that uses both outputs, then a final webhook;"
        " the email's result is delivered twice and the copy is ignored.",
        behaviour, twice={"welcome_email": 0.1},
    )
    wf = workflow(
        "wf-parallel", "Welcome in parallel",
        [
            node("trigger", "trigger", "New user"),
            webhook("notify_sales", "https://hooks.acme.test/sales", {"text": "New signup: {{user.email}} ({{event.data.plan}})"}),
            node("welcome_email", "action", "Welcome email", action_type="send_email", subject="Welcome, {{user.first_name}}!", body="Hi {{user.first_name}}, your {{event.data.plan}} plan is ready."),
            node("summary", "transform", "Summary", mapping={"sales_status": "{{nodes.notify_sales.status_code}}", "email_id": "{{nodes.welcome_email.message_id}}"}),
            webhook("audit", "https://audit.acme.test/events", {"user": "{{user.id}}", "email_id": "{{nodes.summary.email_id}}"}),
        ],
        [edge("trigger", "notify_sales"), edge("trigger", "welcome_email"), edge("notify_sales", "summary"), edge("welcome_email", "summary"), edge("summary", "audit")],
    )
    by_event(rec, wf, "USER_CREATED", {"plan": "team"})
    rec.run()
    return rec


def loop_items() -> Recording:
    rec = Recording("loop_items", "A loop over the order's items: its body (a webhook per item) runs once per item, one after the other, then a transform counts them.", succeed)
    wf = workflow(
        "wf-order-lines", "Sync order lines",
        [
            node("trigger", "trigger", "Order placed"),
            node("each_line", "loop", "Each line", items="event.data.items", max_iterations=10),
            webhook("sync_line", "https://erp.acme.test/lines", {"sku": "{{item.sku}}", "qty": "{{item.qty}}", "position": "{{loop.index}}"}),
            node("done", "transform", "Done", mapping={"lines": "{{nodes.each_line.iterations}}", "order": "{{event.data.order_id}}"}),
        ],
        [edge("trigger", "each_line"), edge("each_line", "sync_line", "body"), edge("sync_line", "each_line"), edge("each_line", "done", "done")],
        trigger_config={"event_type": "ORDER_PLACED"},
    )
    by_event(rec, wf, "ORDER_PLACED", {"order_id": "o-77", "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}, {"sku": "C-3", "qty": 5}]})
    rec.run()
    return rec


def waits() -> Recording:
    rec = Recording("wait", "A delay node (2 hours) then a wait action (30 minutes) before an email: each is a durable timer fired at its due time.", succeed)
    wf = workflow(
        "wf-nurture", "Nurture",
        [
            node("trigger", "trigger", "New user"),
            node("pause", "delay", "Two hours", duration=2, unit="hours"),
            node("settle", "action", "Wait a bit", action_type="wait", duration=30, unit="minutes"),
            node("nudge", "action", "Nudge email", action_type="send_email", subject="Getting started, {{user.first_name}}", body="Three tips for {{event.data.plan}}."),
        ],
        [edge("trigger", "pause"), edge("pause", "settle"), edge("settle", "nudge")],
        settings=WorkflowSettings(timeout_seconds=86400),
    )
    by_event(rec, wf, "USER_CREATED", {"plan": "starter"})
    rec.run()
    return rec


def flaky(fail_attempts: int) -> Behaviour:
    def behaviour(order: NodeWorkOrdered) -> Answer:
        if order.node_id == "crm" and order.attempt <= fail_attempts:
            return UNAVAILABLE, 0.8
        return succeed(order)
    return behaviour


def crm_flow(id: str, *, error_path: bool, **extra: Any) -> WorkflowSnapshot:
    nodes = [
        node("trigger", "trigger", "New user"),
        node("payload", "transform", "CRM payload", mapping={"email": "{{user.email}}", "name": "{{user.first_name}} {{user.last_name}}"}),
        webhook("crm", "https://crm.acme.test/api/contacts", {"email": "{{nodes.payload.email}}", "name": "{{nodes.payload.name}}"}, retry={"max_retries": 2, "backoff_seconds": 5}),
        node("tag_synced", "action", "Tag synced", action_type="add_tag", tag_name="crm-synced"),
    ]
    edges = [edge("trigger", "payload"), edge("payload", "crm"), edge("crm", "tag_synced")]
    if error_path:
        nodes.append(node("alert_ops", "action", "Alert ops", action_type="send_email", recipient="ops@acme.test", subject="CRM sync failed for {{user.email}}", body="{{nodes.crm.error.code}}: {{nodes.crm.error.message}}"))
        edges.append(edge("crm", "alert_ops", "error"))
    return workflow(id, "CRM sync", nodes, edges, **extra)


def retry_then_success() -> Recording:
    rec = Recording("retry_then_success", "A webhook fails twice with a retryable 503; each failure schedules a backoff timer; the third attempt succeeds.", flaky(2))
    by_event(rec, crm_flow("wf-crm", error_path=True), "USER_CREATED", {"plan": "pro"})
    rec.run()
    return rec


def retry_then_failure_path() -> Recording:
    rec = Recording("retry_then_failure_path", "A webhook fails with a retryable 503 on every attempt; once its retries are spent its error edge runs an alert email; the execution completes.", flaky(99))
    by_event(rec, crm_flow("wf-crm", error_path=True), "USER_CREATED", {"plan": "pro"})
    rec.run()
    return rec


def retry_exhausted_failed() -> Recording:
    rec = Recording(
        "retry_exhausted_failed",
        "No error edge: the retries spent, the execution fails and the on_failure notification is ordered; the notification's result arrives after the end and is ignored.",
        flaky(99),
    )
    settings = WorkflowSettings(notifications={"on_failure": {"webhook_url": "https://alerts.acme.test/fluxo"}})
    by_event(rec, crm_flow("wf-crm-strict", error_path=False, settings=settings), "USER_CREATED", {"plan": "pro"})
    rec.run()
    return rec


def cancel_during_wait() -> Recording:
    rec = Recording("cancel_during_wait", "An execution waiting a day is cancelled an hour in: its timers are cancelled and the wait never fires.", succeed)
    wf = workflow(
        "wf-trial", "Trial reminder",
        [
            node("trigger", "trigger", "Trial started"),
            node("one_day", "delay", "One day", delay_seconds=86400),
            node("reminder", "action", "Reminder", action_type="send_email", subject="Your trial ends soon", body="Hi {{user.first_name}}"),
        ],
        [edge("trigger", "one_day"), edge("one_day", "reminder")],
        settings=WorkflowSettings(timeout_seconds=3 * 86400),
    )
    start = by_event(rec, wf, "USER_CREATED", {"plan": "trial"})
    rec.run(until=T0 + timedelta(minutes=1))
    cancel(rec, str(start.executionid), T0 + timedelta(hours=1), start.subject)
    rec.run()
    return rec


def retry_from_node() -> Recording:
    retry_id = deterministic_id("histories", "retry_from_node", "retry")

    def behaviour(order: NodeWorkOrdered) -> Answer:
        # The CRM refuses the first execution's call (a 422: not retryable) and accepts the retried one's.
        if order.node_id == "crm" and order.execution_id != retry_id:
            return NodeError(code="HTTP_422", message="POST https://crm.acme.test/api/contacts answered 422 Unprocessable Entity"), 0.5
        return succeed(order)

    rec = Recording(
        "retry_from_node",
        "An execution fails at its CRM webhook (a 422, not retryable); the API's retry starts a new execution that resumes at that node, with the earlier nodes' outputs.",
        behaviour,
    )
    wf = crm_flow("wf-crm-strict", error_path=False)
    first_env = by_event(rec, wf, "USER_CREATED", {"plan": "pro"})
    rec.run()
    first = decode_record(first_env.to_bytes())[1]
    assert isinstance(first, ExecutionStarted)
    by_api(rec, retry_from_failed(rec, first, T0 + timedelta(hours=2)), T0 + timedelta(hours=2))
    rec.run()
    return rec


def attached_actions() -> Recording:
    created = T0 - timedelta(days=10)

    def action(id: str, name: str, action_type: str, order: int, delay: float = 0, **configuration: Any) -> ActionDefined:
        return ActionDefined(
            id=id, workspace_id=WS, version=1, name=name, action_type=action_type, configuration=configuration,
            order=order, delay=delay, created_at=created, updated_at=created,
        )

    actions = {
        a.id: a
        for a in (
            action("act-tag", "Tag VIP", "add_tag", 1, tag_name="vip"),
            action("act-reply", "Reply", "send_message", 2, message="Thanks {{user.first_name}}, we are on it."),
            action("act-wait", "Wait 10 minutes", "wait", 3, duration=10, unit="minutes"),
            action("act-email", "Follow-up email", "send_email", 4, delay=60, subject="Following up on your message", body="Hi {{user.first_name}}, any news?"),
            action("act-inactive", "Old webhook", "webhook", 5, url="https://old.acme.test"),
        )
    }
    actions["act-inactive"] = actions["act-inactive"].model_copy(update={"is_active": False})
    rec = Recording(
        "attached_actions",
        "Seed 003's linear workflow: attached actions (tag, reply, wait, an email with its own delay; one inactive) compiled into action nodes by the matcher and run in order.",
        succeed,
    )
    wf = workflow(
        "wf-support", "Support follow-up", [], [],
        trigger_config={"event_type": "MESSAGE_RECEIVED"}, settings=WorkflowSettings(timeout_seconds=3600),
        actions=tuple(ActionRef(action_id=a) for a in ("act-email", "act-wait", "act-reply", "act-tag", "act-inactive")),
    )
    by_event(rec, wf, "MESSAGE_RECEIVED", {"text": "My invoice is wrong", "channel": "whatsapp"}, conversation_id="conv-9", actions=actions)
    rec.run()
    return rec


def execution_timeout() -> Recording:
    def behaviour(order: NodeWorkOrdered) -> Answer:
        answer = succeed(order)
        assert answer is not None
        return answer[0], 90.0  # far slower than the workflow allows

    rec = Recording("execution_timeout", "The workflow's 60-second timeout fires while its webhook is still out: the execution fails (AUTO_006); the webhook's late result is ignored.", behaviour)
    wf = workflow(
        "wf-slow", "Slow partner",
        [node("trigger", "trigger", "New user"), webhook("partner", "https://partner.acme.test/slow", {"id": "{{user.id}}"})],
        [edge("trigger", "partner")],
        settings=WorkflowSettings(timeout_seconds=60),
    )
    by_event(rec, wf, "USER_CREATED", {"plan": "pro"})
    rec.run()
    return rec


def code_condition_and_record() -> Recording:
    def behaviour(order: NodeWorkOrdered) -> Answer:
        if order.action_type == "custom_code":
            # What the sandbox answers for a custom-code condition (processors/connectors/code.py).
            total = order.config["context"]["event"]["data"]["total"]
            return {"result": total > 100, "value": total > 100}, 0.2
        return succeed(order)

    rec = Recording(
        "code_condition_and_record",
        "A custom-code condition decided by the sandbox (a worker, given the execution context), then a row in a data table"
        " (create_record) whose id a transform and an HTTP request use.",
        behaviour,
    )
    wf = workflow(
        "wf-big-orders", "Big orders",
        [
            node("trigger", "trigger", "Order placed"),
            node("is_big", "condition", "Big order?", use_custom_code=True, language="python", code="result = context['event']['data']['total'] > 100"),
            node("ticket", "action", "Open ticket", action_type="create_record", table="tickets", data={"order": "{{event.data.order_id}}", "email": "{{user.email}}", "status": "open"}),
            node("note", "transform", "Ticket note", mapping={"ticket": "{{nodes.ticket.record_id}}", "summary": "Order {{event.data.order_id}} for {{event.data.total}}"}),
            node("notify", "http_request", "Notify desk", url="https://desk.acme.test/api/tickets/{{nodes.ticket.record_id}}", method="PUT", body={"note": "{{nodes.note.summary}}"}),
        ],
        [edge("trigger", "is_big"), edge("is_big", "ticket", "true"), edge("ticket", "note"), edge("note", "notify")],
        trigger_config={"event_type": "ORDER_PLACED"},
    )
    by_event(rec, wf, "ORDER_PLACED", {"order_id": "o-912", "total": 340})
    rec.run()
    return rec


def loop_with_wait_and_retry() -> Recording:
    def behaviour(order: NodeWorkOrdered) -> Answer:
        if order.node_id == "push" and order.iteration == 1 and order.attempt == 1:
            return UNAVAILABLE, 0.6
        return succeed(order)

    rec = Recording(
        "loop_with_wait_and_retry",
        "A loop whose body waits, then calls a webhook: the wait's timers and the second item's retry are scoped to their iteration.",
        behaviour,
    )
    wf = workflow(
        "wf-drip", "Drip per item",
        [
            node("trigger", "trigger", "Cart abandoned"),
            node("each", "loop", "Each item", items="{{ event.data['items'] }}"),
            node("space", "delay", "Space them", seconds=30),
            webhook("push", "https://push.acme.test/send", {"user": "{{user.id}}", "item": "{{item}}"}, retry={"max_retries": 1, "backoff_seconds": 10}),
            node("after", "action", "Summary email", action_type="send_email", subject="{{nodes.each.iterations}} reminders sent", body="Done."),
        ],
        [edge("trigger", "each"), edge("each", "space", "body"), edge("space", "push"), edge("push", "each"), edge("each", "after")],
        trigger_config={"event_type": "CART_ABANDONED"},
    )
    by_event(rec, wf, "CART_ABANDONED", {"items": ["sku-1", "sku-2"]})
    rec.run()
    return rec


SCENARIOS: dict[str, Callable[[], Recording]] = {
    "branching_condition_true": lambda: branching(True),
    "branching_condition_false": lambda: branching(False),
    "parallel_join": parallel_join,
    "loop_items": loop_items,
    "wait": waits,
    "retry_then_success": retry_then_success,
    "retry_then_failure_path": retry_then_failure_path,
    "retry_exhausted_failed": retry_exhausted_failed,
    "cancel_during_wait": cancel_during_wait,
    "retry_from_node": retry_from_node,
    "attached_actions": attached_actions,
    "execution_timeout": execution_timeout,
    "code_condition_and_record": code_condition_and_record,
    "loop_with_wait_and_retry": loop_with_wait_and_retry,
}


def dumps(document: dict[str, Any]) -> bytes:
    """Sorted keys, indented: a re-recording diffs line by line."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    for name in names or list(SCENARIOS):
        rec = SCENARIOS[name]()
        assert rec.name == name
        path = HERE / f"{name}.json"
        path.write_bytes(dumps(rec.document()))
        print(f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}: {len(rec.steps)} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
