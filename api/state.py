"""What the API process holds for its lifetime: the pool, the producer, Kafka lookups."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, KafkaTimeoutError

from api.directory_feed import DirectoryFeed
from api.key_usage import KeyUsage
from infra.db_errors import DATABASE_DOWN
from infra.kafka_io import make_consumer, make_producer
from infra.settings import Settings
from projections.runner import PROJECTION
from schemas.errors import FluxoError, PayloadTooLarge, Unavailable
from schemas.outputs import Output
from schemas.topics import DEFINITIONS

_POLL_SECONDS = 0.01
POOL_SIZE = 10
# Conditional edits (api/preconditions.py) each hold a pooled connection for their lock while
# they need another one for their work: at most this many at once per process, so they can
# never take the whole pool and wait on each other for a connection.
EDIT_LOCK_SLOTS = POOL_SIZE // 2

log = logging.getLogger("fluxo.api.state")


def _poisons(exc: BaseException) -> bool:
    """A batch the broker refused for good leaves a gap in the idempotent producer's
    sequence numbers for that partition: every later send there fails with
    OutOfOrderSequenceNumber. (Timeouts and lost connections leave the batch queued.)"""
    return isinstance(exc, KafkaError) and not exc.retriable and not isinstance(exc, KafkaTimeoutError)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection it gets back, besides rolling back an open
    transaction (asyncpg always does that): nothing. Its default reset (UNLISTEN, RESET ALL,
    advisory unlock, CLOSE ALL) is one more round trip per query, ~6 % of the API's CPU on
    ingest (docs/benchmarks.md), and the API leaves no session state behind: it never sets,
    listens or declares cursors, and its locks are transaction-scoped (api/people.py)."""


@dataclass
class AppState:
    settings: Settings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    admin: AIOKafkaAdminClient
    offsets: AIOKafkaConsumer  # group-less consumer, used for end offsets only
    # Principals, API keys, webhook tokens and workflows, in memory (api/directory_feed.py).
    directory: DirectoryFeed
    key_usage: KeyUsage
    edit_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(EDIT_LOCK_SLOTS))
    _renewing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _retired: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def open(cls, settings: Settings) -> AppState:
        pool = await asyncpg.create_pool(
            settings.dsn, min_size=1, max_size=POOL_SIZE, command_timeout=10, reset=_keep_session
        )
        producer = make_producer(settings)
        await producer.start()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        await admin.start()
        offsets = make_consumer(settings)
        await offsets.start()
        directory = DirectoryFeed(settings)
        await directory.start()
        key_usage = KeyUsage(pool)
        await key_usage.start()
        return cls(settings, pool, producer, admin, offsets, directory, key_usage)

    async def close(self) -> None:
        await self.directory.stop()
        await self.key_usage.stop()
        await asyncio.gather(*self._retired, return_exceptions=True)
        await self.offsets.stop()
        await self.admin.close()
        await self.producer.stop()
        await self.pool.close()

    async def publish(self, out: Output) -> tuple[str, int, int]:
        """Write one record; returns (topic, partition, offset) once the broker has it."""
        topic = self.settings.topic(out.topic)
        if out.value is not None and len(out.value) > self.settings.max_record_bytes:
            raise PayloadTooLarge(
                f"the record would be {len(out.value)} bytes, over {self.settings.max_record_bytes}",
                fields={"body": "too large once combined with the workflow definition"},
            )
        producer = self.producer
        try:
            meta = await producer.send_and_wait(
                topic, value=out.value, key=out.key.encode(), headers=out.headers
            )
        except Exception as exc:  # noqa: BLE001 - any Kafka failure means "not accepted"
            if _poisons(exc):
                await self._renew_producer(producer)
            raise Unavailable(f"could not write to Kafka: {type(exc).__name__}") from None
        if out.topic is DEFINITIONS:
            self.directory.absorb(out, meta.partition, meta.offset)
        return topic, meta.partition, meta.offset

    async def publish_many(self, outs: list[Output]) -> list[tuple[str, int, int] | FluxoError]:
        """Write records in one go (they share the producer's batches); each one's
        (topic, partition, offset) once the broker has it, or why it was not written."""
        producer = self.producer
        pending: list[asyncio.Future[Any] | FluxoError] = []
        for out in outs:
            if out.value is not None and len(out.value) > self.settings.max_record_bytes:
                pending.append(PayloadTooLarge(
                    f"the record would be {len(out.value)} bytes, over {self.settings.max_record_bytes}",
                    fields={"body": "too large"},
                ))
                continue
            try:
                pending.append(await producer.send(
                    self.settings.topic(out.topic), value=out.value, key=out.key.encode(), headers=out.headers
                ))
            except Exception as exc:  # noqa: BLE001 - not queued: not accepted
                pending.append(Unavailable(f"could not write to Kafka: {type(exc).__name__}"))
        futures = [p for p in pending if not isinstance(p, FluxoError)]
        acked = iter(await asyncio.gather(*futures, return_exceptions=True))
        results: list[tuple[str, int, int] | FluxoError] = []
        poisoned = False
        for out, item in zip(outs, pending, strict=True):
            if isinstance(item, FluxoError):
                results.append(item)
                continue
            meta = next(acked)
            if isinstance(meta, BaseException):
                poisoned = poisoned or _poisons(meta)
                results.append(Unavailable(f"could not write to Kafka: {type(meta).__name__}"))
                continue
            results.append((self.settings.topic(out.topic), meta.partition, meta.offset))
        if poisoned:
            await self._renew_producer(producer)
        return results

    async def _renew_producer(self, failed: AIOKafkaProducer) -> None:
        """Swap in a new producer (a new producer id, fresh sequences) after a refused batch."""
        async with self._renewing:
            if self.producer is not failed:
                return  # a concurrent failure renewed it already
            fresh = make_producer(self.settings)
            try:
                await fresh.start()
            except Exception as exc:  # noqa: BLE001 - keep the old one; the next failure tries again
                log.warning("could not renew the Kafka producer: %s", type(exc).__name__)
                return
            self.producer = fresh
            log.warning("Kafka refused a record for good; the API writes with a new producer")
        # Sends already queued on the old producer finish (or fail) while it stops.
        task = asyncio.create_task(failed.stop())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def wait_projected(self, topic: str, partition: int, offset: int) -> bool:
        """Read-your-writes: wait (bounded) until the projection has applied `offset`."""
        deadline = time.monotonic() + self.settings.read_your_writes_timeout_seconds
        while time.monotonic() < deadline:
            try:
                applied = await self.pool.fetchval(
                    "SELECT next_offset FROM projection_offsets"
                    " WHERE projection = $1 AND topic = $2 AND partition = $3",
                    PROJECTION, topic, partition, timeout=max(0.1, deadline - time.monotonic()),
                )
            except DATABASE_DOWN:
                # The write is in Kafka already: answering 503 now would make the
                # caller send it again. Answer without read-your-writes instead.
                return False
            if applied is not None and applied > offset:
                return True
            await asyncio.sleep(_POLL_SECONDS)
        return False
