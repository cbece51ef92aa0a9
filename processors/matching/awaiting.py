"""The watches executions keep on a contact's events, on the matcher's side. Pure.

A watch (`WatchRegistered`: a `wait_for_event` node, an `exit_when` rule or the `goal`)
lives in the book of the subject it watches, `watches:<workspace>:<subject>` in the matcher's
changelogged state (`:*` for a wait on any contact's events, one book per partition). The book
also keeps the subject's recent events of the types the workspace's workflows watch, so that:

* `lookback_seconds` works: an event that arrived up to that long before the wait began counts
  (Inngest loses one that arrives just before `waitForEvent` starts, inngest#1433);
* an event stamped after the wait began but read before its registration (the executor's
  transaction was still committing) is not lost either: every watch looks back to its own
  start, and the book keeps events for at least `GRACE_SECONDS`.

An event counts for a watch when its type is the watched one, its time is within
[started_at - lookback_seconds, expires_at], it is not the event that started the execution,
and the watch's CEL `condition` holds over `event` and the execution's context. The first such
event in the subject's order resolves the watch, which leaves the book; its id stays in `done`
so a duplicated registration is not watched again. A condition that cannot be evaluated
resolves a wait with the error (the node fails: never a silent "not received"); for an exit
rule or a goal it counts as no match. A wait's timeout is decided here too, in the subject's
order (`expire`): an event read before the expiry request is received, one read after is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from processors.expressions.conditions import ConditionError, judge_condition
from schemas.envelope import deterministic_id
from schemas.records import (
    EventIngested,
    ExecutionConverted,
    NodeError,
    WatchRegistered,
    WatchResolved,
)

GRACE_SECONDS = 60.0
RECENT_MAX = 50
DONE_MAX = 200

Book = dict[str, Any]


@dataclass(frozen=True)
class Resolution:
    """A watch answered: by `event` (its view, as the wait's output shows it), an error, or
    (`timed_out`) its expiry."""

    watch: dict[str, Any]
    event: dict[str, Any]
    error: str | None = None
    timed_out: bool = False


def empty() -> Book:
    return {"watches": [], "recent": [], "done": []}


def load(value: Mapping[str, Any] | None) -> Book:
    if not value:
        return empty()
    return {"watches": list(value.get("watches", [])), "recent": list(value.get("recent", [])), "done": list(value.get("done", []))}


def is_empty(book: Book) -> bool:
    return not book["watches"] and not book["recent"]


def event_view(event: EventIngested, event_id: str, time: datetime) -> dict[str, Any]:
    """The event as a watch's condition and a wait's output see it."""
    return {
        "id": event_id,
        "type": event.event_type,
        "data": event.data,
        "user_id": event.user_id,
        "conversation_id": event.conversation_id,
        "timestamp": (event.occurred_at or time).isoformat(),
        "time": time.isoformat(),
    }


def _window(watch: Mapping[str, Any]) -> tuple[datetime, datetime | None]:
    since = datetime.fromisoformat(watch["started_at"]) - timedelta(seconds=float(watch.get("lookback_seconds") or 0))
    until = datetime.fromisoformat(watch["expires_at"]) if watch.get("expires_at") else None
    return since, until


def _judge(watch: Mapping[str, Any], view: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Whether `view` answers `watch` (type, window, not its own cause, condition)."""
    if view["type"] != watch["event_type"] or view["id"] == watch.get("cause_event_id"):
        return False, None
    at = datetime.fromisoformat(view["time"])
    since, until = _window(watch)
    if at < since or (until is not None and at > until):
        return False, None
    condition = watch.get("condition")
    if not condition:
        return True, None
    context = {**watch.get("context", {}), "event": dict(view)}
    try:
        return judge_condition(condition, context).result, None
    except ConditionError as exc:
        if watch["kind"] == "wait":
            return True, f"match: {exc}"
        return False, None


def _done(book: Book, watch_id: str) -> None:
    book["done"] = [*book["done"], watch_id][-DONE_MAX:]


def register(book: Book, registration: WatchRegistered) -> tuple[Book, list[Resolution]]:
    """A new watch: answered at once by a recent event in its window, else kept."""
    book = load(book)
    watch = registration.model_dump(mode="json")
    known = {w["watch_id"] for w in book["watches"]}
    if watch["watch_id"] in known or watch["watch_id"] in book["done"]:
        return book, []  # a duplicate registration
    for view in book["recent"]:
        matched, error = _judge(watch, view)
        if matched:
            _done(book, watch["watch_id"])
            return book, [Resolution(watch, dict(view), error)]
    book["watches"] = [*book["watches"], watch]
    return book, []


def expire(book: Book, watch_id: str) -> tuple[Book, list[Resolution]]:
    """A wait's timeout fired: still watched (no event answered it in the contact's order so
    far), it is answered `timed_out`; answered already, nothing (that answer is on its way)."""
    book = load(book)
    found = [w for w in book["watches"] if w["watch_id"] == watch_id]
    book = drop(book, watch_id)
    return book, [Resolution(found[0], {}, timed_out=True)] if found else []


def drop(book: Book, watch_id: str) -> Book:
    book = load(book)
    book["watches"] = [w for w in book["watches"] if w["watch_id"] != watch_id]
    if watch_id not in book["done"]:
        _done(book, watch_id)
    return book


def on_event(book: Book, view: Mapping[str, Any], keep_seconds: float | None) -> tuple[Book, list[Resolution]]:
    """An event of the subject: the watches it answers, in registration order; watches past
    their window leave. `keep_seconds` (None: not a watched type) is how long the book keeps it."""
    book = load(book)
    at = datetime.fromisoformat(view["time"])
    resolved: list[Resolution] = []
    kept: list[dict[str, Any]] = []
    for watch in book["watches"]:
        until = _window(watch)[1]
        if until is not None and at > until:
            if watch["kind"] == "wait":
                kept.append(watch)  # stays until its expiry comes to be answered (`expire`)
            else:
                _done(book, watch["watch_id"])  # a goal's window closed
            continue
        matched, error = _judge(watch, view)
        if matched:
            _done(book, watch["watch_id"])
            resolved.append(Resolution(watch, dict(view), error))
        else:
            kept.append(watch)
    book["watches"] = kept
    if keep_seconds is not None or any(w["event_type"] == view["type"] for w in kept):
        horizon = at - timedelta(seconds=max(GRACE_SECONDS, keep_seconds or 0.0))
        recent = [v for v in [*book["recent"], dict(view)] if datetime.fromisoformat(v["time"]) >= horizon]
        book["recent"] = recent[-RECENT_MAX:]
    return book, resolved


def watched_types(watches: list[dict[str, Any]]) -> set[str]:
    return {str(w["event_type"]) for w in watches}


def answer(resolution: Resolution) -> tuple[str, WatchResolved | ExecutionConverted]:
    """The record a resolved watch becomes, with its id: the execution's answer (a wait, an
    exit rule), or (the goal) its conversion."""
    watch, event = resolution.watch, resolution.event
    execution_id = str(watch["execution_id"])
    if watch["kind"] == "goal":
        converted = ExecutionConverted(
            execution_id=execution_id, workflow_id=watch["workflow_id"], event_id=str(event["id"]),
            event_type=str(event["type"]), started_at=watch["started_at"], converted_at=event["time"],
        )
        return deterministic_id("converted", execution_id), converted
    resolved = WatchResolved(
        watch_id=watch["watch_id"], execution_id=execution_id, kind=watch["kind"], event=event,
        node_id=watch.get("node_id"), attempt=watch.get("attempt"), iteration=watch.get("iteration"),
        rule=watch.get("rule"), timed_out=resolution.timed_out,
        error=None if resolution.error is None else NodeError(code="AUTO_007", message=resolution.error),
    )
    # Per watch and event: with `any_subject` each partition may answer once (the first wins).
    answered_by = "timed-out" if resolution.timed_out else str(event["id"])
    return deterministic_id("watch-resolved", watch["watch_id"], answered_by), resolved
