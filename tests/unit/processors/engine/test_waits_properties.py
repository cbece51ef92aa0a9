"""The state machine with a wait: whatever arrives twice, and in whichever order the
resolution, the timeout, an exit and a cancel arrive, exactly one ending runs, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.engine.machine import advance
from processors.engine.simulate import _through_changelog
from processors.engine.waits import exit_watch_id, timeout_timer_id, watch_id
from schemas.codec import decode
from schemas.envelope import RecordData, make_envelope
from schemas.outputs import Output
from schemas.records import (
    ExecutionCancelRequested,
    ExecutionSteps,
    NodeSucceeded,
    TimerFired,
    WatchDropped,
    WatchResolved,
)
from tests.unit.processors.engine.test_waits import PAID_WAIT, T0, start, workflow

SETTINGS = {"exit_when": [{"event_type": "ORDER_CANCELLED"}]}


def inputs() -> dict[str, RecordData]:
    wid = watch_id("ex-1", "wait", 1, None)
    return {
        "received": WatchResolved(watch_id=wid, execution_id="ex-1", kind="wait", node_id="wait", attempt=1,
                                  event={"id": "ev-9", "type": "ORDER_PAID", "data": {"amount": 3}}),
        # The timer firing asks the matcher to expire the watch; the matcher's answer decides.
        "timer": TimerFired(timer_id=timeout_timer_id("ex-1", "wait", 1, None), execution_id="ex-1", purpose="event_timeout",
                            node_id="wait", attempt=1, fire_at=T0 + timedelta(hours=1), fired_at=T0 + timedelta(hours=1)),
        "timeout": WatchResolved(watch_id=wid, execution_id="ex-1", kind="wait", node_id="wait", attempt=1, timed_out=True),
        "exit": WatchResolved(watch_id=exit_watch_id("ex-1", 0), execution_id="ex-1", kind="exit", rule="exit_when[0]",
                              event={"id": "ev-8", "type": "ORDER_CANCELLED"}),
        "cancel": ExecutionCancelRequested(execution_id="ex-1", requested_by="someone"),
    }


def _written(outputs: list[Output]) -> list[RecordData]:
    """The records written, a compact ExecutionSteps read as the steps it holds."""
    records = [decode(o.value)[1] for o in outputs if o.value is not None]
    return [step for r in records for step in (r.records() if isinstance(r, ExecutionSteps) else [r])]


def feed(order: list[str]) -> tuple[dict[str, Any], list[RecordData]]:
    records = inputs()
    env = make_envelope(start(workflow(PAID_WAIT, settings=SETTINGS)), id="s", source="t", workspace_id="ws-1", execution_id="ex-1", time=T0)
    state, outputs = advance(None, env, start(workflow(PAID_WAIT, settings=SETTINGS)), T0)
    written: list[RecordData] = _written(outputs)
    for i, name in enumerate(order):
        assert state is not None
        state = _through_changelog(state)
        data = records[name]
        env = make_envelope(data, id=f"{name}-{i}", source="t", workspace_id="ws-1", execution_id="ex-1", time=T0)
        # One instant for every arrival: the records then differ only by what was decided.
        state, outputs = advance(state, env, data, T0 + timedelta(seconds=1))
        written += _written(outputs)
    assert state is not None
    return state, written


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["received", "timeout", "timer", "exit", "cancel"]), min_size=1, max_size=8))
def test_property_the_first_answer_decides_once_and_the_rest_change_nothing(order: list[str]) -> None:
    state, written = feed(order)
    deciders = [name for name in order if name != "timer"]
    if not deciders:
        # The timer alone decides nothing: it asks the matcher to expire the watch, once.
        assert state["status"] == "running" and state["path"] == ["trigger"]
        assert len([r for r in written if isinstance(r, WatchDropped) and r.expire]) == 1
        return
    first = deciders[0]
    asked = ["timer"] if order.index(first) > 0 else []
    if first in ("received", "timeout"):
        # The wait's path ran (the workflow then completes at once), exactly once.
        branch = "thanks" if first == "received" else "remind"
        assert state["status"] == "completed"
        assert state["path"] == ["trigger", "wait", branch]
        assert [r.node_id for r in written if isinstance(r, NodeSucceeded) and r.node_id in ("thanks", "remind")] == [branch]
    else:
        assert state["status"] == "cancelled"
        assert state["path"] == ["trigger"]
        assert not [r for r in written if isinstance(r, NodeSucceeded) and r.node_id == "wait"]
    # The same run without the repeats and the later arrivals writes the same records: they were ignored.
    assert [r.model_dump(mode="json") for r in feed([*asked, first])[1]] == [r.model_dump(mode="json") for r in written]
