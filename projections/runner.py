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
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from infra.db_errors import DATABASE_DOWN
from infra.kafka_io import make_consumer, make_producer, send_output, topic_partitions
from infra.settings import Settings
from processors.streams.dead_letter import dead_letter
from projections.batch import Item, apply_batch
from projections.deadletters import dead_lettered
from projections.retention import run_retention
from schemas.codec import decode_record
from schemas.errors import PoisonRecord
from schemas.outputs import Output
from schemas.records import RecordDeadLettered
from schemas.topics import AUDIT, DEADLETTER, DEFINITIONS, EXECUTIONS, TRIGGER_LOG, TopicSpec

log = logging.getLogger("fluxo.projection")

PROJECTION = "readmodels"
_PAUSE_FIRST, _PAUSE_MAX = 0.5, 5.0
_CONNECT_TIMEOUT = 10.0
TOPICS: tuple[TopicSpec, ...] = (DEFINITIONS, TRIGGER_LOG, EXECUTIONS, AUDIT, DEADLETTER)


class ProjectionRunner:
    def __init__(self, settings: Settings, name: str = PROJECTION, schema: str | None = None) -> None:
        self.settings = settings
        self.name = name
        # Replay checks project into a scratch schema instead of the live one.
        self.schema = schema
        self._stopping = asyncio.Event()
        self.skipped = 0
        self.pauses = 0
        # Set while following the live topics (not in replay): poison goes to the dead-letter topic.
        self.producer: AIOKafkaProducer | None = None

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
        consumer = make_consumer(self.settings)
        await consumer.start()
        self.producer = make_producer(self.settings)
        await self.producer.start()
        retention = asyncio.create_task(run_retention(self.settings, self._stopping, self.schema))
        try:
            pause = _PAUSE_FIRST
            while not self._stopping.is_set():
                try:
                    await self._follow(consumer)
                except DATABASE_DOWN as exc:
                    # PostgreSQL is down or restarting: pause, then carry on from the
                    # offsets it committed (what the failed batch read is read again).
                    self.pauses += 1
                    log.warning("projection %s: database unavailable (%r); retrying in %.1fs", self.name, exc, pause)
                    try:
                        await asyncio.wait_for(self._stopping.wait(), pause)
                    except TimeoutError:
                        pass
                    pause = min(pause * 2, _PAUSE_MAX)
                else:
                    pause = _PAUSE_FIRST
            await retention
        finally:
            retention.cancel()
            await consumer.stop()
            await self.producer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        """Apply batches until asked to stop; raises when the database goes away."""
        conn = await asyncpg.connect(
            self.settings.dsn, timeout=_CONNECT_TIMEOUT,
            server_settings={"search_path": self.schema} if self.schema else None,
        )
        try:
            await self._assign(consumer, conn)
            log.info("projection %s following (pauses so far: %d)", self.name, self.pauses)
            max_records = self.settings.projection_batch_size
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=max_records)
                if batches:
                    await self._apply(conn, batches)
        finally:
            try:
                await asyncio.wait_for(conn.close(), _CONNECT_TIMEOUT)
            except DATABASE_DOWN:  # TimeoutError is an OSError
                conn.terminate()

    def _decode(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> tuple[list[Item], list[Output]]:
        items: list[Item] = []
        letters: list[Output] = []
        for tp, records in batches.items():
            for record in records:
                try:
                    envelope, data = decode_record(record.value, record.headers or ())
                except PoisonRecord as exc:
                    # Skipped (offset advanced) and, unless it is a dead letter
                    # itself, dead-lettered like every other consumer does.
                    self.skipped += 1
                    log.warning("skipping %s@%d: %s", tp.topic, record.offset, exc.message)
                    if tp.topic != self.settings.topic(DEADLETTER):
                        letters.append(dead_letter(record, reason=exc.message, consumer="projection"))
                    continue
                items.append((envelope, data, record.offset))
        return items, letters

    async def _apply(
        self, conn: asyncpg.Connection, batches: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        items, letters = self._decode(batches)
        async with conn.transaction():
            # Dead letters go to their own table; everything else set-based, in order.
            await apply_batch(conn, [item for item in items if not isinstance(item[1], RecordDeadLettered)])
            for envelope, data, _ in items:
                if isinstance(data, RecordDeadLettered):
                    await dead_lettered(conn, envelope, data)
            if letters and self.producer is not None:
                # Written before the rows commit: a crash in between re-sends the same
                # (deterministic) dead letters, never loses one.
                for out in letters:
                    await send_output(self.producer, self.settings, out)
                await self.producer.flush()
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
