"""`wait_for_event`, exit rules and goals through the state machine and the matcher's watch
books, on the simulator's virtual clock (processors/engine/waits.py, processors/matching/awaiting.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from processors.engine.simulate import Simulation, simulate
from schemas.records import (
    EventIngested,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionConverted,
    ExecutionFailed,
    ExecutionStarted,
    NodeSucceeded,
    TimerCancelled,
    WatchDropped,
    WatchRegistered,
    WatchResolved,
)
from schemas.workflow import WorkflowSnapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def workflow(wait: dict[str, Any] | None = None, settings: dict[str, Any] | None = None, middle: dict[str, Any] | None = None) -> WorkflowSnapshot:
    nodes: list[dict[str, Any]] = [{"id": "trigger", "node_type": "trigger"}]
    edges: list[dict[str, Any]] = []
    if middle is not None:
        nodes.append({"id": "pause", "node_type": "delay", "config": middle})
        edges.append({"id": "e0", "source_node": "trigger", "target_node": "pause"})
    if wait is not None:
        nodes += [
            {"id": "wait", "node_type": "wait_for_event", "config": wait},
            {"id": "thanks", "node_type": "transform", "config": {"mapping": {"paid": "{{nodes.wait.event.data.amount}}"}}},
            {"id": "remind", "node_type": "transform", "config": {"mapping": {"reminded": "yes"}}},
        ]
        edges += [
            {"id": "e1", "source_node": "pause" if middle is not None else "trigger", "target_node": "wait"},
            {"id": "e2", "source_node": "wait", "target_node": "thanks", "label": "received"},
            {"id": "e3", "source_node": "wait", "target_node": "remind", "label": "timeout"},
        ]
    return WorkflowSnapshot.model_validate({
        "id": "wf-1", "workspace_id": "ws-1", "version": 1, "name": "orders", "status": "active",
        "nodes": nodes, "edges": edges, "settings": settings or {},
        "created_at": T0.isoformat(), "updated_at": T0.isoformat(),
    })


PAID_WAIT = {"event_type": "ORDER_PAID", "match": "event.data.order_id == input_data.order_id", "timeout_seconds": 3600}


def start(wf: WorkflowSnapshot, subject: str | None = "u-1") -> ExecutionStarted:
    return ExecutionStarted(
        execution_id="ex-1", workflow=wf, trigger_type="event", event_id="ev-0", subject=subject,
        context={"event": {"id": "ev-0", "type": "ORDER_CREATED", "data": {"order_id": "A-1"}},
                 "input_data": {"order_id": "A-1"}, "user": {"id": subject}},
    )


def event(event_type: str, user: str = "u-1", **data: Any) -> EventIngested:
    return EventIngested(event_type=event_type, user_id=user, data=data)


def run(wf: WorkflowSnapshot, events: list[tuple[float, EventIngested]] = (), **kw: Any) -> Simulation:  # type: ignore[assignment]
    return simulate(start(wf, **kw), workspace_id="ws-1", now=T0,
                    events=[(T0 + timedelta(seconds=s), e) for s, e in events], roundtrip=True)


def of(sim: Simulation, kind: type) -> list[Any]:
    return [r for r in sim.records if isinstance(r, kind)]


def path(sim: Simulation) -> list[str]:
    assert sim.state is not None
    return list(sim.state["path"])


def test_a_matching_event_within_the_wait_takes_received_with_the_event_as_output() -> None:
    sim = run(workflow(PAID_WAIT), [(60, event("ORDER_PAID", order_id="A-1", amount=42))])
    assert sim.status == "completed"
    assert path(sim) == ["trigger", "wait", "thanks"]
    wait = next(r for r in of(sim, NodeSucceeded) if r.node_id == "wait")
    assert wait.output["received"] is True
    assert wait.output["event"]["data"] == {"order_id": "A-1", "amount": 42}
    assert next(r for r in of(sim, NodeSucceeded) if r.node_id == "thanks").output == {"paid": 42}
    assert sim.clock == T0 + timedelta(seconds=60)
    # The timeout timer is cancelled; the matcher resolved (and forgot) the watch itself.
    assert any(isinstance(r, TimerCancelled) for r in sim.records)
    assert of(sim, WatchDropped) == []


def test_no_matching_event_takes_timeout_once_and_the_matcher_forgets_the_watch() -> None:
    sim = run(workflow(PAID_WAIT), [(60, event("ORDER_PAID", order_id="B-2")), (30, event("OTHER", order_id="A-1"))])
    assert sim.status == "completed"
    assert path(sim) == ["trigger", "wait", "remind"]
    wait = next(r for r in of(sim, NodeSucceeded) if r.node_id == "wait")
    assert wait.output == {"received": False, "event": None}
    assert sim.clock == T0 + timedelta(seconds=3600)
    assert [d.watch_id for d in of(sim, WatchDropped)] == [of(sim, WatchRegistered)[0].watch_id]


def test_an_event_after_the_timeout_is_not_received() -> None:
    sim = run(workflow(PAID_WAIT), [(3601, event("ORDER_PAID", order_id="A-1"))])
    assert path(sim) == ["trigger", "wait", "remind"]
    assert [r.timed_out for r in of(sim, WatchResolved)] == [True]  # the matcher's answer to the expiry


def test_duration_and_unit_give_the_timeout() -> None:
    sim = run(workflow({"event_type": "ORDER_PAID", "duration": 2, "unit": "hours"}))
    assert sim.clock == T0 + timedelta(hours=2)
    assert path(sim)[-1] == "remind"


def test_lookback_counts_an_event_that_arrived_before_the_wait_began() -> None:
    wait = {**PAID_WAIT, "lookback_seconds": 10}
    # The wait begins after a 5 s delay; the payment came 2 s before that.
    sim = run(workflow(wait, middle={"delay_seconds": 5}), [(3, event("ORDER_PAID", order_id="A-1"))])
    assert path(sim) == ["trigger", "pause", "wait", "thanks"]
    assert sim.clock == T0 + timedelta(seconds=5)


def test_without_lookback_an_earlier_event_does_not_count() -> None:
    sim = run(workflow(PAID_WAIT, middle={"delay_seconds": 5}), [(3, event("ORDER_PAID", order_id="A-1"))])
    assert path(sim) == ["trigger", "pause", "wait", "remind"]


def test_by_default_only_the_contacts_own_events_count_and_any_subject_widens_it() -> None:
    other = [(60, event("ORDER_PAID", user="u-2", order_id="A-1"))]
    assert path(run(workflow(PAID_WAIT), other))[-1] == "remind"
    assert path(run(workflow({**PAID_WAIT, "any_subject": True}), other))[-1] == "thanks"


def test_a_match_that_cannot_be_evaluated_fails_the_wait_never_a_silent_timeout() -> None:
    wait = {**PAID_WAIT, "match": "event.data.amount > 'ten'"}
    sim = run(workflow(wait), [(60, event("ORDER_PAID", order_id="A-1", amount=5))])
    assert sim.status == "failed"
    failed = of(sim, ExecutionFailed)[0]
    assert failed.failed_node == "wait" and "match" in failed.error.message


def test_cancelling_drops_the_wait() -> None:
    from schemas.records import ExecutionCancelRequested

    sim = simulate(start(workflow(PAID_WAIT)), workspace_id="ws-1", now=T0,
                   extra=[(T0 + timedelta(seconds=10), ExecutionCancelRequested(execution_id="ex-1", requested_by="u"))],
                   events=[(T0 + timedelta(seconds=60), event("ORDER_PAID", order_id="A-1"))])
    assert sim.status == "cancelled"
    assert len(of(sim, WatchDropped)) == 1
    assert of(sim, WatchResolved) == []  # the later payment finds no watch


def test_an_exit_event_ends_the_execution_naming_the_rule() -> None:
    settings = {"exit_when": [{"event_type": "ORDER_CANCELLED", "condition": "event.data.order_id == input_data.order_id"}]}
    sim = run(workflow(PAID_WAIT, settings=settings), [(30, event("ORDER_CANCELLED", order_id="Z")), (60, event("ORDER_CANCELLED", order_id="A-1"))])
    assert sim.status == "cancelled"
    cancelled = of(sim, ExecutionCancelled)[0]
    assert cancelled.reason.startswith("exit rule exit_when[0]: ORDER_CANCELLED")
    assert cancelled.completed_at == T0 + timedelta(seconds=60)
    # The wait in progress is dropped, and so is the exit watch.
    assert {d.watch_id for d in of(sim, WatchDropped)} == {r.watch_id for r in of(sim, WatchRegistered)}


def test_the_starting_event_never_exits_its_own_execution() -> None:
    settings = {"exit_when": [{"event_type": "ORDER_CREATED"}]}
    sim = run(workflow(PAID_WAIT, settings=settings))
    assert sim.status == "completed"


def test_a_goal_event_after_completion_within_the_window_converts_once() -> None:
    settings = {"goal": {"event_type": "ORDER_PAID", "within_seconds": 86400}}
    sim = run(workflow(settings=settings), [(600, event("ORDER_PAID", order_id="A-1")), (700, event("ORDER_PAID"))])
    assert of(sim, ExecutionCompleted)[0].completed_at == T0
    converted = of(sim, ExecutionConverted)
    assert len(converted) == 1 and converted[0].converted_at == T0 + timedelta(seconds=600)


def test_a_goal_event_outside_the_window_does_not_convert() -> None:
    settings = {"goal": {"event_type": "ORDER_PAID", "within_seconds": 100, "condition": "event.data.order_id == input_data.order_id"}}
    assert of(run(workflow(settings=settings), [(50, event("ORDER_PAID", order_id="B"))]), ExecutionConverted) == []
    assert of(run(workflow(settings=settings), [(150, event("ORDER_PAID", order_id="A-1"))]), ExecutionConverted) == []
    assert len(of(run(workflow(settings=settings), [(50, event("ORDER_PAID", order_id="A-1"))]), ExecutionConverted)) == 1


def test_an_execution_without_a_contact_can_only_time_out() -> None:
    sim = run(workflow(PAID_WAIT), [(60, event("ORDER_PAID", order_id="A-1"))], subject=None)
    assert path(sim)[-1] == "remind"
    assert of(sim, WatchRegistered) == []


def test_a_registration_carries_only_what_its_match_reads_of_the_context() -> None:
    sim = run(workflow({**PAID_WAIT, "match": "event.data.order_id == input_data.order_id && user.id != ''"}))
    (registered,) = of(sim, WatchRegistered)
    assert sorted(registered.context) == ["input_data", "user"]
    assert of(run(workflow({"event_type": "ORDER_PAID", "timeout_seconds": 5})), WatchRegistered)[0].context == {}
