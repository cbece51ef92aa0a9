"""An in-memory Kafka, just enough of it for the stream runners: a test helper.

It implements what processors/streams/runner.py, pipelined.py and state.py's
`restore_state` call (the protocols of processors/streams/clients.py), the way aiokafka
and the broker behave, so that the runners' contract suite (test_runner_contract.py)
can fail for the reasons a real deployment would:

- Topics have partitions and offsets. A transaction's records land in the log only when
  it ends: committed ones visible, aborted ones hidden from the (read_committed)
  consumers, and each transaction leaves a marker that takes an offset, as Kafka's
  control records do, so offsets have gaps as on a real broker.
- A transactional producer: sends and `send_offsets_to_transaction` take effect on commit
  and vanish on abort; a new producer with the same transactional id fences the old one
  and aborts its open transaction. `MemoryBroker.fail` makes a chosen step fail (a send,
  the offsets, the commit), hang, or commit and still report an error.
- A group consumer: subscribe, assignment by the broker, eager rebalances (every member's
  partitions revoked, then the new ones assigned, through its listener), positions from
  the group's committed offsets after each assignment, getmany/seek/position/end_offsets.
  `MemoryBroker.rebalance` moves partitions while the runner runs, as another instance
  joining or leaving the group would; `MemoryBroker.hold_reads` keeps a topic's records
  from the consumers for a while, as a slow fetch would (e.g. to rebalance mid-restore).
- A consumer without a group (the changelog restore): assign, seek_to_beginning,
  end_offsets, position.

Not modelled: compaction, retention, several brokers, consumer lag, timeouts of
sessions or transactions.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    ConsumerStoppedError,
    IllegalOperation,
    IllegalStateError,
    KafkaConnectionError,
    ProducerFenced,
    UnknownTopicOrPartitionError,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord, RecordMetadata

Step = Literal["send", "offsets", "commit"]


@dataclass
class _Entry:
    """One offset of a partition's log: a record, or a transaction marker (record None)."""

    record: ConsumerRecord | None
    visible: bool  # False for markers and aborted records: read_committed consumers skip them


@dataclass(frozen=True)
class Transaction:
    """A transaction as the broker ended it: what it wrote, and whether that counts."""

    transactional_id: str
    committed: bool
    records: tuple[ConsumerRecord, ...]
    offsets: dict[str, dict[TopicPartition, int]]  # consumer offsets, by group


@dataclass
class Fault:
    """A step of a coming transaction that goes wrong (see MemoryBroker.fail)."""

    at: Step
    error: Callable[[], BaseException]
    topic: str | None  # "send": only a send to this topic
    hang: bool  # never returns (the runner's deadline must give up on it)
    landed: bool  # "commit": the commit happens, but the producer gets the error
    times: int
    fired: int = 0


@dataclass
class Hold:
    """Reads of a topic held back (see MemoryBroker.hold_reads)."""

    topic: str
    tried: asyncio.Event = field(default_factory=asyncio.Event)  # a consumer wanted its records


@dataclass
class _Open:
    """A transaction in progress: nothing of it is in the logs yet."""

    epoch: int
    sends: list[tuple[TopicPartition, bytes | None, bytes | None, list[tuple[str, bytes]], asyncio.Future[Any]]] = (
        field(default_factory=list)
    )
    offsets: dict[str, dict[TopicPartition, int]] = field(default_factory=dict)


