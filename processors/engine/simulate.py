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
from schemas.codec import decode
from schemas.envelope import Envelope, RecordData, deterministic_id, make_envelope
from schemas.records import (
    ExecutionStarted,
    ExecutionSteps,
    NodeError,
    NodeWorkOrdered,
    TimerCancelled,
    TimerFired,
    TimerScheduled,
)
from schemas.state_versions import EXECUTOR_STATE_CODEC
from schemas.topics import EXECUTIONS, NODE_WORK, TIMERS

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
) -> Simulation:
    """Drive an execution from its start until nothing more can happen.

    `extra` injects records (e.g. a cancel request) at virtual times;
    `roundtrip` passes the state through `_through_changelog` after every step.
    """
    clock = now
    state: State | None = None
    queue: deque[tuple[Envelope, RecordData]] = deque()
    timers: list[tuple[datetime, int, str]] = []
    pending: dict[str, TimerScheduled] = {}
    injected = sorted(extra or [], key=lambda pair: pair[0])
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
                queue.append((envelope(data, deterministic_id("injected", str(seq))), data))
                seq += 1
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
    sim.state = state
    sim.clock = clock
    return sim


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
