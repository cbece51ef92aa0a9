"""The Kafka clients a stream runner uses, as the few calls it makes on them.

A runner gets its clients from a `Clients` factory: `KafkaClients` (aiokafka, configured by
infra/kafka_io.py) in production; a test can give it an in-memory broker's instead
(tests/unit/processors/streams/memory_broker.py) and run both runners against one contract
(tests/unit/processors/streams/test_runner_contract.py). The protocols name only what the
runners and `restore_state` call, so a stand-in implements exactly that and no more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.structs import ConsumerRecord

from infra.kafka_io import make_consumer, make_producer
from infra.settings import Settings


class ConsumerLike(Protocol):
    """An AIOKafkaConsumer, read_committed, with auto-commit off."""

    def subscribe(self, topics: Sequence[str], *, listener: ConsumerRebalanceListener) -> None: ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord]]: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def seek_to_beginning(self, *partitions: TopicPartition) -> bool: ...

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...

    async def position(self, partition: TopicPartition) -> int: ...


class ProducerLike(Protocol):
    """A transactional AIOKafkaProducer."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    # aiokafka returns a future of the record's metadata; the runners never await it
    # (the transaction's commit flushes every send).
    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]: ...

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None: ...


class Clients(Protocol):
    """Where a runner's clients come from: each call makes a new, not yet started client."""

    def producer(self, *, transactional_id: str) -> ProducerLike: ...

    def consumer(self, *, group_id: str, max_poll_records: int) -> ConsumerLike:
        """A group member for the processor's inputs (the runner subscribes it)."""

    def restore_consumer(self) -> ConsumerLike:
        """A consumer without a group, for reading a state changelog from its beginning."""


class KafkaClients:
    """The real ones: aiokafka clients as infra/kafka_io.py configures them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def producer(self, *, transactional_id: str) -> ProducerLike:
        producer: ProducerLike = make_producer(self.settings, transactional_id=transactional_id)
        return producer

    def consumer(self, *, group_id: str, max_poll_records: int) -> ConsumerLike:
        # A processor's inputs and its state changelog are co-partitioned: the range
        # assignor gives one member partition p of every input (same partition counts),
        # where round robin would split p of two inputs (the matcher reads the events and
        # the trigger log) between members, and the runner keeps state by partition number.
        # Round robin stays second, so a group with members of before joins them.
        consumer: ConsumerLike = make_consumer(
            self.settings, group_id=group_id, max_poll_records=max_poll_records,
            partition_assignment_strategy=(RangePartitionAssignor, RoundRobinPartitionAssignor),
        )
        return consumer

    def restore_consumer(self) -> ConsumerLike:
        consumer: ConsumerLike = make_consumer(self.settings)
        return consumer
