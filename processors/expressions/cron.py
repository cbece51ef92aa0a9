"""Cron schedules: which fire times are due. Pure.

A schedule's state is the last fire time it emitted. Every fire time after it
and not after `now` is due, each exactly once; the caller stores the new last
fire time in the same transaction as the starts it emits, so a restart
neither repeats nor skips a fire time (within the catch-up window).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from schemas.errors import ExpressionError

# A guard against a schedule that would emit an unbounded burst in one tick.
MAX_FIRES_PER_TICK = 1000


class CronError(ExpressionError):
    """A cron schedule or time zone that is not valid."""


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


def _wildcard_hours(expression: str) -> bool:
    fields = expression.split()
    return len(fields) >= 5 and (fields[1] == "*" or fields[1].startswith("*/"))


def _local_fires(expression: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fire times after `after`, as aware UTC datetimes, in order, each once.

    croniter iterates naive local wall-clock times (it mishandles aware times
    across daylight-saving changes); each is then placed in the zone, the way
    cron does: a wall time skipped by a spring-forward fires just after the
    gap; a wall time repeated by a fall-back fires once for a fixed-hour
    schedule ("30 2 * * *") and at both occurrences for an every-hour one.
    """
    local_after = after.astimezone(zone).replace(tzinfo=None)
    # Start two hours early so a repeated (fall-back) hour is not missed; the
    # filter below keeps only what is strictly after `after`.
    it = croniter(expression, local_after - timedelta(hours=2))
    every_hour = _wildcard_hours(expression)
    pending: list[datetime] = []
    last: datetime | None = None
    while True:
        try:
            naive = it.get_next(datetime)
        except CroniterBadDateError as exc:  # e.g. Feb 30, or a past year: never fires again
            raise _NoMoreFires() from exc
        first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        heapq.heappush(pending, first)
        second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if every_hour and second > first:
            heapq.heappush(pending, second)
        # Later wall times never map before `first` (except inside a gap, which
        # the `last` check drops), so everything up to it is final.
        while pending and pending[0] <= first:
            fire = heapq.heappop(pending)
            if fire <= after or (last is not None and fire <= last):
                continue
            last = fire
            yield fire


class _NoMoreFires(Exception):
    pass


def due_fires(
    expression: str,
    tz: str | None,
    after: datetime,
    now: datetime,
    catchup: timedelta,
) -> tuple[list[datetime], int]:
    """Fire times in (after, now], oldest first, and how many older ones were skipped
    because they fell before the catch-up window (now - catchup)."""
    validate_schedule(expression, tz)
    zone = _zone(tz)
    floor = now - catchup
    skipped = 0
    fires: list[datetime] = []
    try:
        for fire in _local_fires(expression, zone, after):
            if fire > now or len(fires) >= MAX_FIRES_PER_TICK:
                break
            if fire < floor:
                skipped += 1
                if skipped >= MAX_FIRES_PER_TICK:
                    # Far behind: stop counting and jump to the window.
                    return due_fires(expression, tz, floor, now, catchup)[0], skipped
                continue
            fires.append(fire.astimezone(after.tzinfo))
    except _NoMoreFires:
        pass
    return fires, skipped
