"""Durable timers an execution schedules (waits, pre-delays, retry backoffs, its timeout) and
cancels when it ends.
"""

from __future__ import annotations

from datetime import datetime

from processors.engine.transition import Step
from schemas.envelope import deterministic_id
from schemas.records import (
    TimerCancelled,
    TimerScheduled,
)
from schemas.topics import TIMERS


def schedule_timer(
    step: Step,
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


def cancel_timers(step: Step) -> None:
    state = step.state
    for timer_id in sorted(state["timers"]):
        step.emit(
            TimerCancelled(timer_id=timer_id, execution_id=state["execution_id"]),
            deterministic_id("timer-cancelled", timer_id),
            topic=TIMERS,
        )
    state["timers"] = {}
