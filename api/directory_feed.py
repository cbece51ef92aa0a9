"""The API's in-memory directory (ingest/directory.py), kept current from the definitions topic.

At start it reads the compacted topic from the beginning; it is *ready* once it has read
up to the end offsets it found. Then it tails. Every round it asks the broker for the end
offsets first, reads up to them, and only then calls itself fresh *as of the moment it
asked*: whatever Kafka acknowledged before that moment is in memory. A caller trusts the
directory while that moment is at most FLUXO_DIRECTORY_BOUND_SECONDS old (a round takes
about a quarter of it); when it is older (the broker is slow or gone, the process starved)
authentication falls back to PostgreSQL (api/authn.py), so a revoked key, a removed
member, a lowered role or a regenerated webhook token never outlives the bound.

Writes of this process are folded in as soon as Kafka acknowledges them (`absorb`), so a
key created, a role changed or a token regenerated here acts at once on the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from infra.kafka_io import make_consumer, topic_partitions
from infra.settings import Settings
from ingest.directory import Directory, apply
from schemas.codec import decode
from schemas.errors import PoisonRecord
from schemas.outputs import Output
from schemas.topics import DEFINITIONS

log = logging.getLogger("fluxo.api.directory")

_RETRY_SECONDS = 0.5
_STARVED_BOUNDS = 3


class DirectoryFeed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = Directory()
        self.bound = settings.directory_bound_seconds
        self._fresh_as_of: float | None = None  # time.monotonic() of the last end-offset probe read up to
        self._advanced = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Caught up with the topic as it was at start (then it stays ready)."""
        return self._fresh_as_of is not None

    def fresh(self) -> bool:
        """Whether the directory may answer now: it has everything acknowledged up to `bound` ago."""
        return self._fresh_as_of is not None and time.monotonic() - self._fresh_as_of <= self.bound

    async def usable(self) -> bool:
        """Whether the directory may answer this call. A little stale (a starved event loop,
        a slow round trip: up to _STARVED_BOUNDS bounds) it is waited for, one round; older
        (the broker gone) PostgreSQL answers instead, without a wait."""
        if self.fresh():
            return True
        staleness = self.staleness()
        if staleness is None or staleness > _STARVED_BOUNDS * self.bound:
            return False
        return await self.sync(time.monotonic())

    def staleness(self) -> float | None:
        return None if self._fresh_as_of is None else time.monotonic() - self._fresh_as_of

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="directory-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def sync(self, since: float) -> bool:
        """Wait (at most the bound) until the directory holds everything acknowledged before
        `since` (a time.monotonic()); False if it did not get there in time."""
        deadline = time.monotonic() + self.bound
        while self._fresh_as_of is None or self._fresh_as_of < since:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), remaining)
        return True

    def absorb(self, out: Output, partition: int, offset: int) -> None:
        """Fold in a record this process wrote, as soon as Kafka has it (read-your-writes)."""
        if out.value is None:
            return
        try:
            _, data = decode(out.value, out.headers)
        except PoisonRecord:
            return  # the tail skips it too
        apply(self.directory, data, key=out.key, partition=partition, offset=offset)

    async def _open(self) -> AIOKafkaConsumer:
        consumer = make_consumer(self.settings)
        await consumer.start()
        self._tps = await topic_partitions(consumer, self.settings, [DEFINITIONS])
        consumer.assign(self._tps)
        await consumer.seek_to_beginning(*self._tps)
        return consumer

    async def _run(self) -> None:
        period_ms = max(10, int(self.bound * 1000 / 4))
        while True:
            try:
                if self._consumer is None:
                    self._consumer = await self._open()
                consumer = self._consumer
                asked = time.monotonic()
                end = await consumer.end_offsets(self._tps)
                behind = [tp for tp in self._tps if await consumer.position(tp) < end[tp]]
                while behind:
                    self._fold(await consumer.getmany(*behind, timeout_ms=period_ms))
                    behind = [tp for tp in behind if await consumer.position(tp) < end[tp]]
                self._fresh_as_of = asked
                self._advanced.set()
                self._advanced = asyncio.Event()
                # Wait for news (a long poll): what arrives is folded in at once.
                self._fold(await consumer.getmany(timeout_ms=period_ms))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker went away: retry; callers fall back meanwhile
                log.warning("directory feed: %s; retrying", type(exc).__name__)
                await asyncio.sleep(_RETRY_SECONDS)

    def _fold(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        for records in batches.values():
            for record in records:
                if record.value is None:
                    continue  # compaction tombstone: nothing of ours writes them here
                try:
                    _, data = decode(record.value, record.headers or ())
                except PoisonRecord as exc:
                    log.warning("directory: skipping bad definition record at %d: %s", record.offset, exc)
                    continue
                key = record.key.decode() if record.key is not None else ""
                apply(self.directory, data, key=key, partition=record.partition, offset=record.offset)
