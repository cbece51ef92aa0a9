"""Run one execution to its end in memory, on a virtual clock. Pure.

The dry-run endpoint and the unit tests drive the real state machine with
this: work orders go to a `perform` function instead of a node worker, and
timers fire in order on a virtual clock, so a wait of three days takes no
time at all. Records flow exactly as they would through Kafka.

With `roundtrip=True` the state also goes through its changelog encoding after
every step, as if the executor had restarted and restored it before each record
(in the spirit of restate's always-replay test mode): a state the machine cannot rebuild from its
changelog (a tuple, a datetime, a key that is not a string) shows up in the
unit tests instead of after a rebalance in production.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from processors.engine.machine import State, Workflows, advance, result_id, work_result
from processors.matching import awaiting
from schemas.codec import decode
from schemas.envelope import Envelope, RecordData, deterministic_id, make_envelope
from schemas.records import (
    EventIngested,
    ExecutionStarted,
    ExecutionSteps,
    NodeError,
    NodeWorkOrdered,
    TimerCancelled,
    TimerFired,
    TimerScheduled,
    WatchDropped,
    WatchRegistered,
    WatchResolved,
)
from schemas.state_versions import EXECUTOR_STATE_CODEC
from schemas.topics import EVENTS, EXECUTIONS, NODE_WORK, TIMERS

# What a stand-in for a node worker returns: an output, or an error.
Perform = Callable[[NodeWorkOrdered], "dict[str, Any] | NodeError"]


def dry_run_perform(order: NodeWorkOrdered) -> dict[str, Any]:
    """No side effects: report what would have been done."""
    return {"dry_run": True, "action_type": order.action_type, "would_send": order.config}


@dataclass
class Simulation:
    state: State | None
    # The records the execution wrote, an ExecutionSteps as the node steps it holds.
    records: list[RecordData] = field(default_factory=list)
    work: list[NodeWorkOrdered] = field(default_factory=list)
    clock: datetime | None = None

    @property
    def status(self) -> str | None:
        return None if self.state is None else str(self.state.get("status"))


def simulate(
    started: ExecutionStarted,
    *,
    workspace_id: str,
    now: datetime,
    perform: Perform = dry_run_perform,
    max_records: int = 20000,
    extra: list[tuple[datetime, RecordData]] | None = None,
    roundtrip: bool = False,
    events: list[tuple[datetime, EventIngested]] | None = None,
) -> Simulation:
    """Drive an execution from its start until nothing more can happen.

    `extra` injects records (e.g. a cancel request) at virtual times;
    `roundtrip` passes the state through `_through_changelog` after every step;
    `events` are business events arriving at virtual times (a dry run's `test_events`): they
    go through the matcher's watch books (processors.matching.awaiting) as on the real
    pipeline, so a `wait_for_event`, an exit rule or the goal sees them.
    """
    clock = now
    state: State | None = None
    queue: deque[tuple[Envelope, RecordData]] = deque()
    timers: list[tuple[datetime, int, str]] = []
    pending: dict[str, TimerScheduled] = {}
    injected: list[tuple[datetime, RecordData]] = sorted([*(extra or []), *(events or [])], key=lambda pair: pair[0])
    books = Books()
    seq = 0
    sim = Simulation(state=None)
    # Its own catalogue: a dry run's draft snapshot is not kept past the run.
    workflows = Workflows()

    def envelope(data: RecordData, rid: str) -> Envelope:
        return make_envelope(data, id=rid, source="simulate", workspace_id=workspace_id, execution_id=started.execution_id, time=clock)

    queue.append((envelope(started, deterministic_id("started", started.execution_id)), started))
    while len(sim.records) < max_records:
        if not queue:
            next_timer = timers[0][0] if timers else None
            next_extra = injected[0][0] if injected else None
            if next_timer is None and next_extra is None:
                break
            if next_extra is not None and (next_timer is None or next_extra <= next_timer):
                at, data = injected.pop(0)
                clock = max(clock, at)
                env = envelope(data, deterministic_id("injected", str(seq)))
                seq += 1
                if isinstance(data, EventIngested):
                    sim.records.append(data)
                    for answer in books.event(env, data):
                        sim.records.append(answer[1])
                        if isinstance(answer[1], WatchResolved):
                            queue.append(answer)
                else:
                    queue.append((env, data))
                continue
            at, _, timer_id = heapq.heappop(timers)
            scheduled = pending.pop(timer_id, None)
            if scheduled is None:
                continue
            clock = max(clock, at)
            fired = TimerFired(
                timer_id=timer_id,
                execution_id=scheduled.execution_id,
                purpose=scheduled.purpose,
                node_id=scheduled.node_id,
                attempt=scheduled.attempt,
                iteration=scheduled.iteration,
                fire_at=scheduled.fire_at,
                fired_at=clock,
            )
            queue.append((envelope(fired, deterministic_id("timer-fired", timer_id)), fired))
            continue
        env, data = queue.popleft()
        state, outputs = advance(state, env, data, clock, workflows)
        if roundtrip and state is not None:
            state = _through_changelog(state)
        for out in outputs:
            assert out.value is not None
            out_env, out_data = decode(out.value)
            if isinstance(out_data, ExecutionSteps):
                sim.records.extend(out_data.records())  # the steps, as callers read them one by one
            else:
                sim.records.append(out_data)
            if out.topic == EXECUTIONS:
                queue.append((out_env, out_data))
            elif out.topic == NODE_WORK and isinstance(out_data, NodeWorkOrdered):
                sim.work.append(out_data)
                result = _perform(out_data, perform, clock, out_env)
                sim.records.append(result[1])  # what a worker would write to the executions topic
                queue.append(result)
            elif out.topic == TIMERS and isinstance(out_data, TimerScheduled):
                pending[out_data.timer_id] = out_data
                heapq.heappush(timers, (out_data.fire_at, seq, out_data.timer_id))
                seq += 1
            elif out.topic == TIMERS and isinstance(out_data, TimerCancelled):
                pending.pop(out_data.timer_id, None)
            elif out.topic == EVENTS and isinstance(out_data, WatchRegistered | WatchDropped):
                for answer in books.watch(out_env, out_data):
                    sim.records.append(answer[1])
                    if isinstance(answer[1], WatchResolved):
                        queue.append(answer)
    sim.state = state
    sim.clock = clock
    return sim


class Books:
    """The matcher's watch books, in memory: one per subject (`None`: any contact's)."""

    # A dry run has few events: each is kept for any lookback a watch may ask.
    KEEP_SECONDS = 366 * 86400.0

    def __init__(self) -> None:
        self.books: dict[str | None, awaiting.Book] = {}

    def watch(self, env: Envelope, data: WatchRegistered | WatchDropped) -> list[tuple[Envelope, RecordData]]:
        book = self.books.get(data.subject, awaiting.empty())
        if isinstance(data, WatchDropped) and data.expire:
            self.books[data.subject], expired = awaiting.expire(book, data.watch_id)
            return [_answer(env, r) for r in expired]
        if isinstance(data, WatchDropped):
            self.books[data.subject] = awaiting.drop(book, data.watch_id)
            return []
        self.books[data.subject], resolved = awaiting.register(book, data)
        return [_answer(env, r) for r in resolved]

    def event(self, env: Envelope, data: EventIngested) -> list[tuple[Envelope, RecordData]]:
        answers: list[tuple[Envelope, RecordData]] = []
        view = awaiting.event_view(data, env.id, env.time)
        for subject in (data.user_id or data.conversation_id, None):
            book, resolved = awaiting.on_event(self.books.get(subject, awaiting.empty()), view, self.KEEP_SECONDS)
            self.books[subject] = book
            answers.extend(_answer(env, r) for r in resolved)
        return answers


def _answer(cause: Envelope, resolution: awaiting.Resolution) -> tuple[Envelope, RecordData]:
    record_id, data = awaiting.answer(resolution)
    env = make_envelope(
        data, id=record_id, source="simulate", workspace_id=cause.workspaceid,
        execution_id=data.execution_id, time=cause.time, causation_id=cause.id,
    )
    return env, data


def _through_changelog(state: State) -> State:
    """The state as an executor restored from its changelog topic would read it back.

    The executor stores `advance`'s state as it is; StateStore.changelog encodes it with
    the executor changelog's versioned codec (`schemas.state_versions`), and restore_state
    decodes (and upcasts) it with the same one. (A finished execution is stored as its
    `finished_marker`, which keeps the status, all `advance` reads of it; the simulator
    keeps the whole final state for its callers.)
    """
    key = str(state.get("execution_id", ""))  # the executor keys state by execution id
    restored: State = EXECUTOR_STATE_CODEC.decode(key, EXECUTOR_STATE_CODEC.encode(key, state))
    return restored


def _perform(order: NodeWorkOrdered, perform: Perform, clock: datetime, cause: Envelope) -> tuple[Envelope, RecordData]:
    kind, data = work_result(order, perform(order), clock, clock)
    env = make_envelope(
        data, id=result_id(kind, order), source="simulate", workspace_id=cause.workspaceid,
        execution_id=order.execution_id, time=clock, causation_id=cause.id,
    )
    return env, data
