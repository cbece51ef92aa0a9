"""Processor state: per-partition key/value tables backed by compacted changelog topics.

The changelog's values carry their state kind and version: the topic's codec
(`TopicSpec.state`, schemas/state_versions.py) writes them and reads them
back, upcasting older ones, so a processor only ever holds current shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition

from infra.kafka_io import make_consumer
from infra.settings import Settings
from processors.streams.clients import ConsumerLike
from schemas.outputs import Output
from schemas.state_versions import StateCodec
from schemas.topics import TopicSpec


def state_codec(topic: TopicSpec) -> StateCodec:
    if topic.state is None:
        raise ValueError(f"{topic.name} is not a state changelog: it names no state codec")
    return topic.state


class StateStore:
    """Per-partition key/value state, backed by a compacted changelog topic.

    Writes are buffered until the batch's transaction commits, so an aborted
    batch leaves the in-memory state exactly as the changelog has it.
    """

    def __init__(self) -> None:
        self._data: dict[int, dict[str, Any]] = {}
        self._pending: dict[tuple[int, str], Any | None] = {}

    def get(self, partition: int, key: str) -> Any | None:
        pending_key = (partition, key)
        if pending_key in self._pending:
            return self._pending[pending_key]
        return self._data.get(partition, {}).get(key)

    def put(self, partition: int, key: str, value: Any | None) -> None:
        self._pending[(partition, key)] = value

    def mark(self) -> dict[tuple[int, str], Any | None]:
        return dict(self._pending)

    def rollback_to(self, mark: dict[tuple[int, str], Any | None]) -> None:
        self._pending = mark

    def changelog(self, topic: TopicSpec) -> list[Output]:
        codec = state_codec(topic)
        return [
            Output(
                topic,
                key,
                None if value is None else codec.encode(key, value),
                headers=[("content-type", b"application/json")],
                partition=partition,
            )
            for (partition, key), value in self._pending.items()
        ]

    def commit(self) -> None:
        for (partition, key), value in self._pending.items():
            bucket = self._data.setdefault(partition, {})
            if value is None:
                bucket.pop(key, None)
            else:
                bucket[key] = value
        self._pending = {}

    def discard(self) -> None:
        self._pending = {}

    def load(self, partition: int, key: str, value: Any | None) -> None:
        bucket = self._data.setdefault(partition, {})
        if value is None:
            bucket.pop(key, None)
        else:
            bucket[key] = value

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._data.pop(partition, None)

    def items(self) -> Iterable[tuple[int, str, Any]]:
        """Committed entries of the partitions this instance holds."""
        for partition, bucket in list(self._data.items()):
            for key, value in list(bucket.items()):
                yield partition, key, value

    def size(self) -> int:
        return sum(len(bucket) for bucket in self._data.values())


async def restore_state(
    settings: Settings, topic: TopicSpec, partitions: set[int], store: StateStore,
    *, consumer: ConsumerLike | None = None,
) -> int:
    """Rebuild the store's partitions from the changelog, as current state. Returns records read.

    A value of an older state version is upcast on the way in; one this
    process cannot read (a newer version) raises StateVersionError.
    `consumer`: a new, not started consumer without a group (the runner's clients give it);
    by default an aiokafka one.
    """
    if not partitions:
        return 0
    codec = state_codec(topic)
    consumer = make_consumer(settings) if consumer is None else consumer
    tps = [TopicPartition(settings.topic(topic), p) for p in partitions]
    consumer.assign(tps)
    await consumer.start()
    read = 0
    try:
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    key = record.key.decode()
                    store.load(tp.partition, key, None if record.value is None else codec.decode(key, record.value))
                    read += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return read
