"""Flow control: what happens to a matched start of a workflow with `settings.throttle` or
`settings.concurrency`. Pure.

The matcher that matched the event evaluates the key (CEL over the start context, default
`user.id`) and hands the start to the matcher owning that key (`StartRequested` on the events
topic under `workspace:flow:<workflow>:<key>`): every start of one key is decided in one place,
in order, whatever contact's event it came from. That matcher keeps, per key, in its
changelogged state (`flow:<workspace>:<workflow>:<key>`):

* `starts`: the times of the starts within the throttle period. A start beyond `limit` per
  `period_seconds` starts nothing (`throttled`);
* `running`: the executions holding a concurrency slot. A start beyond `limit` waits in
  `queue` (`queued`) and starts when an execution of the key ends (the executor sends
  `FlowReleased`): the highest `settings.priority` first, then the longest waiting;
* `seen`: the starts already decided, so a duplicated request decides nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from processors.expressions.conditions import ConditionError, evaluate_cel
from schemas.records import FlowDecision, StartRequested
from schemas.workflow import WorkflowSettings

SEEN_MAX = 1000
# The context key the matcher marks a concurrency-held execution with, for the executor to
# release its slot when it ends (processors.engine.flowslots spells it too).
FLOW_CONTEXT = "flow_control"

State = dict[str, Any]
# (decision, the start, why, whether it waited in the queue first)
Decision = tuple[FlowDecision, StartRequested, str, bool]


def gated(settings: WorkflowSettings) -> bool:
    return settings.throttle is not None or settings.concurrency is not None


def key_expression(settings: WorkflowSettings) -> str:
    # One key decides both: the throttle's, else the concurrency's.
    spec = settings.throttle or settings.concurrency
    return spec.key if spec is not None else "user.id"


def flow_key(settings: WorkflowSettings, context: Mapping[str, Any]) -> str:
    """The key's value for a start context. Raises ConditionError (a key that cannot be
    evaluated, or is null: such a start is refused, never counted under a guessed key)."""
    value = evaluate_cel(key_expression(settings), context)
    if value is None or value == "":
        raise ConditionError(f"flow key {key_expression(settings)!r} is null for this start")
    if isinstance(value, bool | int | float | str):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise ConditionError(f"flow key {key_expression(settings)!r} is not a string or a number")


def priority_of(settings: WorkflowSettings, context: Mapping[str, Any]) -> int:
    """settings.priority's integer for a start context (0 without one). Raises ConditionError."""
    if settings.priority is None:
        return 0
    value = evaluate_cel(settings.priority, context)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConditionError(f"priority {settings.priority!r} is not an integer for this start: {value!r}")
    return int(value)


def empty() -> State:
    # `limit` / `period`: the concurrency limit and throttle period of the latest request (a
    # release carries neither).
    return {"starts": [], "running": [], "queue": [], "seen": [], "limit": None, "period": None}


def load(value: Mapping[str, Any] | None) -> State:
    state = empty()
    if value:
        state.update({k: list(value.get(k, [])) for k in ("starts", "running", "queue", "seen")})
        state["limit"], state["period"] = value.get("limit"), value.get("period")
    return state


def request(state: State, req: StartRequested, now: datetime) -> tuple[State, list[Decision]]:
    state = load(state)
    if req.execution_id in state["seen"]:
        return state, []  # decided already
    state["seen"] = [*state["seen"], req.execution_id][-SEEN_MAX:]
    settings = req.start.workflow.settings
    throttle, concurrency = settings.throttle, settings.concurrency
    state["limit"] = concurrency.limit if concurrency is not None else None
    state["period"] = throttle.period_seconds if throttle is not None else None
    if throttle is not None:
        since = now - timedelta(seconds=throttle.period_seconds)
        state["starts"] = [t for t in state["starts"] if datetime.fromisoformat(t) > since]
        if len(state["starts"]) >= throttle.limit:
            return state, [("throttled", req, f"throttle: {throttle.limit} start(s) per {throttle.period_seconds}s for key {req.flow_key!r} reached", False)]
        state["starts"] = [*state["starts"], now.isoformat()]
    if concurrency is not None and len(state["running"]) >= concurrency.limit:
        state["queue"] = [*state["queue"], req.model_dump(mode="json")]
        position = len(state["queue"])
        return state, [("queued", req, f"concurrency: {concurrency.limit} running for key {req.flow_key!r}; waiting, number {position}", False)]
    if concurrency is not None:
        state["running"] = [*state["running"], req.execution_id]
    return state, [("started", req, f"started (key {req.flow_key!r})", False)]


def release(state: State, execution_id: str) -> tuple[State, list[Decision]]:
    """An execution of the key ended: its slot goes to the next waiting starts, in order."""
    state = load(state)
    limit = state["limit"]
    if execution_id not in state["running"]:
        return state, []  # a duplicate release, or an execution that never held a slot
    state["running"] = [e for e in state["running"] if e != execution_id]
    decisions: list[Decision] = []
    while state["queue"] and (limit is None or len(state["running"]) < limit):
        # Highest priority first; among equals, the one that has waited longest.
        best = max(range(len(state["queue"])), key=lambda i: (int(state["queue"][i].get("priority") or 0), -i))
        req = StartRequested.model_validate(state["queue"][best])
        state["queue"] = state["queue"][:best] + state["queue"][best + 1:]
        state["running"] = [*state["running"], req.execution_id]
        decisions.append(("started", req, f"started after waiting (key {req.flow_key!r})", True))
    return state, decisions


def is_empty(state: State, now: datetime) -> bool:
    """Nothing left worth keeping: no slot held, nobody waiting, no start still in the period."""
    if state["running"] or state["queue"]:
        return False
    if state["period"] is None:
        return True
    since = now - timedelta(seconds=state["period"])
    return not any(datetime.fromisoformat(t) > since for t in state["starts"])
