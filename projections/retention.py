"""Execution history retention: old detail leaves PostgreSQL, the counters and the log stay.

Only finished executions are pruned (a running one may still receive records),
together with their steps; event logs go by the time they were received. The
statistics tables are untouched, so totals and per-day series keep counting
what was pruned. Kafka keeps its own retention: a replay re-creates the rows
and the next pruning pass removes them again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import asyncpg

from infra.settings import Settings
from schemas.envelope import now

log = logging.getLogger("fluxo.retention")

BATCH = 5000


def cutoff(settings: Settings, at: datetime | None = None) -> datetime | None:
    if settings.execution_retention_days <= 0:
        return None
    return (at or now()) - timedelta(days=settings.execution_retention_days)


async def prune(conn: asyncpg.Connection, before: datetime, batch: int = BATCH) -> int:
    """Delete execution detail finished before `before`, in bounded batches. Returns executions deleted."""
    total = 0
    while True:
        async with conn.transaction():
            ids = await conn.fetch(
                "SELECT id FROM executions WHERE completed_at < $1 AND status <> 'running' LIMIT $2", before, batch
            )
            if not ids:
                break
            doomed = [r["id"] for r in ids]
            await conn.execute("DELETE FROM execution_steps WHERE execution_id = ANY($1::text[])", doomed)
            await conn.execute("DELETE FROM executions WHERE id = ANY($1::text[])", doomed)
        total += len(doomed)
    while await conn.fetchval(
        "WITH gone AS (DELETE FROM event_logs WHERE id IN"
        " (SELECT id FROM event_logs WHERE received_at < $1 LIMIT $2) RETURNING 1) SELECT count(*) FROM gone",
        before, batch,
    ):
        pass
    # Flow control's decisions are listed with their event: they go with it.
    await conn.execute("DELETE FROM flow_decisions WHERE decided_at < $1", before)
    return total


async def run_retention(settings: Settings, stopping: asyncio.Event, schema: str | None = None) -> None:
    """Prune every `retention_interval_seconds` until asked to stop."""
    if settings.execution_retention_days <= 0:
        return
    while not stopping.is_set():
        before = cutoff(settings)
        try:
            conn = await asyncpg.connect(settings.dsn, server_settings={"search_path": schema} if schema else None)
            try:
                if before is not None and (pruned := await prune(conn, before)):
                    log.info("retention: pruned %d executions finished before %s", pruned, before.isoformat())
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError) as exc:
            # The database being away is the projection's problem to report; try again next round.
            log.warning("retention pass failed: %s", exc)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=settings.retention_interval_seconds)
        except TimeoutError:
            pass
