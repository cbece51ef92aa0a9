"""Journeys on the executor's side: a `wait_for_event` node, `exit_when` rules and the `goal`.
Pure.

An execution that waits for an event does not see events itself (they are keyed by contact,
executions by execution id): it registers a watch with the matcher (`WatchRegistered` on the
events topic, keyed like its contact's events, so the matcher sees it in order with them)
and the matcher answers with `WatchResolved` when a matching event arrives. A wait's timeout
is a durable timer; when it fires, the executor asks the matcher to expire the watch
(`WatchDropped(expire)`), which answers `timed_out` unless an event answered first in the
contact's order: so an event written before the timeout counts even if the matcher was down
then. The first answer while the node still waits decides the path (`received` or
`timeout`); anything later finds the node no longer waiting and is ignored. Watch ids derive
from (execution, node, attempt, iteration) or the rule, so a re-run emits the same records.

Exit rules and the goal are watches registered at the start. An exit ends the execution
(`cancelled`, the reason naming the rule); an ending drops every wait and exit watch, never
the goal's, which may still convert a finished execution within its window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from processors.engine import dispatch, ending, retries
from processors.engine.ids import derive_id, key_of
from processors.engine.policies import DurationError, wait_seconds
from processors.engine.timers import schedule_timer
from processors.engine.transition import Step, eval_context
from processors.expressions.conditions import referenced_fields
from processors.expressions.templates import TemplateError, render_value
from schemas.envelope import deterministic_id
from schemas.records import (
    NodeError,
    NodeScheduled,
    TimerCancelled,
    TimerFired,
    WatchDropped,
    WatchRegistered,
    WatchResolved,
)
from schemas.topics import EVENTS, TIMERS
from schemas.workflow import Node

TIMEOUT_PURPOSE = "event_timeout"
EXIT_RULE = "exit_when[{index}]"


def watch_id(execution_id: str, node_id: str, attempt: int, iteration: int | None) -> str:
    return derive_id("watch", execution_id, node_id, attempt, iteration)


def timeout_timer_id(execution_id: str, node_id: str, attempt: int, iteration: int | None) -> str:
    return derive_id("timer-event-timeout", execution_id, node_id, attempt, iteration)


def exit_watch_id(execution_id: str, index: int) -> str:
    return deterministic_id("watch-exit", execution_id, str(index))


def goal_watch_id(execution_id: str) -> str:
    return deterministic_id("watch-goal", execution_id)


def watch_key(workspace_id: str, subject: str | None) -> str:
    """The events-topic key of a watch: its contact's, or `*` for any contact's (fanned out)."""
    return f"{workspace_id}:{subject if subject is not None else '*'}"


def _emit_watch(step: Step, data: WatchRegistered | WatchDropped, record_id: str) -> None:
    step.emit(data, record_id, EVENTS, key=watch_key(step.state["workspace_id"], data.subject))


def timeout_of(config: dict[str, Any]) -> float:
    """`timeout_seconds`, or `duration` + `unit`, in seconds. Raises DurationError."""
    if config.get("timeout_seconds") is not None:
        return wait_seconds({"seconds": config["timeout_seconds"]}, datetime.min)
    if config.get("duration") is not None:
        return wait_seconds({"duration": config["duration"], "unit": config.get("unit") or "seconds"}, datetime.min)
    raise DurationError("wait_for_event needs timeout_seconds, or duration and unit")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise DurationError(f"{name} must be a number of seconds, zero or more")
    return float(value)


def start(step: Step, node: Node, attempt: int, iteration: int | None, context: dict[str, Any]) -> None:
    """Run a `wait_for_event` node: register the watch and its timeout, then wait."""
    state = step.state
    key = key_of(node.id, iteration)
    execution_id = state["execution_id"]
    try:
        # `match` is CEL, read by the matcher: it is not a template.
        rendered = render_value({k: v for k, v in node.config.items() if k != "match"}, context, now=step.now)
        config = rendered if isinstance(rendered, dict) else {}
        event_type = config.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise DurationError("wait_for_event needs event_type")
        seconds = timeout_of(config)
        lookback = _number(config.get("lookback_seconds") or 0, "lookback_seconds")
    except (TemplateError, DurationError) as exc:
        retries.inline_failure(step, node, attempt, iteration, dict(node.config), NodeError(code="AUTO_007", message=f"wait_for_event node {node.id}: {exc}"))
        return
    match = node.config.get("match")
    condition = match if isinstance(match, str) and match.strip() else None
    any_subject = bool(config.get("any_subject"))
    subject = None if any_subject else state.get("subject")
    wid = watch_id(execution_id, node.id, attempt, iteration)
    expires_at = step.now + timedelta(seconds=seconds)
    node_input = {
        "event_type": event_type, "match": match, "timeout_seconds": seconds, "lookback_seconds": lookback,
        "any_subject": any_subject, "watch_id": wid, "timeout_at": expires_at.isoformat(),
    }
    state["nodes"][key].update(status="waiting", input=node_input, watch_id=wid, subject=subject, watching=any_subject or subject is not None)
    step.emit(
        NodeScheduled(execution_id=execution_id, node_id=node.id, node_type=node.node_type, attempt=attempt, iteration=iteration, input=node_input),
        derive_id("scheduled", execution_id, node.id, attempt, iteration),
    )
    if any_subject or subject is not None:
        # An execution without a contact (a manual run for no one) can only time out.
        _emit_watch(step, WatchRegistered(
            watch_id=wid, execution_id=execution_id, workflow_id=step.workflow.id, kind="wait",
            event_type=event_type, condition=condition,
            context=_watch_context(context, condition), subject=subject, started_at=step.now, lookback_seconds=lookback,
            expires_at=expires_at, node_id=node.id, attempt=attempt, iteration=iteration,
        ), deterministic_id("watch-registered", wid))
    schedule_timer(
        step, purpose=TIMEOUT_PURPOSE, timer_id=timeout_timer_id(execution_id, node.id, attempt, iteration),
        fire_at=expires_at, node_id=node.id, attempt=attempt, iteration=iteration,
    )


def _watch_context(context: dict[str, Any], condition: str | None) -> dict[str, Any]:
    """What of the execution's context a watch's condition reads: the top-level names it
    references, not `event` (there the arriving event). Only those travel with the watch, so
    a registration stays small (the matcher reads the events topic under FLUXO_MAX_EVENT_BYTES)."""
    roots = {ref.segments[0] for ref in referenced_fields(condition)} - {"event"}
    return {k: context[k] for k in sorted(roots) if k in context}


def _waiting(step: Step, node_id: str | None, attempt: int | None, iteration: int | None, wid: str) -> tuple[Node, dict[str, Any]] | None:
    if node_id is None or attempt is None:
        return None
    info = step.state["nodes"].get(key_of(node_id, iteration))
    node = step.workflow.node(node_id)
    if node is None or info is None or info["status"] != "waiting" or info["attempt"] != attempt or info.get("watch_id") != wid:
        return None
    return node, info


def on_resolved(step: Step, data: WatchResolved) -> None:
    """A matching event arrived: take `received` (a wait) or end the execution (an exit rule)."""
    if data.kind == "exit":
        if step.running:
            end_by_exit(step, data)
        return
    if data.kind != "wait":
        return
    found = _waiting(step, data.node_id, data.attempt, data.iteration, data.watch_id)
    if found is None:
        return  # timed out first, cancelled, or a duplicate
    node, info = found
    state = step.state
    timer_id = timeout_timer_id(state["execution_id"], node.id, info["attempt"], data.iteration)
    if state["timers"].pop(timer_id, None) is not None:
        step.emit(TimerCancelled(timer_id=timer_id, execution_id=state["execution_id"]), deterministic_id("timer-cancelled", timer_id), topic=TIMERS)
    if info.get("subject") is None:
        _drop(step, info)  # any contact's: the other partitions' copies of the watch go too
    info["watching"] = False  # the matcher that resolved it forgot it then
    if data.timed_out:
        _timed_out(step, node, info, data.iteration)
        return
    node_input = info.get("input", {})
    if data.error is not None:
        retries.inline_failure(step, node, info["attempt"], data.iteration, node_input, data.error)
        return
    dispatch.succeed_inline(step, node, data.iteration, info["attempt"], node_input, {"received": True, "event": data.event}, started_at=info.get("started_at"))


def on_timeout(step: Step, data: TimerFired) -> None:
    """The wait's timer fired: the matcher decides, in the contact's log order, whether an event
    came first (`WatchDropped(expire)`, answered `timed_out` or already answered by the event);
    a wait the matcher does not know (no contact) takes `timeout` at once."""
    if data.node_id is None or data.attempt is None:
        return
    wid = watch_id(step.state["execution_id"], data.node_id, data.attempt, data.iteration)
    found = _waiting(step, data.node_id, data.attempt, data.iteration, wid)
    if found is None:
        return
    node, info = found
    if info.get("watching"):
        info["watching"] = False
        _emit_watch(step, WatchDropped(watch_id=wid, execution_id=step.state["execution_id"], subject=info.get("subject"), expire=True),
                    deterministic_id("watch-expired", wid))
        return
    _timed_out(step, node, info, data.iteration)


def _timed_out(step: Step, node: Node, info: dict[str, Any], iteration: int | None) -> None:
    dispatch.succeed_inline(step, node, iteration, info["attempt"], info.get("input", {}), {"received": False, "event": None}, started_at=info.get("started_at"))


def _drop(step: Step, info: dict[str, Any]) -> None:
    if info.get("watching"):
        info["watching"] = False
        wid = str(info["watch_id"])
        _emit_watch(step, WatchDropped(watch_id=wid, execution_id=step.state["execution_id"], subject=info.get("subject")), deterministic_id("watch-dropped", wid))


def register_journey(step: Step) -> None:
    """At the start: the workflow's exit rules (while it runs) and goal (even when it already
    finished), as watches on the contact's events."""
    state, settings = step.state, step.workflow.settings
    subject = state.get("subject")
    if subject is None or not (settings.exit_when or settings.goal):
        return
    execution_id = state["execution_id"]
    started_at = datetime.fromisoformat(state["started_at"])
    context = eval_context(state)
    cause = (state["context"].get("event") or {}).get("id")
    for index, rule in enumerate(settings.exit_when if step.running else ()):
        wid = exit_watch_id(execution_id, index)
        _emit_watch(step, WatchRegistered(
            watch_id=wid, execution_id=execution_id, workflow_id=step.workflow.id, kind="exit",
            event_type=rule.event_type, condition=rule.condition, context=_watch_context(context, rule.condition), subject=subject,
            started_at=started_at, cause_event_id=cause if isinstance(cause, str) else None,
            rule=EXIT_RULE.format(index=index),
        ), deterministic_id("watch-registered", wid))
    goal = settings.goal
    if goal is not None:
        wid = goal_watch_id(execution_id)
        _emit_watch(step, WatchRegistered(
            watch_id=wid, execution_id=execution_id, workflow_id=step.workflow.id, kind="goal",
            event_type=goal.event_type, condition=goal.condition, context=_watch_context(context, goal.condition), subject=subject,
            started_at=started_at, expires_at=started_at + timedelta(seconds=goal.within_seconds),
            cause_event_id=cause if isinstance(cause, str) else None, rule="goal",
        ), deterministic_id("watch-registered", wid))


def drop_watches(step: Step) -> None:
    """The execution ends: its waits and exit rules stop watching (its goal keeps its window)."""
    state = step.state
    for key in sorted(state["nodes"]):
        _drop(step, state["nodes"][key])
    subject = state.get("subject")
    if subject is None:
        return
    for index in range(len(step.workflow.settings.exit_when)):
        wid = exit_watch_id(state["execution_id"], index)
        _emit_watch(step, WatchDropped(watch_id=wid, execution_id=state["execution_id"], subject=subject), deterministic_id("watch-dropped", wid))


def end_by_exit(step: Step, data: WatchResolved) -> None:
    rule = data.rule or "exit_when"
    index = rule.removeprefix("exit_when[").removesuffix("]")
    rules = step.workflow.settings.exit_when
    described = rule
    if index.isdigit() and int(index) < len(rules):
        spec = rules[int(index)]
        described = f"{rule}: {spec.event_type}" + (f" where {spec.condition}" if spec.condition else "")
    event_id = data.event.get("id")
    ending.cancel(step, f"exit rule {described} (event {event_id})" if event_id else f"exit rule {described}")

