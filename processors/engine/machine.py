"""The execution state machine: `advance(state, record) -> (state, outputs)`. Pure.

The executor process, the dry-run endpoint and the tests all call this one
function. It never does I/O: side-effecting nodes become work orders for the
node workers, waits and backoffs become timers, and their results come back
as records. Record ids are derived from (execution, node, attempt, iteration),
so a re-run of the same input produces the same records, and a duplicate
input is recognised and ignored.

Graph semantics:
- A node runs once all its incoming edges are resolved (taken or dead) and
  at least one was taken; a node whose incoming edges are all dead is
  skipped and kills its own outgoing edges (dead-path elimination). So a
  join after parallel branches runs once, after every live branch.
- Condition nodes choose edges by label (true/false), by `true_path` /
  `false_path`, or by the edge's own CEL condition.
- A node that fails for good takes its error edges (label `error`) if it
  has any; otherwise the execution fails.
- A loop node runs its body (edges labelled `body`) once per item, one
  iteration after the other, then follows its other edges.

State is a JSON-able dict (it is stored in a compacted changelog topic).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from processors.engine import graph
from processors.engine.contacts import CONTACT_ACTIONS, ContactError, contact_change
from processors.engine.policies import DurationError, pre_delay_seconds, retry_policy, wait_seconds
from processors.expressions.conditions import ConditionError, evaluate_cel, evaluate_condition
from processors.expressions.templates import TemplateError, render_value
from schemas.envelope import Envelope, RecordData, deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import (
    DataRecordCreated,
    EventIngested,
    ExecutionCancelled,
    ExecutionCancelRequested,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    FailureNotified,
    NodeError,
    NodeFailed,
    NodeRetryScheduled,
    NodeScheduled,
    NodeSucceeded,
    NodeWorkOrdered,
    TimerCancelled,
    TimerFired,
    TimerScheduled,
)
from schemas.topics import EVENTS, EXECUTIONS, NODE_WORK, TIMERS, TopicSpec
from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

State = dict[str, Any]

SOURCE = "processor/executor"
# Nodes the executor evaluates itself; everything else is a side effect for a worker.
INLINE = {NodeType.TRIGGER, NodeType.CONDITION, NodeType.TRANSFORM}
DISPATCHED = {NodeType.ACTION, NodeType.HTTP_REQUEST, NodeType.DATABASE_QUERY}
# Action types the engine itself performs as a durable wait (seed 003's "wait" action).
WAIT_ACTIONS = {"wait", "delay", "sleep"}
# A bound on steps per execution, so a malformed graph can never spin forever.
MAX_STEPS = 5000
DEFAULT_NODE_TIMEOUT = 30.0
MAX_LOOP_ITEMS = 1000
DEFAULT_LOOP_ITEMS = 100
# Node states that keep an execution open.
OPEN = {"scheduled", "waiting", "delayed", "retrying"}
NOTIFY_NODE = "__on_failure__"
# What an action takes from the contact when its config does not say.
ACTION_DEFAULTS: dict[str, dict[str, str]] = {
    "send_email": {"recipient": "{{user.email}}"},
    # Seed 003: a reply goes to the conversation of the event that started the execution.
    "send_message": {"to": "{{user.phone}}", "conversation_id": "{{conversation.id}}"},
    "whatsapp": {"to": "{{user.phone}}"},
    "send_whatsapp": {"to": "{{user.phone}}"},
}
# Seed 003's send_message: recorded as this event on the events topic once it succeeded.
MESSAGE_SENT = "MESSAGE_SENT"
MESSAGE_ACTIONS = frozenset({"send_message"})
# Config fields holding code: never rendered as templates.
CODE_FIELDS = ("code", "custom_code", "script")
# Action types run in the code sandbox; they get the execution context as `context`.
CODE_ACTIONS = {"custom_code", "code", "run_code", "javascript", "python"}


def key_of(node_id: str, iteration: int | None) -> str:
    return node_id if iteration is None else f"{node_id}#{iteration}"


def _rid(kind: str, execution_id: str, node_id: str, attempt: int, iteration: int | None) -> str:
    parts = [kind, execution_id, node_id, str(attempt)]
    if iteration is not None:
        parts.append(f"i{iteration}")
    return deterministic_id(*parts)


def message_event_id(execution_id: str, node_id: str, attempt: int, iteration: int | None) -> str:
    """The id of the MESSAGE_SENT event a send_message step emits (the worker reports it too)."""
    return _rid("message-sent", execution_id, node_id, attempt, iteration)


def result_id(kind: str, order: NodeWorkOrdered) -> str:
    """The id of a worker's result for a work order: one per (node, attempt, iteration)."""
    return _rid(kind, order.execution_id, order.node_id, order.attempt, order.iteration)


def work_result(
    order: NodeWorkOrdered, outcome: dict[str, Any] | NodeError, started: datetime, completed: datetime
) -> tuple[str, NodeSucceeded | NodeFailed]:
    """The record a node worker (or the simulator standing in for one) writes for a work order."""
    common: dict[str, Any] = {
        "execution_id": order.execution_id, "node_id": order.node_id, "node_type": order.node_type,
        "attempt": order.attempt, "iteration": order.iteration, "input": order.config,
        "started_at": started, "completed_at": completed,
    }
    if isinstance(outcome, NodeError):
        return "failed", NodeFailed(error=outcome, **common)
    return "succeeded", NodeSucceeded(output=outcome, **common)


