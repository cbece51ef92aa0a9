"""A runner for processors whose records take long and unequal times (the node worker).

The batch runner (processors/runtime.py) commits a batch when its slowest record is done,
so one work order to a hanging target held back every healthy one fetched with it, up to
the hanging call's timeout (measured by tests/faults/test_slow_targets.py: healthy
executions' p95 went from well under a second to ~10 s). Here each record runs as its own
task, across batches, and results are written as they finish. The consumer offset of a
partition only moves up to its oldest record still running (its low watermark), in the
same transaction as the results, so a crash never skips an unfinished record; it may run
again a record whose result was already written (same idempotency key towards the
outside, same deterministic result id, which the executor ignores as a duplicate).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.structs import ConsumerRecord

from infra.kafka_io import send_output
from infra.settings import Settings
from processors.streams.clients import Clients
from processors.streams.dead_letter import dead_letter
from processors.streams.runner import Incoming, ProcessorRunner, bounded_transaction
from schemas.codec import decode
from schemas.errors import PoisonRecord
from schemas.outputs import Output
from schemas.topics import TopicSpec

log = logging.getLogger("fluxo.processor")

# How often finished results are written (one transaction each), at most.
FLUSH_SECONDS = 0.02


class RecordProcessor(Protocol):
    name: str
    inputs: tuple[TopicSpec, ...]
    # Records running at once, waiting ones included; past it, fetching pauses.
    max_in_flight: int

    async def start(self, settings: Settings) -> None: ...

    async def stop(self) -> None: ...

    async def prepare(self) -> None:
        """Before the records of a fetch start (e.g. catch up with the definitions)."""

    async def one(self, item: Incoming) -> Output | None: ...


class _Partitions(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: PipelinedRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Another instance takes these over from their committed offset and runs
        # what was still running here again; our late results would only be duplicates.
        for tp in revoked:
            for task in self.runner.running.pop(tp, {}).values():
                task.cancel()
            self.runner.fetched.pop(tp, None)
            self.runner.committed.pop(tp, None)
        self.runner.revoked |= set(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


class PipelinedRunner(ProcessorRunner):
    def __init__(
        self, settings: Settings, processor: RecordProcessor, *, instance: str = "0", clients: Clients | None = None
    ) -> None:
        super().__init__(settings, processor, instance=instance, clients=clients)  # type: ignore[arg-type]
        self.records = processor
        self.running: dict[TopicPartition, dict[int, asyncio.Task[Output | None]]] = {}
        self.fetched: dict[TopicPartition, int] = {}  # next offset after the last record fetched
        self.committed: dict[TopicPartition, int] = {}
        self.ready: list[Output] = []  # dead letters, written with the next flush
        self.revoked: set[TopicPartition] = set()  # since the last fetch returned

    def in_flight(self) -> int:
        return sum(len(tasks) for tasks in self.running.values())

    def _reset(self) -> None:
        super()._reset()
        for tasks in self.running.values():
            for task in tasks.values():
                task.cancel()
        self.running, self.fetched, self.committed, self.ready = {}, {}, {}, []

    async def _session(self, max_records: int) -> None:
        try:
            consumer = await self._open_clients(max_records, _Partitions(self))
            log.info("%s started, pipelined (group %s)", self.records.name, self.group_id)
            while not self._stopping.is_set():
                room = self.records.max_in_flight - self.in_flight()
                if room > 0:
                    batches = await consumer.getmany(timeout_ms=int(FLUSH_SECONDS * 1000), max_records=min(room, max_records))
                    self.revoked = set()
                    if batches:
                        await self.records.prepare()
                        # aiokafka calls the listener from its own task: a partition revoked
                        # while prepare ran is another instance's, which runs these records
                        # from the committed offset (started here, they would run twice, and
                        # our offset commits could move its offset past records it still
                        # runs); assigned back, it is fetched again from there.
                        self._launch({tp: records for tp, records in batches.items() if tp not in self.revoked})
                else:
                    busy = [t for tasks in self.running.values() for t in tasks.values()]
                    await asyncio.wait(busy, timeout=FLUSH_SECONDS, return_when=asyncio.FIRST_COMPLETED)
                await self._flush()
        finally:
            for tasks in self.running.values():
                for task in tasks.values():
                    task.cancel()
            await self._close_clients()

    def _launch(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, records in batches.items():
            tasks = self.running.setdefault(tp, {})
            for record in records:
                try:
                    envelope, data = decode(record.value, record.headers or (), max_bytes=self._limit(record.topic))
                except PoisonRecord as exc:
                    log.warning("dead-lettering %s@%d: %s", record.topic, record.offset, exc.message)
                    self.ready.append(dead_letter(record, reason=exc.message, consumer=self.records.name))
                    continue
                tasks[record.offset] = asyncio.create_task(self.records.one(Incoming(record, envelope, data)))
            self.fetched[tp] = records[-1].offset + 1

    async def _flush(self) -> None:
        assert self.producer is not None
        outputs, finished = list(self.ready), []
        for tp, tasks in self.running.items():
            for offset, task in tasks.items():
                if task.done():
                    finished.append((tp, offset))
                    out = task.result()  # a crash of the processor's code is a crash of the process
                    if out is not None:
                        outputs.append(out)
        done = set(finished)
        unfinished = {tp: [o for o in tasks if (tp, o) not in done] for tp, tasks in self.running.items()}
        offsets = watermarks(self.fetched, unfinished, self.committed)
        if not outputs and not offsets:
            return
        producer = self.producer

        async def write() -> None:
            for out in outputs:
                await send_output(producer, self.settings, out)
            if offsets:
                await producer.send_offsets_to_transaction(offsets, self.group_id)

        await bounded_transaction(producer, write, self.settings.kafka_transaction_deadline_seconds)
        self.ready.clear()
        for tp, offset in finished:
            self.running.get(tp, {}).pop(offset, None)
        self.committed.update(offsets)


def watermarks(
    fetched: dict[TopicPartition, int], unfinished: dict[TopicPartition, list[int]], committed: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """The offsets to commit: per partition, its oldest unfinished record, or past the last
    one fetched when none is left; only those that moved since the last commit."""
    offsets: dict[TopicPartition, int] = {}
    for tp, next_offset in fetched.items():
        waiting = unfinished.get(tp)
        watermark = min(waiting) if waiting else next_offset
        if watermark > committed.get(tp, -1):
            offsets[tp] = watermark
    return offsets