@dataclass
class _Group:
    members: list[MemoryConsumer] = field(default_factory=list)
    # Partition numbers this group's members here may have; the others belong to an
    # instance elsewhere (None: all of them).
    owned: set[int] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class MemoryBroker:
    def __init__(self) -> None:
        self.partitions: dict[str, int] = {}
        self._logs: dict[TopicPartition, list[_Entry]] = {}
        self._committed: dict[str, dict[TopicPartition, int]] = {}
        self.transactions: list[Transaction] = []
        self._open: dict[str, _Open] = {}
        self._epochs: dict[str, int] = {}
        self._groups: dict[str, _Group] = {}
        self._faults: list[Fault] = []
        self._holds: dict[str, Hold] = {}
        self._changed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    # --- set-up and inspection, for tests -------------------------------------------

    def create_topic(self, topic: str, partitions: int) -> None:
        self.partitions[topic] = partitions
        for p in range(partitions):
            self._logs.setdefault(TopicPartition(topic, p), [])

    def produce(
        self, topic: str, value: bytes | None, *, key: bytes | None = None, partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> ConsumerRecord:
        """A plain (non-transactional) write, visible at once."""
        tp = TopicPartition(topic, self._partition_for(topic, key, partition))
        record = self._append(tp, key, value, list(headers), visible=True)
        self._notify()
        return record

    def read(self, topic: str) -> list[ConsumerRecord]:
        """What a read_committed consumer of the whole topic would get, partition by partition."""
        return [
            entry.record
            for p in range(self.partitions[topic])
            for entry in self._logs[TopicPartition(topic, p)]
            if entry.visible and entry.record is not None
        ]

    def committed(self, group_id: str, tp: TopicPartition) -> int | None:
        return self._committed.get(group_id, {}).get(tp)

    def end_offset(self, tp: TopicPartition) -> int:
        return len(self._logs[tp])

    def fail(
        self, at: Step, *, error: Callable[[], BaseException] | None = None, topic: str | None = None,
        hang: bool = False, landed: bool = False, times: int = 1,
    ) -> Fault:
        """The next `times` transactions reaching step `at` fail there: the step raises `error`
        (by default a lost connection), or hangs with `hang`; a failed commit aborts the
        transaction unless `landed`, where it commits and the producer hears the error anyway."""
        fault = Fault(
            at, error or (lambda: KafkaConnectionError("the memory broker dropped the connection")),
            topic, hang, landed, times,
        )
        self._faults.append(fault)
        return fault

    def hold_reads(self, topic: str) -> Hold:
        """Consumers get none of `topic`'s records until `release_reads`."""
        self._holds[topic] = Hold(topic)
        return self._holds[topic]

    def release_reads(self, topic: str) -> None:
        del self._holds[topic]
        self._notify()

    async def rebalance(self, group_id: str, owned: set[int] | None = None) -> None:
        """The group rebalances, as when another instance joins (`owned`: the partitions left
        to the members here) or leaves (None: all of them again)."""
        group = self._groups.setdefault(group_id, _Group())
        group.owned = owned
        await self._rebalance(group_id)

    # --- what the clients use -------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, seconds: float) -> None:
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), seconds)
        except TimeoutError:
            pass

    def _partition_for(self, topic: str, key: bytes | None, partition: int | None) -> int:
        if topic not in self.partitions:
            raise UnknownTopicOrPartitionError(topic)  # as aiokafka's wait for the topic's metadata
        count = self.partitions[topic]
        if partition is not None:
            if not 0 <= partition < count:
                raise ValueError(f"{topic} has no partition {partition}")
            return partition
        return int(DefaultPartitioner()(key, list(range(count)), list(range(count))))

    def _append(
        self, tp: TopicPartition, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]],
        *, visible: bool,
    ) -> ConsumerRecord:
        log = self._logs[tp]
        record = ConsumerRecord(
            topic=tp.topic, partition=tp.partition, offset=len(log), timestamp=int(time.time() * 1000),
            timestamp_type=0, key=key, value=value, checksum=None,
            serialized_key_size=len(key or b""), serialized_value_size=len(value or b""), headers=tuple(headers),
        )
        log.append(_Entry(record, visible))
        return record

    def _fault(self, at: Step, topic: str | None = None) -> Fault | None:
        for fault in self._faults:
            if fault.at == at and fault.fired < fault.times and (fault.topic is None or fault.topic == topic):
                fault.fired += 1
                return fault
        return None

    def _register_producer(self, transactional_id: str) -> int:
        """InitProducerId: a new epoch fences the previous producer; its open transaction aborts."""
        epoch = self._epochs.get(transactional_id, -1) + 1
        self._epochs[transactional_id] = epoch
        if transactional_id in self._open:
            self._end(transactional_id, commit=False)
        return epoch

    def _check_epoch(self, transactional_id: str, epoch: int) -> None:
        if self._epochs.get(transactional_id) != epoch:
            raise ProducerFenced()

    def _end(self, transactional_id: str, *, commit: bool) -> None:
        txn = self._open.pop(transactional_id)
        written: list[ConsumerRecord] = []
        touched: list[TopicPartition] = []
        for tp, key, value, headers, future in txn.sends:
            record = self._append(tp, key, value, headers, visible=commit)
            written.append(record)
            if tp not in touched:
                touched.append(tp)
            if commit:
                future.set_result(RecordMetadata(tp.topic, tp.partition, tp, record.offset, record.timestamp, 0, 0))
            else:
                future.cancel()
        for tp in touched:
            self._logs[tp].append(_Entry(None, visible=False))
        if commit:
            for group_id, offsets in txn.offsets.items():
                self._committed.setdefault(group_id, {}).update(offsets)
        self.transactions.append(Transaction(transactional_id, commit, tuple(written), txn.offsets))
        self._notify()

    async def _rebalance(self, group_id: str) -> None:
        """An eager rebalance: every member's partitions revoked, then the new ones assigned."""
        group = self._groups.setdefault(group_id, _Group())
        async with group.lock:
            members = [m for m in group.members if not m._closed]
            for member in members:
                await member._revoke()
            topics = sorted({t for m in members for t in m._topics if t in self.partitions})
            tps = [
                TopicPartition(t, p) for t in topics for p in range(self.partitions[t])
                if group.owned is None or p in group.owned
            ]
            shares: dict[int, set[TopicPartition]] = {id(m): set() for m in members}
            for tp, member in zip(tps, itertools.cycle(members) if members else (), strict=False):
                shares[id(member)].add(tp)
            for member in members:
                await member._assign(shares[id(member)])
        self._notify()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class MemoryProducer:
    """A transactional producer (the runners' only kind)."""

    def __init__(self, broker: MemoryBroker, transactional_id: str) -> None:
        self.broker = broker
        self.transactional_id = transactional_id
        self._epoch: int | None = None
        self._stopped = False

    async def start(self) -> None:
        self._epoch = self.broker._register_producer(self.transactional_id)

    async def stop(self) -> None:
        # An open transaction stays open until a new producer with the same id fences it.
        self._stopped = True

    def _check(self) -> int:
        if self._epoch is None or self._stopped:
            raise IllegalOperation("the producer is not started")
        self.broker._check_epoch(self.transactional_id, self._epoch)
        return self._epoch

    def _in_transaction(self) -> _Open:
        epoch = self._check()
        txn = self.broker._open.get(self.transactional_id)
        if txn is None or txn.epoch != epoch:
            raise IllegalOperation("Not in the middle of a transaction")
        return txn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        epoch = self._check()
        if self.transactional_id in self.broker._open:
            raise IllegalOperation("a transaction is already in progress")
        self.broker._open[self.transactional_id] = _Open(epoch)
        try:
            yield
        except BaseException:
            # aiokafka's TransactionContext aborts on any exception, a cancellation too.
            if self._owns_open(epoch):
                self.broker._end(self.transactional_id, commit=False)
            raise
        await self._commit(epoch)

    def _owns_open(self, epoch: int) -> bool:
        txn = self.broker._open.get(self.transactional_id)
        return txn is not None and txn.epoch == epoch

    async def _commit(self, epoch: int) -> None:
        self.broker._check_epoch(self.transactional_id, epoch)
        fault = self.broker._fault("commit")
        if fault is not None:
            if fault.hang:
                # Cancelled here, the transaction stays open, as a commit whose answer never
                # came leaves it, until the next producer with this id fences and aborts it.
                await asyncio.Event().wait()
            self.broker._end(self.transactional_id, commit=fault.landed)
            raise fault.error()
        self.broker._end(self.transactional_id, commit=True)

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        assert not (value is None and key is None), "Need at least one: key or value"
        txn = self._in_transaction()
        fault = self.broker._fault("send", topic)
        if fault is not None:
            if fault.hang:
                await asyncio.Event().wait()
            raise fault.error()
        tp = TopicPartition(topic, self.broker._partition_for(topic, key, partition))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        txn.sends.append((tp, key, value, list(headers or []), future))
        return future

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        txn = self._in_transaction()
        if not offsets or not isinstance(offsets, dict):
            raise ValueError(offsets)
        if not group_id or not isinstance(group_id, str):
            raise ValueError(group_id)
        fault = self.broker._fault("offsets")
        if fault is not None:
            if fault.hang:
                await asyncio.Event().wait()
            raise fault.error()
        # TxnOffsetCommit v0 (aiokafka's) carries no group generation: the broker takes
        # the offsets whoever holds the partitions now.
        txn.offsets.setdefault(group_id, {}).update(offsets)