class _Step:
    """Collects what one call to `advance` emits."""

    def __init__(self, state: State, workflow: WorkflowSnapshot, cause: Envelope, now: datetime) -> None:
        self.state = state
        self.workflow = workflow
        self.cause = cause
        self.now = now
        self.outputs: list[Output] = []

    def emit(self, data: RecordData, record_id: str, topic: TopicSpec = EXECUTIONS) -> None:
        st = self.state
        envelope = make_envelope(
            data,
            id=record_id,
            source=SOURCE,
            workspace_id=st["workspace_id"],
            subject=st.get("subject"),
            time=self.now,
            execution_id=st["execution_id"],
            correlation_id=st.get("correlation_id"),
            causation_id=self.cause.id,
            depth=st.get("depth", 0),
        )
        self.outputs.append(Output.of(topic, st["execution_id"], envelope))

    @property
    def running(self) -> bool:
        return bool(self.state["status"] == "running")


_SNAPSHOTS: dict[bytes, WorkflowSnapshot] = {}


def workflow_of(state: State) -> WorkflowSnapshot:
    """The pinned snapshot, parsed once (validating it on every record would dominate).

    Keyed by content, not by (id, version): correctness never rests on the
    assumption that a version number is never reused.
    """
    raw = state["workflow"]
    cache_key = hashlib.blake2b(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
    snapshot = _SNAPSHOTS.get(cache_key)
    if snapshot is None:
        snapshot = WorkflowSnapshot.model_validate(raw)
        if len(_SNAPSHOTS) > 2048:
            _SNAPSHOTS.clear()
        _SNAPSHOTS[cache_key] = snapshot
    return snapshot


def eval_context(state: State, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What templates and conditions see: the trigger context, every node's output so far."""
    context = dict(state["context"])
    nodes: dict[str, Any] = {}
    for info in state["nodes"].values():
        if info["status"] in ("succeeded", "failed"):
            nodes[info["node_id"]] = info.get("output", {})
    context["nodes"] = nodes
    context["execution"] = {
        "id": state["execution_id"],
        "workflow_id": state["workflow"]["id"],
        "started_at": state["started_at"],
    }
    loop = state.get("loop")
    if loop and loop["items"]:
        item = loop["items"][loop["index"]]
        context["loop"] = {"item": item, "index": loop["index"], "total": len(loop["items"])}
        context["item"] = item
    if extra:
        context.update(extra)
    return context


def start_nodes(workflow: WorkflowSnapshot) -> list[Node]:
    return graph.start_nodes(workflow)


def pending_keys(state: State) -> list[str]:
    return [k for k, info in state["nodes"].items() if info["status"] in OPEN]


# The record types `advance` acts on; it returns every other one unchanged with no outputs.
ACTS_ON = frozenset({
    ExecutionStarted.TYPE, NodeSucceeded.TYPE, NodeFailed.TYPE, TimerFired.TYPE, ExecutionCancelRequested.TYPE,
})


def advance(state: State | None, envelope: Envelope, data: RecordData, now: datetime) -> tuple[State | None, list[Output]]:
    if isinstance(data, ExecutionStarted):
        if state is not None:
            return state, []  # duplicate start
        return _start(envelope, data, now)
    if state is None or state.get("status") != "running":
        # Echoes of our own records, or results arriving after the end.
        return state, []
    if isinstance(data, NodeSucceeded | NodeFailed | TimerFired | ExecutionCancelRequested):
        step = _Step(state, workflow_of(state), envelope, now)
        if isinstance(data, NodeSucceeded):
            _on_success(step, data)
        elif isinstance(data, NodeFailed):
            _on_failure(step, data)
        elif isinstance(data, TimerFired):
            _on_timer(step, data)
        else:
            _on_cancel(step, data)
        _settle(step)
        return state, step.outputs
    return state, []


# -- transitions ----------------------------------------------------------------
def _start(envelope: Envelope, data: ExecutionStarted, now: datetime) -> tuple[State, list[Output]]:
    workflow = data.workflow
    if not workflow.edges:
        workflow = workflow.model_copy(update={"edges": graph.linear_edges(workflow)})
    state: State = {
        "execution_id": data.execution_id,
        "workspace_id": envelope.workspaceid,
        "subject": data.subject,
        "correlation_id": envelope.correlationid,
        "depth": envelope.depth,
        "workflow": workflow.model_dump(mode="json"),
        "context": data.context,
        "status": "running",
        "started_at": envelope.time.isoformat(),
        "path": [],
        "nodes": {},
        "edges": {},
        "timers": {},
        "loop": None,
        "steps": 0,
    }
    step = _Step(state, workflow, envelope, now)
    if data.resume_from:
        _resume(step, data)
    else:
        roots = start_nodes(workflow)
        for node in roots:
            _run(step, node, attempt=1)
    _settle(step)
    if step.running:
        _schedule_timer(
            step,
            purpose="execution_timeout",
            timer_id=deterministic_id("timer", data.execution_id, "execution_timeout"),
            fire_at=now + timedelta(seconds=workflow.settings.timeout_seconds),
        )
    return state, step.outputs


def _resume(step: _Step, data: ExecutionStarted) -> None:
    """Retry-from-node: earlier nodes count as done with their original outputs."""
    state, workflow = step.state, step.workflow
    for node_id in data.prior_path:
        if node_id in data.prior_nodes and workflow.node(node_id) is not None:
            state["nodes"][node_id] = {"node_id": node_id, "status": "succeeded", "attempt": 1, "output": data.prior_nodes[node_id], "iteration": None}
            state["path"].append(node_id)
    # Re-derive the decisions those nodes made, so joins downstream see them.
    for node_id in list(state["path"]):
        node = workflow.node(node_id)
        if node is not None:
            for edge in graph.outgoing(workflow, node_id):
                if edge.target_node != data.resume_from and edge.target_node not in state["nodes"]:
                    taken = not graph.is_error_edge(edge) and _edge_taken(state, node, edge, state["nodes"][node_id]["output"])
                    state["edges"][edge.id] = "taken" if taken else "dead"
    resume = workflow.node(data.resume_from or "")
    if resume is None:
        _fail(step, NodeError(code="AUTO_001", message=f"node {data.resume_from} is not in the workflow"), None)
        return
    _run(step, resume, attempt=1)
    for node in workflow.nodes:
        if node.id not in state["nodes"] and step.running:
            _check_ready(step, node, None)


def _on_success(step: _Step, data: NodeSucceeded) -> None:
    state = step.state
    key = key_of(data.node_id, data.iteration)
    info = state["nodes"].get(key)
    if info is None or info["status"] != "scheduled" or info["attempt"] != data.attempt:
        return  # duplicate or stale result
    node = step.workflow.node(data.node_id)
    _record_success(state, key, data.output)
    if node is not None and node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() in MESSAGE_ACTIONS:
        _message_sent(step, node, data)
    if node is not None:
        _follow(step, node, data.iteration, data.output, failed=False)


def _message_sent(step: _Step, node: Node, data: NodeSucceeded) -> None:
    """Seed 003: a sent reply is a MESSAGE_SENT event in the conversation, like contact changes."""
    state = step.state
    sent, output = data.input, data.output
    conversation = sent.get("conversation_id") or (state["context"].get("conversation") or {}).get("id")
    user_id = (state["context"].get("user") or {}).get("id") or None
    content = sent.get("message") or sent.get("text") or sent.get("body")
    event = EventIngested(
        event_type=MESSAGE_SENT,
        data={
            "content": None if content is None else str(content),
            "conversation_id": conversation,
            "message_id": output.get("message_id"),
            "delivery": output.get("delivery"),
            "source": "workflow",
            "workflow_id": step.workflow.id,
            "execution_id": state["execution_id"],
            "node_id": node.id,
        },
        user_id=str(user_id) if user_id is not None else None,
        conversation_id=str(conversation) if conversation else None,
    )
    # Keyed like the matcher keys subjects (user, else conversation): one subject's events stay in order.
    subject = event.user_id or event.conversation_id or state.get("subject") or state["execution_id"]
    envelope = make_envelope(
        event,
        id=message_event_id(state["execution_id"], node.id, data.attempt, data.iteration),
        source=SOURCE,
        workspace_id=state["workspace_id"],
        subject=subject,
        time=step.now,
        execution_id=state["execution_id"],
        correlation_id=state.get("correlation_id"),
        causation_id=step.cause.id,
        depth=int(state.get("depth", 0)),  # a MESSAGE_SENT workflow cannot loop forever
    )
    step.outputs.append(Output.of(EVENTS, f"{state['workspace_id']}:{subject}", envelope))


def _on_failure(step: _Step, data: NodeFailed) -> None:
    state = step.state
    key = key_of(data.node_id, data.iteration)
    info = state["nodes"].get(key)
    if info is None or info["status"] != "scheduled" or info["attempt"] != data.attempt:
        return
    node = step.workflow.node(data.node_id)
    if node is None:
        info["status"] = "failed"
        _fail(step, data.error, data.node_id)
        return
    _node_failed(step, node, data.iteration, data.attempt, data.error, recorded=True, node_input=data.input)


def _on_timer(step: _Step, data: TimerFired) -> None:
    state = step.state
    if state["timers"].pop(data.timer_id, None) is None:
        return  # cancelled or already handled
    if data.purpose == "execution_timeout":
        seconds = step.workflow.settings.timeout_seconds
        open_nodes = pending_keys(state)
        error = NodeError(code="AUTO_006", message=f"execution timed out after {seconds}s")
        failed_node = state["nodes"][open_nodes[0]]["node_id"] if open_nodes else None
        _fail(step, error, failed_node)
        return
    if data.node_id is None:
        return
    key = key_of(data.node_id, data.iteration)
    info = state["nodes"].get(key)
    node = step.workflow.node(data.node_id)
    if info is None or node is None or data.attempt is None or info["attempt"] != data.attempt:
        return
    if data.purpose == "wait" and info["status"] == "waiting":
        output = {"waited_seconds": info.get("wait_seconds", 0), "resumed_at": step.now.isoformat()}
        _succeed_inline(step, node, data.iteration, data.attempt, info.get("input", {}), output, started_at=info.get("started_at"))
    elif data.purpose == "pre_delay" and info["status"] == "delayed":
        _dispatch(step, node, data.attempt, data.iteration, after_delay=True)
    elif data.purpose == "retry" and info["status"] == "retrying":
        _run(step, node, attempt=data.attempt, iteration=data.iteration)


def _on_cancel(step: _Step, data: ExecutionCancelRequested) -> None:
    state = step.state
    state["status"] = "cancelled"
    _cancel_timers(step)
    step.emit(
        ExecutionCancelled(
            execution_id=state["execution_id"],
            workflow_id=step.workflow.id,
            workflow_version=step.workflow.version,
            reason=data.reason,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("cancelled-execution", state["execution_id"]),
    )


# -- running nodes ----------------------------------------------------------------
def _run(step: _Step, node: Node, attempt: int, iteration: int | None = None) -> None:
    state = step.state
    if not step.running:
        return
    state["steps"] += 1
    if state["steps"] > MAX_STEPS:
        _fail(step, NodeError(code="AUTO_006", message=f"more than {MAX_STEPS} steps"), node.id)
        return
    key = key_of(node.id, iteration)
    state["nodes"][key] = {"node_id": node.id, "status": "scheduled", "attempt": attempt, "output": {}, "iteration": iteration, "started_at": step.now.isoformat()}
    context = eval_context(state)
    if node.node_type == NodeType.CONDITION and node.config.get("use_custom_code"):
        # Seed 003's custom-code condition: the sandbox (a worker) decides the branch.
        _dispatch(step, node, attempt, iteration, after_delay=False, context=context)
        return
    if node.node_type in INLINE:
        _run_inline(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.LOOP:
        _start_loop(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.DELAY or (
        node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() in WAIT_ACTIONS
    ):
        _start_wait(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() in CONTACT_ACTIONS:
        _run_contact(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() == "create_record":
        _create_record(step, node, attempt, iteration, context)
        return
    if node.node_type not in DISPATCHED:
        error = NodeError(code="NODE_UNSUPPORTED", message=f"node type {node.node_type.value} is not supported")
        _inline_failure(step, node, attempt, iteration, {}, error)
        return
    _dispatch(step, node, attempt, iteration, after_delay=False, context=context)


def _dispatch(
    step: _Step, node: Node, attempt: int, iteration: int | None, *, after_delay: bool, context: dict[str, Any] | None = None
) -> None:
    state = step.state
    key = key_of(node.id, iteration)
    execution_id = state["execution_id"]
    if not after_delay and attempt == 1:
        delay = pre_delay_seconds(node.config)
        if delay > 0:
            # Seed 003: an action's own `delay` waits (durably) before it runs.
            state["nodes"][key]["status"] = "delayed"
            _schedule_timer(
                step,
                purpose="pre_delay",
                timer_id=_rid("timer-pre-delay", execution_id, node.id, attempt, iteration),
                fire_at=step.now + timedelta(seconds=delay),
                node_id=node.id,
                attempt=attempt,
                iteration=iteration,
            )
            return
    state["nodes"][key]["status"] = "scheduled"
    if context is None:
        context = eval_context(state)
    raw = dict(node.config)
    for name, value in ACTION_DEFAULTS.get(str(raw.get("action_type", "")).lower(), {}).items():
        raw.setdefault(name, value)  # e.g. the contact's own phone number or email
    try:
        # Code is passed as written: `{{` in a script is not a template.
        config = render_value({k: v for k, v in raw.items() if k not in CODE_FIELDS}, context, now=step.now)
    except TemplateError as exc:
        error = NodeError(code="TEMPLATE_ERROR", message=f"{exc.path}: {exc}")
        _inline_failure(step, node, attempt, iteration, dict(node.config), error)
        return
    config.update({k: node.config[k] for k in CODE_FIELDS if k in node.config})
    if node.node_type == NodeType.CONDITION:
        config["action_type"] = "custom_code"
    action_type = str(config.get("action_type") or node.node_type.value)
    if action_type in CODE_ACTIONS or (action_type in ("send_email", "email") and isinstance(config.get("template"), str)):
        # Code, and named email templates kept in the integration, render in the worker.
        config["context"] = {k: v for k, v in context.items() if k != "execution"} | {"execution": context["execution"]}
    step.emit(
        NodeScheduled(execution_id=execution_id, node_id=node.id, node_type=node.node_type, attempt=attempt, iteration=iteration, input=config),
        _rid("scheduled", execution_id, node.id, attempt, iteration),
    )
    timeout = config.get("timeout_seconds", DEFAULT_NODE_TIMEOUT)
    step.emit(
        NodeWorkOrdered(
            execution_id=execution_id,
            workflow_id=step.workflow.id,
            node_id=node.id,
            node_type=node.node_type,
            action_type=action_type,
            attempt=attempt,
            iteration=iteration,
            config=config,
            idempotency_key=f"{execution_id}:{key}:{attempt}",
            timeout_seconds=float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0 else DEFAULT_NODE_TIMEOUT,
        ),
        _rid("work", execution_id, node.id, attempt, iteration),
        topic=NODE_WORK,
    )


def _start_wait(step: _Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    state = step.state
    key = key_of(node.id, iteration)
    try:
        config = render_value(node.config, context, now=step.now)
        seconds = wait_seconds(config if isinstance(config, dict) else {}, step.now)
    except (TemplateError, DurationError) as exc:
        _inline_failure(step, node, attempt, iteration, dict(node.config), NodeError(code="AUTO_007", message=f"wait node {node.id}: {exc}"))
        return
    resume_at = step.now + timedelta(seconds=seconds)
    node_input = {"wait_seconds": seconds, "resume_at": resume_at.isoformat()}
    if seconds <= 0:
        _succeed_inline(step, node, iteration, attempt, node_input, {"waited_seconds": 0, "resumed_at": step.now.isoformat()})
        return
    info = state["nodes"][key]
    info.update(status="waiting", wait_seconds=seconds, input=node_input)
    execution_id = state["execution_id"]
    step.emit(
        NodeScheduled(execution_id=execution_id, node_id=node.id, node_type=node.node_type, attempt=attempt, iteration=iteration, input=node_input),
        _rid("scheduled", execution_id, node.id, attempt, iteration),
    )
    _schedule_timer(
        step,
        purpose="wait",
        timer_id=_rid("timer-wait", execution_id, node.id, attempt, iteration),
        fire_at=resume_at,
        node_id=node.id,
        attempt=attempt,
        iteration=iteration,
    )


def _run_contact(step: _Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    """Tag / untag / update the contact: the change is an event on the events topic."""
    state = step.state
    action_type = str(node.config.get("action_type", "")).lower()
    try:
        config = render_value(node.config, context, now=step.now)
        if not state.get("subject"):
            raise ContactError("this execution has no contact (user) to change")
        change = contact_change(action_type, config if isinstance(config, dict) else {}, state["context"].get("user") or {})
    except (TemplateError, ContactError) as exc:
        _inline_failure(step, node, attempt, iteration, dict(node.config), NodeError(code="AUTO_007", message=f"{action_type} node {node.id}: {exc}"))
        return
    subject = state["subject"]
    event = EventIngested(event_type=change.event_type, data=change.data, user_id=subject)
    envelope = make_envelope(
        event,
        id=_rid("contact-event", state["execution_id"], node.id, attempt, iteration),
        source=SOURCE,
        workspace_id=state["workspace_id"],
        subject=subject,
        time=step.now,
        execution_id=state["execution_id"],
        correlation_id=state.get("correlation_id"),
        causation_id=step.cause.id,
        # The execution's depth (one more than its own cause): the matcher cuts
        # chains of executions triggering executions past a limit.
        depth=int(state.get("depth", 0)),
    )
    step.outputs.append(Output.of(EVENTS, f"{state['workspace_id']}:{subject}", envelope))
    state["context"]["user"] = change.user
    output = {**change.output, "event_type": change.event_type, "event_id": envelope.id}
    _succeed_inline(step, node, iteration, attempt, config if isinstance(config, dict) else {}, output)


def _create_record(step: _Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    """A row in a workspace data table: a record on the executions topic, projected to Postgres."""
    state = step.state
    try:
        config = render_value(node.config, context, now=step.now)
        table = config.get("table") if isinstance(config, dict) else None
        data = config.get("data") if isinstance(config, dict) else None
        if not isinstance(table, str) or not isinstance(data, dict):
            raise TemplateError("config needs table (a name) and data (an object)", path="config")
        record_id = _rid("record", state["execution_id"], node.id, attempt, iteration)
        created = DataRecordCreated(record_id=record_id, table=table, data=data, execution_id=state["execution_id"], node_id=node.id)
    except (TemplateError, ValueError) as exc:
        _inline_failure(step, node, attempt, iteration, dict(node.config), NodeError(code="AUTO_007", message=f"create_record node {node.id}: {exc}"))
        return
    step.emit(created, deterministic_id("record-created", record_id))
    output: dict[str, Any] = {"record_id": record_id, "id": record_id, "table": table, "data": data}
    for port in node.outputs:
        output.setdefault(port.name, record_id)  # seed 004: an output port such as task_id
    _succeed_inline(step, node, iteration, attempt, config, output)


def _run_inline(step: _Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    try:
        node_input, output = _evaluate_inline(node, context, step.now)
    except (ConditionError, TemplateError) as exc:
        error = NodeError(code="AUTO_007", message=f"{node.node_type.value} node {node.id}: {exc}")
        _inline_failure(step, node, attempt, iteration, {}, error)
        return
    _succeed_inline(step, node, iteration, attempt, node_input, output)


def _succeed_inline(
    step: _Step,
    node: Node,
    iteration: int | None,
    attempt: int,
    node_input: dict[str, Any],
    output: dict[str, Any],
    started_at: str | None = None,
) -> None:
    state = step.state
    execution_id = state["execution_id"]
    step.emit(
        NodeSucceeded(
            execution_id=execution_id,
            node_id=node.id,
            node_type=node.node_type,
            attempt=attempt,
            iteration=iteration,
            input=node_input,
            output=output,
            started_at=datetime.fromisoformat(started_at) if started_at else step.now,
            completed_at=step.now,
        ),
        _rid("succeeded", execution_id, node.id, attempt, iteration),
    )
    key = key_of(node.id, iteration)
    _record_success(state, key, output)
    _follow(step, node, iteration, output, failed=False)


def _evaluate_inline(node: Node, context: dict[str, Any], now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    config = node.config
    if node.node_type == NodeType.TRIGGER:
        return {}, dict(context.get("input_data") or {})
    if node.node_type == NodeType.CONDITION:
        spec: Any = config.get("condition")
        if spec is None:
            spec = config.get("filters") or ({"operator": config.get("operator", "and"), "conditions": config["conditions"]} if "conditions" in config else None)
        result = evaluate_condition(spec, context)
        output: dict[str, Any] = {"result": result}
        for port in node.outputs:
            output[port.name] = result
        return {"condition": spec}, output
    # transform: map fields through templates
    mapping = config.get("mapping") or config.get("fields") or {}
    rendered = render_value(mapping, context, now=now)
    return {"mapping": mapping}, rendered if isinstance(rendered, dict) else {"value": rendered}


def _inline_failure(step: _Step, node: Node, attempt: int, iteration: int | None, node_input: dict[str, Any], error: NodeError) -> None:
    _node_failed(step, node, iteration, attempt, error, recorded=False, node_input=node_input)


def _node_failed(
    step: _Step,
    node: Node,
    iteration: int | None,
    attempt: int,
    error: NodeError,
    *,
    recorded: bool,
    node_input: dict[str, Any],
) -> None:
    """An attempt failed: retry it after a backoff, take the error path, or fail the execution."""
    state = step.state
    execution_id = state["execution_id"]
    key = key_of(node.id, iteration)
    info = state["nodes"][key]
    if not recorded:
        step.emit(
            NodeFailed(
                execution_id=execution_id,
                node_id=node.id,
                node_type=node.node_type,
                attempt=attempt,
                iteration=iteration,
                input=node_input,
                error=error,
                started_at=step.now,
                completed_at=step.now,
            ),
            _rid("failed", execution_id, node.id, attempt, iteration),
        )
    policy = retry_policy(node, step.workflow.settings)
    if error.retryable and policy.allows(attempt):
        delay = policy.delay(f"{execution_id}:{key}", attempt)
        retry_at = step.now + timedelta(seconds=delay)
        step.emit(
            NodeRetryScheduled(
                execution_id=execution_id,
                node_id=node.id,
                attempt=attempt,
                next_attempt=attempt + 1,
                delay_seconds=delay,
                retry_at=retry_at,
                error=error,
                iteration=iteration,
            ),
            _rid("retry", execution_id, node.id, attempt, iteration),
        )
        if delay <= 0:
            _run(step, node, attempt=attempt + 1, iteration=iteration)
            return
        info.update(status="retrying", attempt=attempt + 1)
        _schedule_timer(
            step,
            purpose="retry",
            timer_id=_rid("timer-retry", execution_id, node.id, attempt + 1, iteration),
            fire_at=retry_at,
            node_id=node.id,
            attempt=attempt + 1,
            iteration=iteration,
        )
        return
    info["status"] = "failed"
    info["output"] = {"error": error.model_dump(mode="json", exclude={"retryable"})}
    error_edges = [e for e in graph.outgoing(step.workflow, node.id) if graph.is_error_edge(e)]
    if not error_edges:
        _fail(step, error, node.id)
        return
    # A failure path: the execution goes on from here, with the error visible downstream.
    state["path"].append(node.id)
    _follow(step, node, iteration, info["output"], failed=True)


def _record_success(state: State, key: str, output: dict[str, Any]) -> None:
    info = state["nodes"][key]
    info["status"] = "succeeded"
    info["output"] = output
    state["path"].append(info["node_id"])


# -- edges, joins, loops ---------------------------------------------------------
def _edge_taken(state: State, node: Node, edge: Edge, output: Mapping[str, Any]) -> bool:
    if edge.condition:
        context = eval_context(state, {**output, "output": dict(output)})
        try:
            return evaluate_cel(edge.condition, context) is True
        except ConditionError:
            return False
    if node.node_type != NodeType.CONDITION:
        return True
    result = bool(output.get("result"))
    true_path, false_path = node.config.get("true_path"), node.config.get("false_path")
    if edge.target_node in (true_path, false_path):
        return bool(edge.target_node == (true_path if result else false_path))
    if graph.label_of(edge) in graph.FALSE_LABELS:
        return not result
    # An unlabelled edge out of a condition is its "true" branch.
    return result


def _scope(state: State, node_id: str) -> int | None:
    """The iteration a node belongs to: the active loop's, if the node is in its body."""
    loop = state.get("loop")
    if loop and node_id in loop["body"]:
        return int(loop["index"])
    return None


def _follow(step: _Step, node: Node, iteration: int | None, output: Mapping[str, Any], *, failed: bool) -> None:
    state, workflow = step.state, step.workflow
    for edge in graph.outgoing(workflow, node.id):
        if not step.running:
            return
        if node.node_type == NodeType.LOOP and graph.is_body_edge(workflow, edge):
            continue  # the loop runs its body itself
        loop = state.get("loop")
        if loop and edge.target_node == loop["node_id"] and node.id in loop["body"]:
            continue  # back-edge: the end of this iteration's branch
        if failed:
            taken = graph.is_error_edge(edge)
        else:
            taken = not graph.is_error_edge(edge) and _edge_taken(state, node, edge, output)
        _resolve(step, edge, taken)


def _resolve(step: _Step, edge: Edge, taken: bool) -> None:
    state = step.state
    target_scope = _scope(state, edge.target_node)
    state["edges"][key_of(edge.id, target_scope)] = "taken" if taken else "dead"
    target = step.workflow.node(edge.target_node)
    if target is not None:
        _check_ready(step, target, target_scope)


def _check_ready(step: _Step, node: Node, iteration: int | None) -> None:
    """Run (or skip) a node once every edge it waits for is resolved."""
    state, workflow = step.state, step.workflow
    key = key_of(node.id, iteration)
    if key in state["nodes"] or not step.running:
        return
    loop = state.get("loop")
    body = frozenset(loop["body"]) if loop else None
    edges = graph.incoming(workflow, node, body, loop["node_id"] if loop else None)
    if not edges:
        return
    marks = [state["edges"].get(key_of(e.id, iteration)) for e in edges]
    join_any = str(node.config.get("join", "all")).lower() == "any"
    if join_any and "taken" in marks:
        _run(step, node, attempt=1, iteration=iteration)
        return
    if None in marks:
        return  # still waiting on a branch
    if "taken" in marks:
        _run(step, node, attempt=1, iteration=iteration)
        return
    # Every way in is dead: skip this node and everything only it leads to.
    state["nodes"][key] = {"node_id": node.id, "status": "skipped", "attempt": 0, "output": {}, "iteration": iteration}
    for edge in graph.outgoing(workflow, node.id):
        if loop and edge.target_node == loop["node_id"] and node.id in loop["body"]:
            continue
        if node.node_type == NodeType.LOOP and graph.is_body_edge(workflow, edge):
            continue
        _resolve(step, edge, False)


def _start_loop(step: _Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    state = step.state
    if state.get("loop") or iteration is not None:
        _inline_failure(step, node, attempt, iteration, {}, NodeError(code="NODE_UNSUPPORTED", message="loops inside loops are not supported"))
        return
    try:
        items, bound = _loop_items(node, context, step.now)
    except (TemplateError, ConditionError, ValueError) as exc:
        _inline_failure(step, node, attempt, iteration, {}, NodeError(code="AUTO_007", message=f"loop node {node.id}: {exc}"))
        return
    body = sorted(graph.loop_body(step.workflow, node.id))
    truncated = len(items) > bound
    items = items[:bound]
    state["loop"] = {"node_id": node.id, "attempt": attempt, "items": items, "index": 0, "results": [], "body": body, "truncated": truncated}
    # Not "open": the loop's progress is tracked by its own frame, not by pending nodes.
    state["nodes"][key_of(node.id, iteration)]["status"] = "looping"
    if items and body:
        _start_iteration(step)


def _loop_items(node: Node, context: dict[str, Any], now: datetime) -> tuple[list[Any], int]:
    spec = node.config.get("items", node.config.get("list", node.config.get("collection")))
    if isinstance(spec, str) and "{{" not in spec:
        value = evaluate_cel(spec, context)  # a CEL expression such as event.data.items
    else:
        value = render_value(spec, context, now=now)
    if isinstance(value, Mapping):
        value = [{"key": k, "value": v} for k, v in value.items()]
    if not isinstance(value, list | tuple):
        # A user's expression gave the wrong kind of value: a bad value the node fails on (the caller's ValueError path), not a bug.
        raise ValueError(f"items must evaluate to a list, got {type(value).__name__}")  # noqa: TRY004
    raw_bound = node.config.get("max_iterations", DEFAULT_LOOP_ITEMS)
    bound = raw_bound if isinstance(raw_bound, int) and not isinstance(raw_bound, bool) and raw_bound > 0 else DEFAULT_LOOP_ITEMS
    return list(value), min(bound, MAX_LOOP_ITEMS)


def _start_iteration(step: _Step) -> None:
    state, workflow = step.state, step.workflow
    loop = state["loop"]
    loop_node = workflow.node(loop["node_id"])
    assert loop_node is not None
    for edge in graph.outgoing(workflow, loop_node.id):
        if graph.is_body_edge(workflow, edge) and step.running:
            _resolve(step, edge, True)


def _settle(step: _Step) -> None:
    """After a transition: close finished loop iterations, then the execution."""
    state = step.state
    while step.running and state.get("loop") and not _iteration_open(state):
        loop = state["loop"]
        index = loop["index"]
        if loop["items"]:
            loop["results"].append(
                {
                    info["node_id"]: info.get("output", {})
                    for info in state["nodes"].values()
                    if info.get("iteration") == index and info["status"] in ("succeeded", "failed")
                }
            )
        if loop["items"] and index + 1 < len(loop["items"]) and loop["body"]:
            loop["index"] = index + 1
            _start_iteration(step)
            continue
        node = step.workflow.node(loop["node_id"])
        assert node is not None
        state["loop"] = None
        output = {"iterations": len(loop["results"]), "results": loop["results"], "truncated": loop["truncated"]}
        _succeed_inline(step, node, None, loop["attempt"], {"items": len(loop["items"])}, output)
    if step.running and not pending_keys(state) and not state.get("loop"):
        _finish(step)


def _iteration_open(state: State) -> bool:
    index = state["loop"]["index"]
    return any(state["nodes"][k].get("iteration") == index for k in pending_keys(state))


# -- timers and the end -------------------------------------------------------------
def _schedule_timer(
    step: _Step,
    *,
    purpose: str,
    timer_id: str,
    fire_at: datetime,
    node_id: str | None = None,
    attempt: int | None = None,
    iteration: int | None = None,
) -> None:
    state = step.state
    state["timers"][timer_id] = purpose
    step.emit(
        TimerScheduled(
            timer_id=timer_id,
            execution_id=state["execution_id"],
            purpose=purpose,
            fire_at=fire_at,
            node_id=node_id,
            attempt=attempt,
            iteration=iteration,
        ),
        deterministic_id("timer-scheduled", timer_id),
        topic=TIMERS,
    )


def _cancel_timers(step: _Step) -> None:
    state = step.state
    for timer_id in sorted(state["timers"]):
        step.emit(
            TimerCancelled(timer_id=timer_id, execution_id=state["execution_id"]),
            deterministic_id("timer-cancelled", timer_id),
            topic=TIMERS,
        )
    state["timers"] = {}


def _finish(step: _Step) -> None:
    state, workflow = step.state, step.workflow
    state["status"] = "completed"
    _cancel_timers(step)
    output: dict[str, Any] = {}
    for node_id in state["path"]:
        node = workflow.node(node_id)
        if node is not None and node.node_type != NodeType.TRIGGER:
            for info in state["nodes"].values():
                if info["node_id"] == node_id and info["status"] == "succeeded":
                    output.update(info.get("output", {}))
    step.emit(
        ExecutionCompleted(
            execution_id=state["execution_id"],
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            output=output,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("completed", state["execution_id"]),
    )


def _fail(step: _Step, error: NodeError, node_id: str | None) -> None:
    state, workflow = step.state, step.workflow
    if state["status"] != "running":
        return
    state["status"] = "failed"
    _cancel_timers(step)
    step.emit(
        ExecutionFailed(
            execution_id=state["execution_id"],
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            error=error,
            failed_node=node_id,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("failed-execution", state["execution_id"]),
    )
    _notify_failure(step, error, node_id)


def _notify_failure(step: _Step, error: NodeError, node_id: str | None) -> None:
    """`settings.notifications.on_failure`: a webhook (or email) about the failed execution."""
    state, workflow = step.state, step.workflow
    spec = workflow.settings.notifications.get("on_failure")
    if not spec:
        return
    notifications = workflow.settings.notifications
    if not isinstance(spec, Mapping):
        spec = {k: v for k, v in notifications.items() if k in ("webhook_url", "url", "email", "channel")}
    url = spec.get("webhook_url") or spec.get("url") or spec.get("webhook")
    email = spec.get("email") or spec.get("recipient")
    execution_id = state["execution_id"]
    payload = {
        "event": "execution.failed",
        "execution_id": execution_id,
        "workflow_id": workflow.id,
        "workflow_name": workflow.name,
        "workflow_version": workflow.version,
        "failed_node": node_id,
        "error": {"code": error.code, "message": error.message},
    }
    if isinstance(url, str) and url:
        channel, target = "webhook", url
        config: dict[str, Any] = {"action_type": "webhook", "url": url, "method": "POST", "payload": payload}
    elif isinstance(email, str) and email:
        channel, target = "email", email
        config = {
            "action_type": "send_email",
            "recipient": email,
            "subject": f"Workflow {workflow.name} failed",
            "body": f"Execution {execution_id} failed at {node_id}: {error.code} {error.message}",
        }
    else:
        return
    step.emit(FailureNotified(execution_id=execution_id, workflow_id=workflow.id, channel=channel, target=target), deterministic_id("failure-notified", execution_id))
    step.emit(
        NodeWorkOrdered(
            execution_id=execution_id,
            workflow_id=workflow.id,
            node_id=NOTIFY_NODE,
            node_type=NodeType.ACTION,
            action_type=str(config["action_type"]),
            attempt=1,
            config=config,
            idempotency_key=f"{execution_id}:{NOTIFY_NODE}:1",
            timeout_seconds=DEFAULT_NODE_TIMEOUT,
        ),
        deterministic_id("work", execution_id, NOTIFY_NODE, "1"),
        topic=NODE_WORK,
    )


def finished_marker(state: State, at: float | None = None) -> State:
    """What the store keeps after the end: enough to ignore late duplicates, no more.

    `at` (epoch seconds) is when it finished, so the executor can drop the marker
    after its horizon (processors/executor.py says why that is a trade-off).
    """
    marker: State = {"status": state["status"]}
    if at is not None:
        marker["finished_at"] = at
    return marker
