"""Statistics read from the incrementally kept counters (workflow_stats, the hourly
buckets, node_stats), never from a scan of the executions.

Definitions, used by every endpoint that reports them:
- an execution counts in the hour (and so the day) it *started*;
- `ended` = completed + failed + cancelled; success, failure and cancellation
  rates are shares of `ended` (they add up to 1), 0 when nothing ended;
- averages are over completed and failed executions (a cancelled one did not run to an end);
- "today" is the calendar day in the requested time zone (UTC by default),
  "this week" the last 7 days including today, "last 30 days" likewise.
  Buckets are hours, so zones with a half-hour offset are counted to the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from schemas.envelope import now
from schemas.errors import InvalidInput

PERIODS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


@dataclass(frozen=True)
class Counts:
    started: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    duration_ms: Decimal = Decimal(0)
    # Executions (counted on the day they started) a goal event converted.
    converted: int = 0

    @property
    def ended(self) -> int:
        return self.completed + self.failed + self.cancelled

    def rate(self, part: int) -> float:
        return round(part / self.ended, 6) if self.ended else 0.0

    @property
    def conversion_rate(self) -> float:
        """A share of the executions started (a running one may convert too), 0 when none."""
        return round(self.converted / self.started, 6) if self.started else 0.0

    @property
    def average_seconds(self) -> float:
        ran = self.completed + self.failed
        return round(float(self.duration_ms) / ran / 1000, 6) if ran else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "executions": self.started,
            "successes": self.completed,
            "failures": self.failed,
            "cancelled": self.cancelled,
            "success_rate": self.rate(self.completed),
            "failure_rate": self.rate(self.failed),
            "cancellation_rate": self.rate(self.cancelled),
            "average_execution_time_seconds": self.average_seconds,
        }


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("unknown time zone", fields={"tz": f"{name!r} is not an IANA time zone name"}) from exc


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def today(tz: ZoneInfo, at: datetime | None = None) -> date:
    return (at or now()).astimezone(tz).date()


def period_window(period: str, at: datetime | None = None) -> tuple[datetime, datetime]:
    if period not in PERIODS:
        raise InvalidInput("unknown period", fields={"period": f"one of {sorted(PERIODS)}"})
    end = at or now()
    return end - PERIODS[period], end


def fill_days(rows: dict[date, Counts], first: date, last: date) -> list[dict[str, Any]]:
    """One entry per day from last back to first (newest first, as seed 004 lists them), zeros included."""
    out = []
    day = last
    while day >= first:
        counts = rows.get(day, Counts())
        out.append({"date": day.isoformat(), **_series_point(counts)})
        day -= timedelta(days=1)
    return out


def fill_hours(rows: dict[datetime, Counts], first: datetime, last: datetime) -> list[dict[str, Any]]:
    out = []
    hour = last
    while hour >= first:
        out.append({"hour": hour.isoformat(), **_series_point(rows.get(hour, Counts()))})
        hour -= timedelta(hours=1)
    return out


def _series_point(c: Counts) -> dict[str, Any]:
    return {
        "executions": c.started,
        "successes": c.completed,
        "failures": c.failed,
        "cancelled": c.cancelled,
        "failure_rate": c.rate(c.failed),
        "conversions": c.converted,
        "conversion_rate": c.conversion_rate,
    }


def _counts(row: Any) -> Counts:
    return Counts(
        int(row["started"] or 0), int(row["completed"] or 0), int(row["failed"] or 0),
        int(row["cancelled"] or 0), Decimal(row["duration_ms"] or 0), int(row["converted"] or 0),
    )


_SUMS = (
    "sum(started) AS started, sum(completed) AS completed, sum(failed) AS failed,"
    " sum(cancelled) AS cancelled, sum(duration_ms) AS duration_ms, sum(converted) AS converted"
)


def _scope(workspace_id: str, workflow_id: str | None, start: datetime, end: datetime) -> tuple[str, list[Any]]:
    where = "workspace_id = $1 AND hour >= $2 AND hour < $3"
    args: list[Any] = [workspace_id, start, end]
    if workflow_id is not None:
        args.append(workflow_id)
        where += f" AND workflow_id = ${len(args)}"
    return where, args


async def window(
    conn: asyncpg.Pool, workspace_id: str, start: datetime, end: datetime, workflow_id: str | None = None
) -> Counts:
    """Counts of executions that started in [start, end), to the hour."""
    where, args = _scope(workspace_id, workflow_id, _floor_hour(start), end)
    row = await conn.fetchrow(f"SELECT {_SUMS} FROM execution_hourly_stats WHERE {where}", *args)
    return _counts(row)


async def by_day(
    conn: asyncpg.Pool, workspace_id: str, first: date, last: date, tz: ZoneInfo, workflow_id: str | None = None
) -> list[dict[str, Any]]:
    where, args = _scope(workspace_id, workflow_id, day_start(first, tz), day_start(last + timedelta(days=1), tz))
    args.append(tz.key)
    rows = await conn.fetch(
        f"SELECT (hour AT TIME ZONE ${len(args)})::date AS day, {_SUMS} FROM execution_hourly_stats"
        f" WHERE {where} GROUP BY 1",
        *args,
    )
    return fill_days({r["day"]: _counts(r) for r in rows}, first, last)


async def by_hour(
    conn: asyncpg.Pool, workspace_id: str, start: datetime, end: datetime, workflow_id: str | None = None
) -> list[dict[str, Any]]:
    first, last = _floor_hour(start), _floor_hour(end)
    where, args = _scope(workspace_id, workflow_id, first, last + timedelta(hours=1))
    rows = await conn.fetch(f"SELECT hour, {_SUMS} FROM execution_hourly_stats WHERE {where} GROUP BY hour", *args)
    return fill_hours({r["hour"]: _counts(r) for r in rows}, first, last)


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def all_time(conn: asyncpg.Pool, workspace_id: str, workflow_id: str | None = None) -> Counts:
    """All-time totals from workflow_stats (one row per workflow, not the buckets)."""
    where, args = "workspace_id = $1", [workspace_id]
    if workflow_id is not None:
        where += " AND workflow_id = $2"
        args.append(workflow_id)
    row = await conn.fetchrow(
        "SELECT sum(started) AS started, sum(successes) AS completed, sum(failures) AS failed,"
        f" sum(cancellations) AS cancelled, sum(total_duration_ms) AS duration_ms, sum(conversions) AS converted"
        f" FROM workflow_stats WHERE {where}",
        *args,
    )
    return _counts(row)


async def workflow_figures(pool: asyncpg.Pool, workspace_id: str, workflow_id: str, tz_name: str | None = None) -> dict[str, Any]:
    """The `statistics` block of a workflow (also embedded in the workflow's detail)."""
    tz = zone(tz_name)
    day = today(tz)
    start_today = day_start(day, tz)
    end = start_today + timedelta(days=1)
    total = await all_time(pool, workspace_id, workflow_id)
    on_day = await window(pool, workspace_id, start_today, end, workflow_id)
    week = await window(pool, workspace_id, start_today - timedelta(days=6), end, workflow_id)
    last = await pool.fetchrow(
        "SELECT last_status, last_execution_at, waiting FROM workflow_stats WHERE workflow_id = $1", workflow_id
    )
    return {
        "executions_total": total.started,
        "executions_today": on_day.started,
        "executions_this_week": week.started,
        "successful_executions": total.completed,
        "failed_executions": total.failed,
        "cancelled_executions": total.cancelled,
        "success_rate": total.rate(total.completed),
        "error_rate": total.rate(total.failed),
        "average_execution_time_seconds": total.average_seconds,
        "conversions": total.converted,
        "conversion_rate": total.conversion_rate,
        "waiting_count": last["waiting"] if last else 0,
        "last_execution_status": last["last_status"] if last else None,
        "last_execution_at": last["last_execution_at"] if last else None,
    }
