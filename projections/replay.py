"""`fluxo replay`: rebuild the read models from the Kafka history.

- `replay()` empties the read models and projects every record again from
  offset zero (stop the live projection first).
- `replay_check()` projects the history into a scratch schema up to exactly
  the offsets the live projection has applied, compares every table with the
  live one, and drops the scratch schema. No difference means the read
  models are a pure function of the log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from infra.kafka_io import make_consumer, topic_partitions
from infra.migrations import migrate
from infra.settings import Settings
from projections.retention import cutoff, prune
from projections.runner import PROJECTION, TOPICS, ProjectionRunner

# A rebuild has no reader waiting on each batch: bigger batches amortise each
# transaction's fixed statements (~8 % more records/s than 2,000, fluxo bench).
REPLAY_BATCH = 10_000
# Bookkeeping, and operational state the API writes itself (login lockouts, the last
# use of an API key): not read models, so a replay neither empties nor compares them.
SKIPPED_TABLES = {"projection_offsets", "schema_migrations", "login_failures", "api_key_usage"}


@dataclass
class TableDiff:
    table: str
    live_rows: int
    replayed_rows: int
    only_live: list[Any] = field(default_factory=list)
    only_replayed: list[Any] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.only_live and not self.only_replayed


@dataclass
class ReplayReport:
    records: int
    tables: list[TableDiff]
    # The live projection applied more records while we compared: differences may be in-flight ones.
    live_moved: bool = False

    @property
    def same(self) -> bool:
        return all(t.same for t in self.tables)


async def _tables(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'"
        " ORDER BY table_name",
        schema,
    )
    return [r["table_name"] for r in rows if r["table_name"] not in SKIPPED_TABLES]


async def _rows(conn: asyncpg.Connection, schema: str, table: str) -> set[str]:
    # Each row as canonical JSON: json columns compare by content, not by whitespace.
    records = await conn.fetch(f'SELECT to_jsonb(t) AS row FROM "{schema}"."{table}" t')
    return {orjson.dumps(orjson.loads(r["row"]), option=orjson.OPT_SORT_KEYS).decode() for r in records}


async def _live_offsets(conn: asyncpg.Connection) -> dict[tuple[str, int], int]:
    rows = await conn.fetch("SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = $1", PROJECTION)
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def _end_offsets(settings: Settings) -> dict[tuple[str, int], int]:
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, settings, TOPICS)
        ends = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def replay(settings: Settings) -> int:
    """Empty the read models and project the whole history again. Returns records applied."""
    await migrate(settings.dsn)
    conn = await asyncpg.connect(settings.dsn)
    try:
        tables = await _tables(conn, "public")
        async with conn.transaction():
            await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables))
            await conn.execute("DELETE FROM projection_offsets WHERE projection = $1", PROJECTION)
    finally:
        await conn.close()
    applied = await ProjectionRunner(settings).run_until(await _end_offsets(settings), batch_size=REPLAY_BATCH)
    before = cutoff(settings)
    if before is not None:
        conn = await asyncpg.connect(settings.dsn)
        try:
            await prune(conn, before)  # what retention had removed stays removed
        finally:
            await conn.close()
    return applied


async def replay_check(settings: Settings, sample: int = 5) -> ReplayReport:
    conn = await asyncpg.connect(settings.dsn)
    schema = f"replay_check_{uuid.uuid4().hex[:8]}"
    try:
        targets = await _live_offsets(conn)
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await migrate(settings.dsn, schema=schema)
        records = await ProjectionRunner(settings, schema=schema).run_until(targets)
        before = cutoff(settings)
        if before is not None:
            # The live side prunes on a timer; prune both at one cutoff so they compare.
            await prune(conn, before)
            scratch = await asyncpg.connect(settings.dsn, server_settings={"search_path": schema})
            try:
                await prune(scratch, before)
            finally:
                await scratch.close()
        diffs = []
        for table in await _tables(conn, "public"):
            live_rows = await _rows(conn, "public", table)
            replayed = await _rows(conn, schema, table)
            diffs.append(
                TableDiff(
                    table, len(live_rows), len(replayed),
                    sorted(live_rows - replayed)[:sample], sorted(replayed - live_rows)[:sample],
                )
            )
        return ReplayReport(records, diffs, live_moved=await _live_offsets(conn) != targets)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
