"""The dead_letters read model: one row per dead letter, for the metric and for inspection."""

from __future__ import annotations

from asyncpg import Connection

from schemas.envelope import Envelope
from schemas.records import RecordDeadLettered


async def dead_lettered(conn: Connection, env: Envelope, d: RecordDeadLettered) -> None:
    await conn.execute(
        "INSERT INTO dead_letters (id, consumer, original_topic, original_partition, original_offset, reason,"
        " dead_lettered_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        env.id, d.consumer, d.original_topic, d.original_partition, d.original_offset, d.reason, env.time,
    )
