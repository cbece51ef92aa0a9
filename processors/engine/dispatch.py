"""Running one node: inline nodes (trigger, condition, transform) are evaluated here; waits
become timers; contact changes and data records become records; every other node becomes a
work order for the node workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

# These modules call each other (a node's success follows its edges, which run nodes):
# imported as modules, their functions are looked up at call time.
from processors.engine import flow, loops, retries, waits
from processors.engine.contacts import CONTACT_ACTIONS, ContactError, contact_change
from processors.engine.ending import fail
from processors.engine.ids import derive_id, key_of, message_event_id
from processors.engine.kinds import (
    ACTION_DEFAULTS,
    CODE_ACTIONS,
    CODE_FIELDS,
    DEFAULT_NODE_TIMEOUT,
    DISPATCHED,
    INLINE,
    MAX_STEPS,
    MESSAGE_SENT,
    SOURCE,
    WAIT_ACTIONS,
)
from processors.engine.policies import DurationError, pre_delay_seconds, wait_seconds
from processors.engine.timers import schedule_timer
from processors.engine.transition import Step, eval_context
from processors.expressions.conditions import ConditionError, judge_condition
from processors.expressions.templates import TemplateError, render_value
from schemas.envelope import deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import (
    DataRecordCreated,
    EventIngested,
    NodeError,
    NodeScheduled,
    NodeSucceeded,
    NodeWorkOrdered,
)
from schemas.topics import EVENTS, NODE_WORK
from schemas.workflow import Node, NodeType


def message_sent(step: Step, node: Node, data: NodeSucceeded) -> None:
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


def run_node(step: Step, node: Node, attempt: int, iteration: int | None = None) -> None:
    state = step.state
    if not step.running:
        return
    state["steps"] += 1
    if state["steps"] > MAX_STEPS:
        fail(step, NodeError(code="AUTO_006", message=f"more than {MAX_STEPS} steps"), node.id)
        return
    key = key_of(node.id, iteration)
    state["nodes"][key] = {"node_id": node.id, "status": "scheduled", "attempt": attempt, "output": {}, "iteration": iteration, "started_at": step.now.isoformat()}
    context = eval_context(state)
    if node.node_type == NodeType.CONDITION and node.config.get("use_custom_code"):
        # Seed 003's custom-code condition: the sandbox (a worker) decides the branch.
        dispatch(step, node, attempt, iteration, after_delay=False, context=context)
        return
    if node.node_type in INLINE:
        run_inline(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.LOOP:
        loops.start_loop(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.WAIT_FOR_EVENT:
        waits.start(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.DELAY or (
        node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() in WAIT_ACTIONS
    ):
        start_wait(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() in CONTACT_ACTIONS:
        run_contact(step, node, attempt, iteration, context)
        return
    if node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() == "create_record":
        create_record(step, node, attempt, iteration, context)
        return
    if node.node_type not in DISPATCHED:
        error = NodeError(code="NODE_UNSUPPORTED", message=f"node type {node.node_type.value} is not supported")
        retries.inline_failure(step, node, attempt, iteration, {}, error)
        return
    dispatch(step, node, attempt, iteration, after_delay=False, context=context)


def dispatch(
    step: Step, node: Node, attempt: int, iteration: int | None, *, after_delay: bool, context: dict[str, Any] | None = None
) -> None:
    state = step.state
    key = key_of(node.id, iteration)
    execution_id = state["execution_id"]
    if not after_delay and attempt == 1:
        delay = pre_delay_seconds(node.config)
        if delay > 0:
            # Seed 003: an action's own `delay` waits (durably) before it runs.
            state["nodes"][key]["status"] = "delayed"
            schedule_timer(
                step,
                purpose="pre_delay",
                timer_id=derive_id("timer-pre-delay", execution_id, node.id, attempt, iteration),
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
        retries.inline_failure(step, node, attempt, iteration, dict(node.config), error)
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
        derive_id("scheduled", execution_id, node.id, attempt, iteration),
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
        derive_id("work", execution_id, node.id, attempt, iteration),
        topic=NODE_WORK,
    )


def start_wait(step: Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    state = step.state
    key = key_of(node.id, iteration)
    try:
        config = render_value(node.config, context, now=step.now)
        seconds = wait_seconds(config if isinstance(config, dict) else {}, step.now)
    except (TemplateError, DurationError) as exc:
        retries.inline_failure(step, node, attempt, iteration, dict(node.config), NodeError(code="AUTO_007", message=f"wait node {node.id}: {exc}"))
        return
    resume_at = step.now + timedelta(seconds=seconds)
    node_input = {"wait_seconds": seconds, "resume_at": resume_at.isoformat()}
    if seconds <= 0:
        succeed_inline(step, node, iteration, attempt, node_input, {"waited_seconds": 0, "resumed_at": step.now.isoformat()})
        return
    info = state["nodes"][key]
    info.update(status="waiting", wait_seconds=seconds, input=node_input)
    execution_id = state["execution_id"]
    step.emit(
        NodeScheduled(execution_id=execution_id, node_id=node.id, node_type=node.node_type, attempt=attempt, iteration=iteration, input=node_input),
        derive_id("scheduled", execution_id, node.id, attempt, iteration),
    )
    schedule_timer(
        step,
        purpose="wait",
        timer_id=derive_id("timer-wait", execution_id, node.id, attempt, iteration),
        fire_at=resume_at,
        node_id=node.id,
        attempt=attempt,
        iteration=iteration,
    )


def run_contact(step: Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    """Tag / untag / update the contact: the change is an event on the events topic."""
    state = step.state
    action_type = str(node.config.get("action_type", "")).lower()
    try:
        config = render_value(node.config, context, now=step.now)
        if not state.get("subject"):
            raise ContactError("this execution has no contact (user) to change")
        change = contact_change(action_type, config if isinstance(config, dict) else {}, state["context"].get("user") or {})
    except (TemplateError, ContactError) as exc:
        retries.inline_failure(step, node, attempt, iteration, dict(node.config), NodeError(code="AUTO_007", message=f"{action_type} node {node.id}: {exc}"))
        return
    subject = state["subject"]
    event = EventIngested(event_type=change.event_type, data=change.data, user_id=subject)
    envelope = make_envelope(
        event,
        id=derive_id("contact-event", state["execution_id"], node.id, attempt, iteration),
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
    succeed_inline(step, node, iteration, attempt, config if isinstance(config, dict) else {}, output)


def create_record(step: Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    """A row in a workspace data table: a record on the executions topic, projected to Postgres."""
    state = step.state
    try:
        config = render_value(node.config, context, now=step.now)
        table = config.get("table") if isinstance(config, dict) else None
        data = config.get("data") if isinstance(config, dict) else None
        if not isinstance(table, str) or not isinstance(data, dict):
            raise TemplateError("config needs table (a name) and data (an object)", path="config")
        record_id = derive_id("record", state["execution_id"], node.id, attempt, iteration)
        created = DataRecordCreated(record_id=record_id, table=table, data=data, execution_id=state["execution_id"], node_id=node.id)
    except (TemplateError, ValueError) as exc:
        retries.inline_failure(step, node, attempt, iteration, dict(node.config), NodeError(code="AUTO_007", message=f"create_record node {node.id}: {exc}"))
        return
    step.emit(created, deterministic_id("record-created", record_id))
    output: dict[str, Any] = {"record_id": record_id, "id": record_id, "table": table, "data": data}
    for port in node.outputs:
        output.setdefault(port.name, record_id)  # seed 004: an output port such as task_id
    succeed_inline(step, node, iteration, attempt, config, output)


def run_inline(step: Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    try:
        dangling = flow.dangling_path(step.workflow, node)
        if dangling is not None:
            raise ConditionError(f"config.{dangling} names no node of this workflow: {node.config[dangling]!r}")
        node_input, output = evaluate_inline(node, context, step.now)
    except (ConditionError, TemplateError) as exc:
        error = NodeError(code="AUTO_007", message=f"{node.node_type.value} node {node.id}: {exc}")
        retries.inline_failure(step, node, attempt, iteration, {}, error)
        return
    succeed_inline(step, node, iteration, attempt, node_input, output)


def succeed_inline(
    step: Step,
    node: Node,
    iteration: int | None,
    attempt: int,
    node_input: dict[str, Any],
    output: dict[str, Any],
    started_at: str | None = None,
) -> None:
    state = step.state
    execution_id = state["execution_id"]
    try:
        decisions = flow.decide(step, node, output)
    except flow.EdgeError as exc:
        # Decided before the success is recorded: an edge that cannot be evaluated fails
        # the node (its error edges, else the execution), never a silent dead branch.
        retries.inline_failure(step, node, attempt, iteration, node_input, NodeError(code="AUTO_007", message=str(exc)))
        return
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
        derive_id("succeeded", execution_id, node.id, attempt, iteration),
    )
    key = key_of(node.id, iteration)
    flow.record_success(state, key, output)
    flow.follow(step, node, decisions)


def evaluate_inline(node: Node, context: dict[str, Any], now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    config = node.config
    if node.node_type == NodeType.TRIGGER:
        return {}, dict(context.get("input_data") or {})
    if node.node_type == NodeType.CONDITION:
        spec: Any = config.get("condition")
        if spec is None:
            spec = config.get("filters") or ({"operator": config.get("operator", "and"), "conditions": config["conditions"]} if "conditions" in config else None)
        verdict = judge_condition(spec, context)
        output = flow.condition_output(node, verdict.result)
        if verdict.missing_fields:
            # The one rule (processors.expressions.references): a missing field is null; the
            # output says which ones were, so a false branch taken for that reason shows.
            output["missing_fields"] = list(verdict.missing_fields)
        return {"condition": spec}, output
    # transform: map fields through templates
    mapping = config.get("mapping") or config.get("fields") or {}
    rendered = render_value(mapping, context, now=now)
    return {"mapping": mapping}, rendered if isinstance(rendered, dict) else {"value": rendered}