class MemoryConsumer:
    """A read_committed consumer, without auto-commit; in a group if given one."""

    def __init__(self, broker: MemoryBroker, *, group_id: str | None = None, max_poll_records: int | None = None) -> None:
        self.broker = broker
        self.group_id = group_id
        self.max_poll_records = max_poll_records
        self._topics: list[str] = []
        self._listener: ConsumerRebalanceListener | None = None
        self.assignment: set[TopicPartition] = set()
        # Each revocation: the partitions, and how many transactions had ended when the
        # listener returned (the moment the group hands them on).
        self.revocations: list[tuple[set[TopicPartition], int]] = []
        self._positions: dict[TopicPartition, int] = {}
        self._started = False
        self._closed = False

    def subscribe(self, topics: Sequence[str], *, listener: ConsumerRebalanceListener) -> None:
        if self.group_id is None:
            raise ValueError("subscribing needs a group id")
        self._topics, self._listener = list(topics), listener

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self.assignment = set(partitions)
        self._positions = {}

    async def start(self) -> None:
        assert not self._started, "Did you call `start` twice?"
        self._started = True
        if self._topics:
            assert self.group_id is not None
            self.broker._groups.setdefault(self.group_id, _Group()).members.append(self)
            # aiokafka's start waits for the group's first assignment too.
            await self.broker._rebalance(self.group_id)

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._topics and self.group_id is not None:
            # Leaving the group (no callback on this member); the others rebalance.
            group = self.broker._groups[self.group_id]
            group.members.remove(self)
            if group.members:
                self.broker._spawn(self.broker._rebalance(self.group_id))

    async def _revoke(self) -> None:
        revoked, self.assignment, self._positions = set(self.assignment), set(), {}
        if self._listener is not None:
            await self._listener.on_partitions_revoked(revoked)
        self.revocations.append((revoked, len(self.broker.transactions)))

    async def _assign(self, assigned: set[TopicPartition]) -> None:
        self.assignment, self._positions = set(assigned), {}
        if self._listener is not None:
            await self._listener.on_partitions_assigned(set(assigned))

    def _assigned(self, tp: TopicPartition) -> None:
        if tp not in self.assignment:
            raise IllegalStateError(f"No current assignment for partition {tp}")

    def _position(self, tp: TopicPartition) -> int:
        """The fetch position; after an assignment, the group's committed offset (else the
        earliest, auto_offset_reset)."""
        if tp not in self._positions:
            committed = self.broker.committed(self.group_id, tp) if self.group_id else None
            self._positions[tp] = 0 if committed is None else committed
        return self._positions[tp]

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        if self._closed:
            raise ConsumerStoppedError()
        if max_records is not None and max_records < 1:
            raise ValueError("`max_records` must be a positive Integer")
        limit = max_records or self.max_poll_records
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        while True:
            batches = self._fetch(partitions, limit)
            left = deadline - loop.time()
            if batches or left <= 0:
                return batches
            await self.broker._wait_change(left)
            if self._closed:
                raise ConsumerStoppedError()

    def _fetch(
        self, partitions: tuple[TopicPartition, ...], limit: int | None
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        wanted = sorted(set(partitions) & self.assignment if partitions else self.assignment)
        batches: dict[TopicPartition, list[ConsumerRecord]] = {}
        taken = 0
        for tp in wanted:
            hold = self.broker._holds.get(tp.topic)
            if hold is not None:
                hold.tried.set()
                continue
            log = self.broker._logs[tp]
            position = self._position(tp)
            while position < len(log) and (limit is None or taken < limit):
                entry = log[position]
                position += 1
                if entry.visible and entry.record is not None:
                    batches.setdefault(tp, []).append(entry.record)
                    taken += 1
            # Past what was read, markers and aborted records included (the fetcher skips them).
            while position < len(log) and not log[position].visible:
                position += 1
            self._positions[tp] = position
        return batches

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if not isinstance(offset, int) or offset < 0:
            raise ValueError("Offset must be a positive integer")
        self._assigned(partition)
        self._positions[partition] = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> bool:
        for tp in partitions or tuple(self.assignment):
            self._assigned(tp)
            self._positions[tp] = 0
        return True

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        # read_committed: the last stable offset; no open transaction is in a log here.
        return {tp: self.broker.end_offset(tp) for tp in partitions}

    async def position(self, partition: TopicPartition) -> int:
        self._assigned(partition)
        return self._position(partition)


class MemoryClients:
    """The runners' `Clients` (processors/streams/clients.py) on a MemoryBroker; keeps every
    client it made, so a test can tell one session's from the next."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self.producers: list[MemoryProducer] = []
        self.consumers: list[MemoryConsumer] = []

    def producer(self, *, transactional_id: str) -> MemoryProducer:
        self.producers.append(MemoryProducer(self.broker, transactional_id))
        return self.producers[-1]

    def consumer(self, *, group_id: str, max_poll_records: int) -> MemoryConsumer:
        self.consumers.append(MemoryConsumer(self.broker, group_id=group_id, max_poll_records=max_poll_records))
        return self.consumers[-1]

    def restore_consumer(self) -> MemoryConsumer:
        return MemoryConsumer(self.broker)
