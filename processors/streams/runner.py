"""The imperative shell every stream processor runs in.

Read a batch, let the processor compute its outputs and state changes, then
write outputs, state changelog and consumer offsets in ONE Kafka transaction.
A crash anywhere before the commit aborts everything, and the batch is read
again: no step is lost and none is applied twice. Records that cannot be
decoded go to the dead-letter topic inside the same transaction.

We use aiokafka's transactional producer directly rather than faust's
`exactly_once` mode, which has open bugs (duplicates, sends outside the
transaction, crashes on rebalance).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.structs import ConsumerRecord

from infra.kafka_io import send_output
from infra.settings import Settings
from processors.streams.clients import Clients, ConsumerLike, KafkaClients, ProducerLike
from processors.streams.dead_letter import dead_letter
from processors.streams.state import StateStore, restore_state
from schemas.codec import decode_event, decode_record
from schemas.envelope import Envelope, RecordData
from schemas.errors import PoisonRecord
from schemas.outputs import Output
from schemas.topics import EVENTS, TopicSpec

log = logging.getLogger("fluxo.processor")

# Backoff between reconnections after the broker went away.
_RECONNECT_FIRST, _RECONNECT_MAX = 0.5, 10.0
# How long closing a Kafka client may take before it is left behind.
_CLOSE_SECONDS = 10.0
# How long a revocation waits for the batch or tick in flight to commit: well under the
# session timeout (10 s), as aiokafka sends no heartbeats while the listener runs.
_HANDOFF_SECONDS = 5.0


async def bounded_transaction(producer: ProducerLike, write: Callable[[], Awaitable[None]], seconds: float) -> None:
    """`write` inside one producer transaction, given at most `seconds`.

    Past them the transaction is abandoned (its task cancelled, not awaited: aborting it may
    hang the same way) and KafkaTimeoutError raised, which the runner treats as a lost
    broker: new clients, state from the changelog, input from the committed offsets.
    """

    async def run() -> None:
        async with producer.transaction():
            await write()

    task = asyncio.ensure_future(run())
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except BaseException:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise KafkaTimeoutError(f"a transaction did not finish within {seconds:.0f}s")
    task.result()


@dataclass(frozen=True)
class Incoming:
    record: ConsumerRecord
    envelope: Envelope
    data: RecordData


class Processor(Protocol):
    name: str
    inputs: tuple[TopicSpec, ...]
    state_topic: TopicSpec | None

    async def start(self, settings: Settings) -> None: ...

    async def stop(self) -> None: ...

    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]: ...


class Ticking(Protocol):
    """A processor that also acts on the clock (timers, cron), not only on records.

    `tick` runs between batches; its outputs and state changes commit in one
    transaction like a batch's. `restored` tells it which partitions' state
    was just rebuilt, so it can index them.
    """

    tick_seconds: float

    async def tick(self, store: StateStore, partitions: set[int]) -> list[Output]: ...

    def restored(self, store: StateStore, partitions: set[int]) -> None: ...


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ProcessorRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # aiokafka calls this from its own task, at any await of the main loop, and hands the
        # partitions on once it returns. The batch (or tick) in flight commits first, so the
        # next owner starts from its offsets with its state changes in the changelog; were
        # they committed after, it would run the batch again or restore the state without them.
        try:
            await asyncio.wait_for(self.runner.idle.wait(), _HANDOFF_SECONDS)
        except TimeoutError:
            log.warning("%s: giving partitions up with a batch still in flight", self.runner.processor.name)
        lost = {tp.partition for tp in revoked}
        self.runner.store.drop_partitions(lost)
        self.runner.held -= lost
        self.runner.to_restore -= lost
        self.runner.rebalances += 1

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        spec = self.runner.processor.state_topic
        if spec is None:
            self.runner.held = {tp.partition for tp in assigned}
            return
        # Restored by the main loop, not here: aiokafka sends no heartbeats while this
        # callback runs, so a restore longer than the session timeout (10 s) got the
        # member expelled, the partitions revoked and restored again, for ever (the
        # soak found it: an executor with ~100k state records never got out of it).
        self.runner.to_restore |= {tp.partition for tp in assigned} - self.runner.held


class ProcessorRunner:
    def __init__(
        self, settings: Settings, processor: Processor, *, instance: str = "0", clients: Clients | None = None
    ) -> None:
        self.settings = settings
        self.processor = processor
        # Where this runner's Kafka clients come from: aiokafka's unless a test gives others.
        self.clients: Clients = KafkaClients(settings) if clients is None else clients
        self.group_id = settings.group(processor.name)
        # A stable transactional id per instance: a restarted process fences its
        # dead predecessor, whose open transaction the broker then aborts.
        self.transactional_id = f"{self.group_id}.{instance}"
        self.store = StateStore()
        self.held: set[int] = set()
        # Assigned partitions whose state is still to be read from the changelog.
        self.to_restore: set[int] = set()
        self.rebalances = 0
        # Cleared while a batch or a tick is on its way to its commit (see _Rebalance).
        self.idle = asyncio.Event()
        self.idle.set()
        self._stopping = asyncio.Event()
        self.consumer: ConsumerLike | None = None
        self.producer: ProducerLike | None = None

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self, max_records: int = 500) -> None:
        await self.processor.start(self.settings)
        pause = _RECONNECT_FIRST
        try:
            while not self._stopping.is_set():
                began = asyncio.get_running_loop().time()
                try:
                    await self._session(max_records)
                except KafkaError as exc:
                    # The broker went away (restart, network): start over the way a
                    # restarted process would - new clients, state restored from the
                    # changelog, input from the committed offsets; the new producer
                    # fences the old one's open transaction, which the broker aborts.
                    if asyncio.get_running_loop().time() - began > 60:
                        pause = _RECONNECT_FIRST
                    log.warning("%s: Kafka unavailable (%r); reconnecting in %.1fs", self.processor.name, exc, pause)
                    self._reset()
                    try:
                        await asyncio.wait_for(self._stopping.wait(), pause)
                    except TimeoutError:
                        pass
                    pause = min(pause * 2, _RECONNECT_MAX)
        finally:
            await self.processor.stop()

    def _reset(self) -> None:
        """Forget everything not committed to Kafka."""
        self.store = StateStore()
        self.held = set()
        self.to_restore = set()

    async def _restore(self) -> None:
        spec = self.processor.state_topic
        assert spec is not None
        fresh, seen = set(self.to_restore), self.rebalances
        count = await restore_state(self.settings, spec, fresh, self.store, consumer=self.clients.restore_consumer())
        if self.rebalances != seen:
            # Partitions moved while we read: what is still ours is read again from the
            # start, and what went elsewhere must not stay here half-read.
            self.store.drop_partitions(fresh)
            return
        self.to_restore -= fresh
        self.held |= fresh
        restored = getattr(self.processor, "restored", None)
        if restored is not None:
            restored(self.store, fresh)
        log.info("%s restored %d state records for partitions %s", self.processor.name, count, sorted(fresh))

    async def _close_clients(self) -> None:
        for client in (self.consumer, self.producer):
            if client is None:
                continue
            try:
                # A producer stop flushes what it still holds: bounded, since a producer that
                # stopped making progress would never flush it (nothing uncommitted is kept).
                await asyncio.wait_for(client.stop(), _CLOSE_SECONDS)
            except Exception as exc:  # noqa: BLE001 - closing a client of a broker that is gone
                log.debug("closing a Kafka client: %r", exc)

    async def _open_clients(self, max_records: int, listener: ConsumerRebalanceListener) -> ConsumerLike:
        """This session's transactional producer, and a consumer of the processor's inputs
        (the caller closes both with _close_clients, also when starting them failed)."""
        settings = self.settings
        self.producer = self.clients.producer(transactional_id=self.transactional_id)
        self.consumer = self.clients.consumer(group_id=self.group_id, max_poll_records=max_records)
        await self.producer.start()
        self.consumer.subscribe([settings.topic(t) for t in self.processor.inputs], listener=listener)
        await self.consumer.start()
        return self.consumer

    async def _session(self, max_records: int) -> None:
        try:
            consumer = await self._open_clients(max_records, _Rebalance(self))
            log.info("%s started (group %s)", self.processor.name, self.group_id)
            ticking: Ticking | None = self.processor if hasattr(self.processor, "tick") else None  # type: ignore[assignment]
            loop = asyncio.get_running_loop()
            next_tick = loop.time()
            while not self._stopping.is_set():
                if self.to_restore:
                    await self._restore()
                wait_ms = 200 if ticking is None else max(1, int(min(0.2, ticking.tick_seconds) * 1000))
                batches = await consumer.getmany(timeout_ms=wait_ms, max_records=max_records)
                if batches:
                    self.idle.clear()
                    try:
                        await self._process(batches)
                    finally:
                        self.idle.set()
                if ticking is not None and loop.time() >= next_tick and self.held:
                    self.idle.clear()
                    try:
                        await self._tick(ticking)
                    finally:
                        self.idle.set()
                    next_tick = loop.time() + ticking.tick_seconds
        finally:
            await self._close_clients()

    async def _process(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.producer is not None and self.consumer is not None
        if self.processor.state_topic is not None:
            # aiokafka starts fetching a newly assigned partition before the
            # assignment callback has restored its state. Records handled
            # against an empty store would be lost (their offsets commit), so
            # put them back until the partition's restore is done.
            early = [tp for tp in batches if tp.partition not in self.held]
            for tp in early:
                self.consumer.seek(tp, batches[tp][0].offset)
            batches = {tp: records for tp, records in batches.items() if tp not in early}
            if not batches:
                await asyncio.sleep(0.05)
                return
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        outputs: list[Output] = []
        good: list[Incoming] = []
        # A processor may say from the headers alone which records it would only
        # ignore (processors/executor.py: its own echoes); those are not decoded.
        wants = getattr(self.processor, "wants", None)
        for records in batches.values():
            for record in records:
                if wants is not None and record.headers and not wants(record.headers):
                    continue
                try:
                    envelope, data = self._decode(record)
                except PoisonRecord as exc:
                    log.warning("dead-lettering %s@%d: %s", record.topic, record.offset, exc.message)
                    outputs.append(dead_letter(record, reason=exc.message, consumer=self.processor.name))
                    continue
                good.append(Incoming(record, envelope, data))
        try:
            outputs.extend(await self.processor.handle(good, self.store))
            if self.processor.state_topic is not None:
                outputs.extend(self.store.changelog(self.processor.state_topic))
            producer = self.producer

            async def write() -> None:
                for out in outputs:
                    await send_output(producer, self.settings, out)
                await producer.send_offsets_to_transaction(offsets, self.group_id)

            await bounded_transaction(producer, write, self.settings.kafka_transaction_deadline_seconds)
        except BaseException:
            self.store.discard()
            # Read the same batch again next time round.
            for tp, records in batches.items():
                self.consumer.seek(tp, records[0].offset)
            raise
        self.store.commit()
        self._forget_unheld({tp.partition for tp in batches})

    def _decode(self, record: ConsumerRecord) -> tuple[Envelope, RecordData]:
        headers = record.headers or ()
        limit = self._limit(record.topic)
        if record.topic == self.settings.topic(EVENTS):
            # Producers write their own plain CloudEvents there too (schemas/cloudevents.py);
            # the broker's timestamp stands in for an event without `time`.
            received = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            return decode_event(record.value, headers, max_bytes=limit, received=received)
        return decode_record(record.value, headers, max_bytes=limit)

    def _limit(self, topic: str) -> int:
        """Outside producers write events, bounded by FLUXO_MAX_EVENT_BYTES; records Fluxo
        writes itself may be larger (an execution carries its event and its workflow)."""
        if topic == self.settings.topic(EVENTS):
            return self.settings.max_event_bytes
        return self.settings.max_record_bytes

    async def _tick(self, ticking: Ticking) -> None:
        assert self.producer is not None
        partitions = set(self.held)
        try:
            outputs = await ticking.tick(self.store, partitions)
            if not outputs and not self.store.mark():
                return
            if self.processor.state_topic is not None:
                outputs.extend(self.store.changelog(self.processor.state_topic))
            producer = self.producer

            async def write() -> None:
                for out in outputs:
                    await send_output(producer, self.settings, out)

            await bounded_transaction(producer, write, self.settings.kafka_transaction_deadline_seconds)
        except BaseException:
            self.store.discard()
            raise
        self.store.commit()
        self._forget_unheld(partitions)

    def _forget_unheld(self, partitions: set[int]) -> None:
        """Drop the state of those of `partitions` revoked while a transaction ran.

        The revocation (aiokafka calls the listener from its own task, at any await) dropped
        their state, and the commit put back what the transaction wrote of it: state of a
        partition another instance now owns, which a later restore would merge into rather
        than replace. One assigned back is read again from the changelog, this commit in it.
        """
        self.store.drop_partitions(partitions - self.held)


def per_record(
    batch: list[Incoming],
    store: StateStore,
    name: str,
    handler: Any,
) -> list[Output]:
    """Run a synchronous per-record handler; a record that makes it raise is dead-lettered.

    A bug triggered by one record must not become a crash loop that stalls
    the whole partition, and its half-made state changes are rolled back.
    """
    outputs: list[Output] = []
    for item in batch:
        mark = store.mark()
        try:
            outputs.extend(handler(item, store))
        except Exception as exc:
            store.rollback_to(mark)
            log.exception("%s failed on %s@%d", name, item.record.topic, item.record.offset)
            outputs.append(
                dead_letter(item.record, reason=f"processing failed: {exc!r}", consumer=name)
            )
    return outputs
