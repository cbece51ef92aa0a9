"""Applies record batches to PostgreSQL with the offsets in the same transaction.

Offsets live in `projection_offsets`, not in Kafka: on start we seek to what
PostgreSQL says was applied, so a crash between "rows written" and "offset
committed" cannot happen — both commit or neither does.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from infra.kafka_io import make_consumer, topic_partitions
from infra.settings import Settings
from projections.batch import Item, apply_batch
from projections.retention import run_retention
from schemas.codec import decode_record
from schemas.errors import PoisonRecord
from schemas.topics import AUDIT, DEFINITIONS, EXECUTIONS, TRIGGER_LOG, TopicSpec

log = logging.getLogger("fluxo.projection")

PROJECTION = "readmodels"
TOPICS: tuple[TopicSpec, ...] = (DEFINITIONS, TRIGGER_LOG, EXECUTIONS, AUDIT)


class ProjectionRunner:
    def __init__(self, settings: Settings, name: str = PROJECTION, schema: str | None = None) -> None:
        self.settings = settings
        self.name = name
        # Replay checks project into a scratch schema instead of the live one.
        self.schema = schema
        self._stopping = asyncio.Event()
        self.skipped = 0

    def request_stop(self) -> None:
        self._stopping.set()

    async def _assign(self, consumer: AIOKafkaConsumer, conn: asyncpg.Connection) -> None:
        tps = await topic_partitions(consumer, self.settings, TOPICS)
        consumer.assign(tps)
        rows = await conn.fetch(
            "SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = $1",
            self.name,
        )
        stored = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        for tp in tps:
            if (tp.topic, tp.partition) in stored:
                consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                await consumer.seek_to_beginning(tp)

    async def connect(self) -> asyncpg.Connection:
        settings = {"search_path": self.schema} if self.schema else None
        return await asyncpg.connect(self.settings.dsn, server_settings=settings)

    async def run_until(self, targets: dict[tuple[str, int], int], batch_size: int | None = None) -> int:
        """Apply records up to (not including) each partition's target offset, then return.

        Used by replay: the number of records applied is returned. `batch_size`
        overrides the live projection's (FLUXO_PROJECTION_BATCH_SIZE).
        """
        max_records = batch_size or self.settings.projection_batch_size
        conn = await self.connect()
        consumer = make_consumer(self.settings)
        await consumer.start()
        applied = 0
        try:
            await self._assign(consumer, conn)
            remaining = {tp for tp in consumer.assignment() if targets.get((tp.topic, tp.partition), 0) > await consumer.position(tp)}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=max_records)
                bounded = {
                    tp: [r for r in records if r.offset < targets.get((tp.topic, tp.partition), 0)]
                    for tp, records in batches.items()
                }
                bounded = {tp: records for tp, records in bounded.items() if records}
                if bounded:
                    await self._apply(conn, bounded)
                    applied += sum(len(r) for r in bounded.values())
                for tp in list(remaining):
                    last = bounded.get(tp)
                    position = last[-1].offset + 1 if last else await consumer.position(tp)
                    if position >= targets.get((tp.topic, tp.partition), 0):
                        remaining.discard(tp)
        finally:
            await consumer.stop()
            await conn.close()
        return applied

    async def run(self) -> None:
        max_records = self.settings.projection_batch_size
        conn = await self.connect()
        consumer = make_consumer(self.settings)
        await consumer.start()
        try:
            await self._assign(consumer, conn)
            log.info("projection %s started", self.name)
            retention = asyncio.create_task(run_retention(self.settings, self._stopping, self.schema))
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=max_records)
                if batches:
                    await self._apply(conn, batches)
            await retention
        finally:
            await consumer.stop()
            await conn.close()

    def _decode(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> list[Item]:
        items: list[Item] = []
        for tp, records in batches.items():
            for record in records:
                try:
                    envelope, data = decode_record(record.value, record.headers or ())
                except PoisonRecord as exc:
                    # Producers dead-letter what they reject; anything odd that
                    # still reaches an internal topic is skipped, offset advanced.
                    self.skipped += 1
                    log.warning("skipping %s@%d: %s", tp.topic, record.offset, exc.message)
                    continue
                items.append((envelope, data, record.offset))
        return items

    async def _apply(
        self, conn: asyncpg.Connection, batches: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        items = self._decode(batches)
        async with conn.transaction():
            await apply_batch(conn, items)
            await conn.executemany(
                "INSERT INTO projection_offsets (projection, topic, partition, next_offset, updated_at)"
                " VALUES ($1, $2, $3, $4, now()) ON CONFLICT (projection, topic, partition)"
                " DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                [(self.name, tp.topic, tp.partition, records[-1].offset + 1) for tp, records in batches.items()],
            )


def run_projection(settings: Settings) -> None:
    import uvloop

    async def main() -> None:
        runner = ProjectionRunner(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.request_stop)
        await runner.run()

    uvloop.run(main())
