"""Flow control's decisions (processors/matching/flow.py): throttle and concurrency per key,
whatever is delivered twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.expressions.conditions import ConditionError
from processors.matching import flow
from schemas.records import ExecutionStarted, StartRequested
from schemas.workflow import WorkflowSettings, WorkflowSnapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def request(n: int, **workflow_settings: Any) -> StartRequested:
    workflow = WorkflowSnapshot.model_validate({
        "id": "wf", "workspace_id": "ws", "version": 1, "name": "w", "settings": workflow_settings,
        "created_at": T0.isoformat(), "updated_at": T0.isoformat(),
    })
    start = ExecutionStarted(execution_id=f"ex-{n}", workflow=workflow, trigger_type="event", subject="u-1", context={"user": {"id": "u-1"}})
    return StartRequested(execution_id=f"ex-{n}", workflow_id="wf", flow_key="u-1", event_id=f"ev-{n}", start=start)


THROTTLE = {"throttle": {"limit": 1, "period_seconds": 60}}
CONCURRENCY = {"concurrency": {"limit": 1}}


def decide(state: flow.State, n: int, at: float, **s: Any) -> tuple[flow.State, list[str]]:
    state, decisions = flow.request(state, request(n, **s), T0 + timedelta(seconds=at))
    return state, [f"{d[0]}:{d[1].execution_id}" for d in decisions]


def test_the_key_is_cel_over_the_start_context_default_the_contact() -> None:
    assert flow.flow_key(WorkflowSettings.model_validate(THROTTLE), {"user": {"id": "u-9"}}) == "u-9"
    custom = WorkflowSettings.model_validate({"concurrency": {"limit": 2, "key": "event.data.account"}})
    assert flow.flow_key(custom, {"event": {"data": {"account": 42}}}) == "42"
    with pytest.raises(ConditionError):
        flow.flow_key(WorkflowSettings.model_validate(THROTTLE), {"user": {}})


def test_throttle_starts_limit_per_period_and_throttles_the_rest() -> None:
    state = flow.empty()
    state, first = decide(state, 1, 0, **THROTTLE)
    state, second = decide(state, 2, 10, **THROTTLE)
    state, third = decide(state, 3, 59, **THROTTLE)
    state, later = decide(state, 4, 61, **THROTTLE)
    assert (first, second, third, later) == (["started:ex-1"], ["throttled:ex-2"], ["throttled:ex-3"], ["started:ex-4"])


def test_concurrency_queues_beyond_the_limit_and_starts_in_order_on_release() -> None:
    state = flow.empty()
    state, a = decide(state, 1, 0, **CONCURRENCY)
    state, b = decide(state, 2, 1, **CONCURRENCY)
    state, c = decide(state, 3, 2, **CONCURRENCY)
    assert (a, b, c) == (["started:ex-1"], ["queued:ex-2"], ["queued:ex-3"])
    state, released = flow.release(state, "ex-1")
    assert [(d[0], d[1].execution_id, d[3]) for d in released] == [("started", "ex-2", True)]
    state, again = flow.release(state, "ex-1")  # a duplicate release frees nothing
    assert again == []
    state, released = flow.release(state, "ex-2")
    state, released_last = flow.release(state, "ex-3")
    assert [d[1].execution_id for d in released] == ["ex-3"] and released_last == []
    assert flow.is_empty(state, T0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["request", "release"]), st.integers(min_value=1, max_value=5)), max_size=20),
       st.lists(st.integers(min_value=0, max_value=40), max_size=5))
def test_property_duplicates_change_no_decision(events: list[tuple[str, int]], duplicates: list[int]) -> None:
    """Each start is decided once (started at most once, never both throttled and started),
    at most `limit` hold a slot at any time, and a record delivered twice changes nothing."""
    def run(feed: list[tuple[str, int]]) -> list[str]:
        state, out = flow.empty(), []
        for i, (kind, n) in enumerate(feed):
            if kind == "request":
                state, decisions = flow.request(state, request(n, **CONCURRENCY, throttle={"limit": 3, "period_seconds": 3600}), T0 + timedelta(seconds=i))
            else:
                state, decisions = flow.release(state, f"ex-{n}")
            out += [f"{d[0]}:{d[1].execution_id}" for d in decisions]
            assert len(state["running"]) <= 1
        return out

    plain = run(events)
    doubled = list(events)
    for d in duplicates:
        if doubled:
            at = d % len(doubled)
            doubled.insert(at + 1, doubled[at])  # delivered again right after
    # A release delivered twice in a row frees one slot: the same decisions as once.
    assert run(doubled) == plain
    started = [x for x in plain if x.startswith("started:")]
    assert len(started) == len(set(started))
    for x in plain:
        if x.startswith("throttled:"):
            assert "started:" + x.split(":", 1)[1] not in started


def test_waiting_starts_start_highest_priority_first_then_longest_waiting() -> None:
    state = flow.empty()
    for n, priority in ((1, 0), (2, 0), (3, 5), (4, 5), (5, 1)):
        req = request(n, **CONCURRENCY).model_copy(update={"priority": priority})
        state, _ = flow.request(state, req, T0 + timedelta(seconds=n))
    order = []
    running = "ex-1"
    while True:
        state, started = flow.release(state, running)
        if not started:
            break
        running = started[0][1].execution_id
        order.append(running)
    assert order == ["ex-3", "ex-4", "ex-5", "ex-2"]


def test_priority_is_an_integer_from_cel_and_anything_else_is_refused() -> None:
    prio = WorkflowSettings.model_validate({**CONCURRENCY, "priority": "input_data.vip ? 10 : 0"})
    assert flow.priority_of(prio, {"input_data": {"vip": True}}) == 10
    assert flow.priority_of(WorkflowSettings.model_validate(CONCURRENCY), {}) == 0
    with pytest.raises(ConditionError):
        flow.priority_of(WorkflowSettings.model_validate({**CONCURRENCY, "priority": "'high'"}), {})
