"""Login lockout: after N failures within a window, an identifier is refused for a while.

Counted per identifier (the email or username typed), whether or not such a user
exists, so the answers never tell which accounts exist. The state is a small table
the API writes directly (`login_failures`): it is operational and short-lived, not a
fact of the domain worth a Kafka record, and every API process must see the same count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from schemas.errors import RateLimited


@dataclass(frozen=True)
class Policy:
    max_failures: int
    window: timedelta
    lockout: timedelta


@dataclass(frozen=True)
class Failures:
    failures: int
    window_started_at: datetime
    locked_until: datetime | None = None


def locked_for(state: Failures | None, now: datetime) -> float:
    """Seconds the identifier is still locked (0 when it may try)."""
    if state is None or state.locked_until is None or state.locked_until <= now:
        return 0.0
    return (state.locked_until - now).total_seconds()


def after_failure(state: Failures | None, now: datetime, policy: Policy) -> Failures:
    """The state after one more failed attempt. A window that ran out, or a lockout that
    ended, starts the count again."""
    expired = (
        state is None
        or state.window_started_at + policy.window <= now
        or (state.locked_until is not None and state.locked_until <= now)
    )
    if expired:
        state = Failures(failures=0, window_started_at=now)
    assert state is not None
    failures = state.failures + 1
    locked = now + policy.lockout if failures >= policy.max_failures else None
    return Failures(failures=failures, window_started_at=state.window_started_at, locked_until=locked)


def normalized(identifier: str) -> str:
    return identifier.strip().lower()


async def _load(conn: asyncpg.Connection, identifier: str, lock: bool = False) -> Failures | None:
    row = await conn.fetchrow(
        "SELECT failures, window_started_at, locked_until FROM login_failures WHERE identifier = $1"
        + (" FOR UPDATE" if lock else ""),
        identifier,
    )
    return Failures(row["failures"], row["window_started_at"], row["locked_until"]) if row else None


async def refuse_if_locked(pool: asyncpg.Pool, identifier: str, now: datetime) -> None:
    async with pool.acquire() as conn:
        seconds = locked_for(await _load(conn, identifier), now)
    if seconds > 0:
        raise RateLimited(
            "too many failed logins: try again later",
            retry_after=math.ceil(seconds),
            fields={"identifier": "temporarily locked after repeated failed logins"},
        )


async def record_failure(pool: asyncpg.Pool, identifier: str, now: datetime, policy: Policy) -> Failures:
    async with pool.acquire() as conn, conn.transaction():
        # Serialises concurrent failures of one identifier: each one counts.
        await conn.execute(
            "INSERT INTO login_failures (identifier, failures, window_started_at) VALUES ($1, 0, $2)"
            " ON CONFLICT DO NOTHING",
            identifier, now,
        )
        state = after_failure(await _load(conn, identifier, lock=True), now, policy)
        await conn.execute(
            "UPDATE login_failures SET failures = $2, window_started_at = $3, locked_until = $4 WHERE identifier = $1",
            identifier, state.failures, state.window_started_at, state.locked_until,
        )
    return state


async def reset(pool: asyncpg.Pool, identifier: str) -> None:
    await pool.execute("DELETE FROM login_failures WHERE identifier = $1", identifier)
