"""API keys' last use: noted in memory on every call, written to PostgreSQL in the background.

last_used_at is operational, not a domain fact: it goes straight to its own table (no Kafka
record per request), one multi-row statement per flush, never on the request's path, and
a key's row is written at most once a minute (the WHERE keeps that across API processes
too). While PostgreSQL is down the latest use per key waits in memory for the next flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

import asyncpg

from infra.db_errors import DATABASE_DOWN

log = logging.getLogger("fluxo.api.key_usage")

LAST_USED_EVERY_SECONDS = 60.0
FLUSH_SECONDS = 2.0


class KeyUsage:
    def __init__(self, pool: asyncpg.Pool, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.pool = pool
        self.flush_seconds = flush_seconds
        self._pending: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, key_id: str, moment: datetime) -> None:
        self._pending[key_id] = moment

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="key-usage")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            await self.pool.executemany(
                "INSERT INTO api_key_usage AS u (key_id, last_used_at) VALUES ($1, $2) ON CONFLICT (key_id)"
                " DO UPDATE SET last_used_at = EXCLUDED.last_used_at"
                " WHERE u.last_used_at <= EXCLUDED.last_used_at - make_interval(secs => $3)",
                [(key_id, moment, LAST_USED_EVERY_SECONDS) for key_id, moment in batch.items()],
            )
        except DATABASE_DOWN:
            for key_id, moment in batch.items():  # keep the newest for the next try
                self._pending.setdefault(key_id, moment)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
            except Exception:
                log.exception("could not store API keys' last use")
