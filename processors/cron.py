"""Cron schedules: which fire times are due. Pure.

A schedule's state is the last fire time it emitted. Every fire time after it
and not after `now` is due, each exactly once; the caller stores the new last
fire time in the same transaction as the starts it emits, so a restart
neither repeats nor skips a fire time (within the catch-up window).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

# A guard against a schedule that would emit an unbounded burst in one tick.
MAX_FIRES_PER_TICK = 1000


class CronError(ValueError):
    pass


def schedule_of(trigger_config: Mapping[str, Any]) -> str | None:
    for key in ("schedule", "cron", "cron_expression", "expression"):
        value = trigger_config.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def validate_schedule(expression: str, tz: str | None = None) -> None:
    if not croniter.is_valid(expression):
        raise CronError(f"not a valid cron expression: {expression!r}")
    _zone(tz)


def _zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"unknown timezone {tz!r}") from exc


def due_fires(
    expression: str,
    tz: str | None,
    after: datetime,
    now: datetime,
    catchup: timedelta,
) -> tuple[list[datetime], int]:
    """Fire times in (after, now], oldest first, and how many older ones were skipped
    because they fell outside the catch-up window."""
    validate_schedule(expression, tz)
    zone = _zone(tz)
    floor = now - catchup
    skipped = 0
    start = after
    if start < floor:
        # Count what we skip, cheaply bounded, then jump to the window.
        counter = croniter(expression, start.astimezone(zone))
        while skipped < MAX_FIRES_PER_TICK:
            t = counter.get_next(datetime)
            if t >= floor:
                break
            skipped += 1
        start = floor
    it = croniter(expression, start.astimezone(zone))
    fires: list[datetime] = []
    while len(fires) < MAX_FIRES_PER_TICK:
        t = it.get_next(datetime)
        if t > now:
            break
        fires.append(t.astimezone(after.tzinfo))
    return fires, skipped
