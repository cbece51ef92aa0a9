"""One contract for both stream runners, run over an in-memory broker (memory_broker.py).

The batch runner (processors/streams/runner.py) and the pipelined one (pipelined.py) make
the same promises to the processors they run, so the same tests hold them to them: the
`style` fixture gives each test the one or the other with a tiny processor of its kind,
the way pyeventsourcing runs one abstract recorder test case against every backend. A
property only one runner has says so in its name, and the other runner skips it with
the reason.

Every test ends by checking the broker's history (`_assert_no_result_behind_an_offset`):
no transaction ever commits a partition's offset past a record whose result (its output,
or its dead letter) is not written by then.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from memory_broker import MemoryBroker, MemoryClients, Transaction

from infra.settings import Settings
from processors.streams import runner as runner_module
from processors.streams.pipelined import PipelinedRunner
from processors.streams.runner import Incoming, ProcessorRunner
from processors.streams.state import StateStore
from schemas.envelope import make_envelope
from schemas.outputs import Output
from schemas.records import EventIngested
from schemas.state_versions import StateCodec, StateKind
from schemas.topics import DEADLETTER, EVENTS, TopicSpec

PARTITIONS = 2
ECHOES = TopicSpec(
    "test.echoes.v1", key="the input's key", cleanup="delete",
    holds="one record per input record handled: which one, and the count kept for its key",
)
COUNT_STATE = StateCodec(StateKind("count"))
COUNTS = TopicSpec(
    "test.counts-state.v1", key="the input's key", cleanup="compact",
    holds="the batch processor's state: records seen per key", internal=True,
    state=COUNT_STATE,
)
SLOW = "slow"  # the event type of a record the processors hold until the test lets it go


class Gate:
    """Holds the records of type SLOW until opened; says which ones got there."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.ran: Counter[tuple[int, int]] = Counter()  # every record, each time it is handled
        self.entered: list[tuple[int, int]] = []
        self.cancelled: list[tuple[int, int]] = []
        # Cleared: the pipelined processor's `prepare` waits (a slow catch-up before a fetch).
        self.prepare_open = asyncio.Event()
        self.prepare_open.set()
        self.preparing = asyncio.Event()

    async def prepare(self) -> None:
        if not self.prepare_open.is_set():
            self.preparing.set()
            await self.prepare_open.wait()

    async def passage(self, item: Incoming) -> None:
        where = (item.record.partition, item.record.offset)
        self.ran[where] += 1
        if item.data.event_type != SLOW:  # type: ignore[attr-defined]
            return
        self.entered.append(where)
        try:
            await self.opened.wait()
        except asyncio.CancelledError:
            self.cancelled.append(where)
            raise


def _echo(item: Incoming, count: int | None = None) -> Output:
    body: dict[str, Any] = {"partition": item.record.partition, "offset": item.record.offset}
    if count is not None:
        body["count"] = count
    return Output(ECHOES, item.record.key.decode(), orjson.dumps(body))


class Counting:
    """A batch processor: counts records per key in its state, echoes each record with the count."""

    name = "contract"
    inputs = (EVENTS,)
    state_topic = COUNTS

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def start(self, settings: Settings) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]:
        outputs = []
        for item in batch:
            await self.gate.passage(item)
            partition, key = item.record.partition, item.record.key.decode()
            count = (store.get(partition, key) or 0) + 1
            store.put(partition, key, count)
            outputs.append(_echo(item, count))
        return outputs


class CountingTicks(Counting):
    """The batch processor, on the clock too: counts its ticks per partition in its state."""

    tick_seconds = 0.01

    def __init__(self, gate: Gate) -> None:
        super().__init__(gate)
        self.hold = asyncio.Event()  # cleared: a tick waits, its state changes made
        self.hold.set()
        self.waiting = asyncio.Event()

    async def tick(self, store: StateStore, partitions: set[int]) -> list[Output]:
        for partition in partitions:
            store.put(partition, "ticks", (store.get(partition, "ticks") or 0) + 1)
        if not self.hold.is_set():
            self.waiting.set()
            await self.hold.wait()
        return []

    def restored(self, store: StateStore, partitions: set[int]) -> None:
        return None


class Echoing:
    """A pipelined processor: echoes each record, each in its own task."""

    name = "contract"
    inputs = (EVENTS,)
    max_in_flight = 100

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def start(self, settings: Settings) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def prepare(self) -> None:
        await self.gate.prepare()

    async def one(self, item: Incoming) -> Output | None:
        await self.gate.passage(item)
        return _echo(item)


@dataclass(frozen=True)
class Style:
    """One runner with a processor of its kind: what the contract is run against."""

    name: str
    stateful: bool
    make: Callable[[Settings, MemoryClients, Gate], ProcessorRunner]

    def skip_unless(self, wanted: str, reason: str) -> None:
        if self.name != wanted:
            pytest.skip(reason)


BATCH = Style("batch", True, lambda s, c, g: ProcessorRunner(s, Counting(g), clients=c))
PIPELINED = Style("pipelined", False, lambda s, c, g: PipelinedRunner(s, Echoing(g), clients=c))
NO_STATE = "the pipelined runner keeps no state"


@pytest.fixture(params=[BATCH, PIPELINED], ids=lambda style: style.name)
def style(request: pytest.FixtureRequest) -> Style:
    return request.param  # type: ignore[no-any-return]


@dataclass
class Rig:
    """A runner of the given style on a fresh memory broker, and what a test asks of them."""

    style: Style
    settings: Settings
    broker: MemoryBroker
    clients: MemoryClients
    gate: Gate
    runner: ProcessorRunner
    task: asyncio.Task[None] | None = None
    sent: list[tuple[int, int]] = field(default_factory=list)

    @property
    def group(self) -> str:
        return self.runner.group_id

    def topic(self, spec: TopicSpec) -> str:
        return self.settings.topic(spec)

    def send(self, partition: int, key: str, event_type: str = "ok") -> int:
        envelope = make_envelope(EventIngested(event_type=event_type), source="test", workspace_id="w1")
        out = Output.of(EVENTS, key, envelope)
        record = self.broker.produce(
            self.topic(EVENTS), out.value, key=key.encode(), partition=partition, headers=out.headers
        )
        self.sent.append((partition, record.offset))
        return record.offset

    def send_poison(self, partition: int, key: str) -> int:
        record = self.broker.produce(self.topic(EVENTS), b"{not json", key=key.encode(), partition=partition)
        self.sent.append((partition, record.offset))
        return record.offset

    def start(self) -> None:
        self.task = asyncio.create_task(self.runner.run())

    def committed(self, partition: int) -> int | None:
        return self.broker.committed(self.group, TopicPartition(self.topic(EVENTS), partition))

    def echoes(self) -> list[tuple[int, int]]:
        return [_echoed(r.value) for r in self.broker.read(self.topic(ECHOES))]

    def counts(self) -> list[int]:
        return [orjson.loads(r.value)["count"] for r in self.broker.read(self.topic(ECHOES))]

    def dead_letters(self) -> list[tuple[int, int]]:
        return [_dead_lettered(r.value) for r in self.broker.read(self.topic(DEADLETTER))]

    def changelog(self) -> list[tuple[int, str, Any]]:
        return [
            (r.partition, r.key.decode(), None if r.value is None else COUNT_STATE.decode(r.key.decode(), r.value))
            for r in self.broker.read(self.topic(COUNTS))
        ]

    def aborted(self) -> list[Transaction]:
        return [t for t in self.broker.transactions if not t.committed]

    def state_partitions(self) -> set[int]:
        return {partition for partition, _, _ in self.runner.store.items()}

    def done(self) -> bool:
        """Every record sent has its result written and every partition's offset past it."""
        results = Counter(self.echoes() + self.dead_letters())
        ends = {p: max((o for q, o in self.sent if q == p), default=-1) + 1 for p, _ in self.sent}
        return all(results[r] >= 1 for r in self.sent) and all(
            (self.committed(p) or 0) >= end for p, end in ends.items()
        )


def _echoed(value: bytes | None) -> tuple[int, int]:
    body = orjson.loads(value or b"")
    return body["partition"], body["offset"]


def _dead_lettered(value: bytes | None) -> tuple[int, int]:
    data = orjson.loads(value or b"")["data"]
    return data["original_partition"], data["original_offset"]


@pytest.fixture
async def rig(style: Style) -> AsyncIterator[Rig]:
    settings = Settings(
        topic_prefix="contract.", partitions=PARTITIONS, kafka_transaction_deadline_seconds=0.5,
    )
    broker = MemoryBroker()
    for spec in (EVENTS, ECHOES, COUNTS, DEADLETTER):
        broker.create_topic(settings.topic(spec), PARTITIONS)
    clients, gate = MemoryClients(broker), Gate()
    rig = Rig(style, settings, broker, clients, gate, style.make(settings, clients, gate))
    yield rig
    gate.opened.set()
    if rig.task is not None:
        rig.runner.request_stop()
        await asyncio.wait_for(rig.task, 10)
        _assert_no_result_behind_an_offset(rig)


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    """Wait until `condition` holds, at most `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def _assert_no_result_behind_an_offset(rig: Rig) -> None:
    """Replays the broker's history: after each committed transaction, every input record
    below its partition's committed offset has its result (echo or dead letter) written."""
    inputs, echoes, letters = rig.topic(EVENTS), rig.topic(ECHOES), rig.topic(DEADLETTER)
    written: set[tuple[int, int]] = set()
    committed: dict[int, int] = {}
    for txn in rig.broker.transactions:
        if not txn.committed:
            continue
        for record in txn.records:
            if record.topic == echoes:
                written.add(_echoed(record.value))
            elif record.topic == letters:
                written.add(_dead_lettered(record.value))
        for tp, offset in txn.offsets.get(rig.group, {}).items():
            assert tp.topic == inputs
            committed[tp.partition] = offset
        missing = [(p, o) for p, o in rig.sent if o < committed.get(p, 0) and (p, o) not in written]
        assert not missing, f"offsets {committed} committed before the results of {missing}"


# --- (a) dead letters ------------------------------------------------------------------


async def test_a_poison_record_is_dead_lettered_inside_a_transaction_and_an_abort_leaves_none(rig: Rig) -> None:
    fault = rig.broker.fail("commit")  # the first transaction aborts
    rig.send(0, "a")
    poison = rig.send_poison(0, "b")
    rig.send(0, "c")
    rig.start()
    await eventually(rig.done, "every record handled")

    first = rig.broker.transactions[0]
    assert fault.fired == 1 and not first.committed
    assert any(r.topic == rig.topic(DEADLETTER) for r in first.records), "the dead letter was in the aborted one"
    assert rig.dead_letters() == [(0, poison)], "written once: the aborted one left nothing"
    assert sorted(rig.echoes()) == [(0, 0), (0, 2)]
    assert rig.committed(0) == 3


async def test_batch_runner_a_poison_records_dead_letter_commits_with_its_batchs_outputs_and_offsets(
    rig: Rig,
) -> None:
    rig.style.skip_unless(
        "batch", "the pipelined runner writes a dead letter with its next flush, whose offsets stop at the"
        " oldest record still running (the no-result-behind-an-offset check holds it to that)",
    )
    rig.send(0, "a")
    rig.send_poison(0, "b")
    rig.send(1, "c")
    rig.start()
    await eventually(rig.done, "every record handled")

    [txn] = [t for t in rig.broker.transactions if t.committed]
    topics = Counter(r.topic for r in txn.records)
    assert topics[rig.topic(DEADLETTER)] == 1 and topics[rig.topic(ECHOES)] == 2
    assert txn.offsets == {
        rig.group: {TopicPartition(rig.topic(EVENTS), 0): 2, TopicPartition(rig.topic(EVENTS), 1): 1}
    }


# --- (b) an aborted transaction commits nothing ---------------------------------------------


@pytest.mark.parametrize(
    "step, hang",
    [("send", False), ("offsets", False), ("commit", False), ("commit", True)],
    ids=["a-send-fails", "the-offsets-fail", "the-commit-fails", "the-commit-hangs-past-the-deadline"],
)
async def test_an_aborted_transaction_commits_nothing_and_its_records_run_again_once(
    rig: Rig, step: str, hang: bool
) -> None:
    fault = rig.broker.fail(step, hang=hang)  # type: ignore[arg-type]
    for n in range(3):
        rig.send(n % PARTITIONS, f"k{n}")
    rig.start()
    await eventually(lambda: fault.fired == 1, "the fault")
    # A hanging commit stays open until the next session's producer fences it.
    await eventually(lambda: bool(rig.aborted()), "the transaction's abort")
    assert rig.echoes() == [] and rig.changelog() == []
    # (The pipelined runner may have committed offset 0, its oldest record still running.)
    assert rig.committed(0) in (None, 0) and rig.committed(1) in (None, 0)

    await eventually(rig.done, "every record handled")
    assert sorted(rig.echoes()) == sorted(rig.sent), "each record's output once"
    assert len(rig.clients.producers) >= 2, "a new session after the failure"
    if rig.style.stateful:
        assert rig.gate.ran == Counter({r: 2 for r in rig.sent}), "the whole batch again"


async def test_batch_runner_an_aborted_transaction_changes_no_state(rig: Rig) -> None:
    rig.style.skip_unless("batch", NO_STATE)
    rig.broker.fail("commit")
    rig.send(0, "a")
    rig.send(0, "a")
    rig.start()
    await eventually(rig.done, "every record handled")
    # Counted from what committed only: the aborted batch's counts are in no store or changelog.
    assert sorted(rig.counts()) == [1, 2]
    assert rig.changelog() == [(0, "a", 2)]
    await eventually(lambda: rig.runner.held == {0, 1}, "the state restored")
    assert rig.runner.store.get(0, "a") == 2


async def test_a_commit_whose_answer_is_lost_is_not_applied_twice(rig: Rig) -> None:
    # The commit lands, the producer hears an error: the runner starts over from what Kafka has.
    fault = rig.broker.fail("commit", error=lambda: KafkaTimeoutError("no answer"), landed=True)
    rig.send(0, "a")
    rig.start()
    await eventually(rig.done, "the record handled")
    assert fault.fired == 1
    await eventually(lambda: len(rig.clients.producers) == 2, "a new session")
    rig.send(0, "a")
    await eventually(rig.done, "the next record handled")
    assert sorted(rig.echoes()) == [(0, 0), (0, 1)]
    if rig.style.stateful:
        assert rig.counts() == [1, 2], "the count restored from the changelog, not counted again"


# --- (c) revoking a partition drops its state ----------------------------------------------


async def test_batch_runner_revoking_a_partition_drops_its_state_and_assigning_it_back_restores_it(
    rig: Rig,
) -> None:
    rig.style.skip_unless("batch", NO_STATE)
    rig.send(0, "a")
    rig.send(1, "b")
    rig.start()
    await eventually(rig.done, "every record handled")
    assert rig.state_partitions() == {0, 1}

    await rig.broker.rebalance(rig.group, owned={0})  # partition 1 goes to another instance
    await eventually(lambda: rig.runner.held == {0}, "partition 0 held again")
    assert rig.state_partitions() == {0}
    assert rig.runner.store.get(1, "b") is None

    await rig.broker.rebalance(rig.group, owned=None)  # and comes back
    await eventually(lambda: rig.runner.held == {0, 1}, "partition 1 restored")
    assert rig.runner.store.get(1, "b") == 1
    rig.send(1, "b")
    await eventually(rig.done, "the next record handled")
    assert sorted(rig.counts()) == [1, 1, 2], "counting on from the restored state"


async def test_batch_runner_gives_a_partition_up_once_its_batch_in_flight_committed(rig: Rig) -> None:
    rig.style.skip_unless("batch", "the pipelined runner cancels what runs: another instance runs it again")
    rig.send(0, "a")
    slow = rig.send(1, "b", SLOW)
    rig.start()
    await eventually(lambda: rig.gate.entered == [(1, slow)], "the slow record running")
    consumer = rig.clients.consumers[-1]

    rebalancing = asyncio.create_task(rig.broker.rebalance(rig.group, owned={0}))
    rig.gate.opened.set()
    await asyncio.wait_for(rebalancing, 10)
    # The next owner of partition 1 starts from the offsets after the batch, and reads
    # the batch's state changes in the changelog.
    [(revoked, ended)] = [(tps, ended) for tps, ended in consumer.revocations if tps]
    assert {tp.partition for tp in revoked} == {0, 1}
    assert ended == 1 and rig.broker.transactions[0].committed, "the batch committed before the revocation returned"
    assert rig.committed(1) == 1 and rig.changelog() == [(0, "a", 1), (1, "b", 1)]
    await eventually(lambda: rig.runner.held == {0}, "partition 0 held again")
    assert rig.state_partitions() == {0}


async def test_a_partition_revoked_while_its_records_run_leaves_nothing_of_them_here(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batch runner's revocation does not wait for its batch in flight past this.
    monkeypatch.setattr(runner_module, "_HANDOFF_SECONDS", 0.05)
    rig.send(0, "a")
    slow = rig.send(1, "b", SLOW)
    rig.start()
    await eventually(lambda: rig.gate.entered == [(1, slow)], "the slow record running")

    await rig.broker.rebalance(rig.group, owned={0})
    rig.gate.opened.set()
    await eventually(lambda: (rig.committed(0) or 0) >= 1, "partition 0's record handled")
    if rig.style.stateful:
        # The batch in flight still commits (the broker takes its offsets), but the store
        # keeps nothing of the partition it no longer holds.
        await eventually(lambda: rig.runner.held == {0}, "partition 0 held again")
        assert rig.state_partitions() == {0}
    else:
        assert rig.gate.cancelled == [(1, slow)], "its task cancelled"
        assert TopicPartition(rig.topic(EVENTS), 1) not in rig.runner.running  # type: ignore[attr-defined]
        assert (1, slow) not in rig.echoes(), "no late result"

    await rig.broker.rebalance(rig.group, owned=None)
    await eventually(rig.done, "every record handled")
    assert Counter(rig.echoes())[(0, 0)] == 1


async def test_batch_runner_a_partition_revoked_while_its_state_is_read_keeps_none_of_it(rig: Rig) -> None:
    rig.style.skip_unless("batch", NO_STATE)
    rig.send(0, "a")
    rig.send(1, "b")
    rig.start()
    await eventually(rig.done, "every record handled")

    hold = rig.broker.hold_reads(rig.topic(COUNTS))
    await rig.broker.rebalance(rig.group)  # both partitions revoked and assigned again: read again
    await eventually(hold.tried.is_set, "the restore reading the changelog")
    await rig.broker.rebalance(rig.group, owned={0})  # partition 1 goes while it is read
    rig.broker.release_reads(rig.topic(COUNTS))
    await eventually(lambda: rig.runner.held == {0} and not rig.runner.to_restore, "partition 0 restored")
    assert rig.state_partitions() == {0}
    assert rig.runner.store.get(0, "a") == 1


async def test_batch_runner_a_partition_revoked_during_a_tick_keeps_no_state_of_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.style.skip_unless("batch", "the pipelined runner does not tick")
    monkeypatch.setattr(runner_module, "_HANDOFF_SECONDS", 0.05)  # revoked before the tick commits
    processor = CountingTicks(rig.gate)
    rig.runner = ProcessorRunner(rig.settings, processor, clients=rig.clients)
    rig.start()
    await eventually(lambda: rig.state_partitions() == {0, 1}, "ticks counted in both partitions")

    processor.hold.clear()
    await eventually(processor.waiting.is_set, "a tick under way")
    await rig.broker.rebalance(rig.group, owned={0})
    processor.hold.set()
    await eventually(lambda: rig.runner.held == {0}, "partition 0 held again")
    assert rig.state_partitions() == {0}
    assert (rig.runner.store.get(0, "ticks") or 0) >= 1, "partition 0's ticks restored from the changelog"


async def test_pipelined_runner_revoking_a_partition_cancels_its_running_records_and_they_run_again_after(
    rig: Rig,
) -> None:
    rig.style.skip_unless("pipelined", "the batch runner runs no record past its batch's transaction")
    slow = rig.send(1, "b", SLOW)
    later = rig.send(1, "c")
    rig.start()
    await eventually(lambda: (1, later) in rig.echoes(), "the record after the slow one written")
    assert rig.committed(1) == slow

    await rig.broker.rebalance(rig.group, owned={0})
    await eventually(lambda: rig.gate.cancelled == [(1, slow)], "the slow record cancelled")
    await rig.broker.rebalance(rig.group, owned=None)
    await eventually(lambda: rig.gate.entered == [(1, slow), (1, slow)], "the slow record running again")
    rig.gate.opened.set()
    await eventually(rig.done, "every record handled")
    assert Counter(rig.echoes())[(1, slow)] == 1
    assert Counter(rig.echoes())[(1, later)] == 2, "re-run from the committed offset, a duplicate by design"


async def test_pipelined_runner_starts_no_record_of_a_partition_revoked_while_it_prepared_them(rig: Rig) -> None:
    rig.style.skip_unless("pipelined", "the batch runner has no step between a fetch and its records")
    rig.gate.prepare_open.clear()
    revoked = rig.send(1, "b")
    rig.start()
    await eventually(rig.gate.preparing.is_set, "the fetch being prepared")
    await rig.broker.rebalance(rig.group, owned={0})  # partition 1 goes meanwhile
    kept = rig.send(0, "a")
    rig.gate.prepare_open.set()
    await eventually(lambda: (0, kept) in rig.echoes(), "partition 0's record written")
    # Another instance runs it now, from the committed offset: here it would be a
    # duplicate, and its offset commit could move that instance's past records it still runs.
    assert rig.gate.ran[(1, revoked)] == 0
    assert (1, revoked) not in rig.echoes() and rig.committed(1) is None

    await rig.broker.rebalance(rig.group, owned=None)
    await eventually(rig.done, "every record handled")
    assert Counter(rig.echoes())[(1, revoked)] == 1


async def test_pipelined_runner_runs_once_the_records_of_a_partition_revoked_and_assigned_back_while_it_prepared_them(
    rig: Rig,
) -> None:
    rig.style.skip_unless("pipelined", "the batch runner has no step between a fetch and its records")
    rig.gate.prepare_open.clear()
    for n in range(3):
        rig.send(1, f"k{n}")
    rig.start()
    await eventually(rig.gate.preparing.is_set, "the fetch being prepared")
    await rig.broker.rebalance(rig.group)  # revoked and assigned again: fetched again from offset 0
    rig.gate.prepare_open.set()
    await eventually(rig.done, "every record handled")
    assert sorted(rig.echoes()) == rig.sent
    assert rig.gate.ran == Counter(rig.sent), "each run once, not once per fetch"


# --- (d) nothing commits past an unfinished record -----------------------------------------


async def test_nothing_commits_past_an_unfinished_record(rig: Rig) -> None:
    rig.send(0, "a")
    slow = rig.send(0, "b", SLOW)
    rig.send(0, "c")
    rig.send(0, "d")
    rig.start()
    await eventually(lambda: rig.gate.entered == [(0, slow)], "the slow record running")
    if rig.style.name == "pipelined":
        await eventually(lambda: {(0, 2), (0, 3)} <= set(rig.echoes()), "the later records written")
    # (The batch runner is inside its processor's handle: it has nothing to do meanwhile.)
    assert (rig.committed(0) or 0) <= slow
    assert (0, slow) not in rig.echoes()

    rig.gate.opened.set()
    await eventually(rig.done, "every record handled")
    assert sorted(rig.echoes()) == [(0, 0), (0, 1), (0, 2), (0, 3)]
    assert rig.committed(0) == 4


async def test_pipelined_runner_writes_later_results_while_a_slow_record_holds_the_offset(rig: Rig) -> None:
    rig.style.skip_unless("pipelined", "the batch runner writes a batch's results together, when all are done")
    rig.send(0, "a")
    slow = rig.send(0, "b", SLOW)
    rig.send(0, "c")
    rig.send(1, "d")
    rig.start()
    await eventually(lambda: len(rig.echoes()) == 3, "the records other than the slow one written")
    assert rig.committed(0) == slow, "held at the slow record"
    assert rig.committed(1) == 1, "another partition is not held by it"
    rig.gate.opened.set()
    await eventually(rig.done, "every record handled")
    assert rig.committed(0) == 3 and Counter(rig.echoes())[(0, slow)] == 1


async def test_batch_runner_commits_a_batchs_offsets_only_with_its_outputs(rig: Rig) -> None:
    rig.style.skip_unless("batch", "the pipelined runner commits offsets as records finish, flush by flush")
    for n in range(4):
        rig.send(0, f"k{n}", SLOW if n == 1 else "ok")
    rig.start()
    await eventually(lambda: rig.gate.entered == [(0, 1)], "the slow record running")
    assert rig.broker.transactions == [], "nothing written while the batch runs"
    rig.gate.opened.set()
    await eventually(rig.done, "every record handled")
    [txn] = rig.broker.transactions
    assert sorted(_echoed(r.value) for r in txn.records if r.topic == rig.topic(ECHOES)) == rig.sent
    assert txn.offsets == {rig.group: {TopicPartition(rig.topic(EVENTS), 0): 4}}


# --- (e) state changes commit with the outputs ---------------------------------------------


async def test_batch_runner_writes_state_changes_to_the_changelog_in_the_transaction_of_the_outputs(
    rig: Rig,
) -> None:
    rig.style.skip_unless("batch", NO_STATE)
    rig.broker.fail("commit")
    rig.send(0, "a")
    rig.send(1, "b")
    rig.send(1, "b")
    rig.start()
    await eventually(rig.done, "every record handled")

    def parts(txn: Transaction) -> tuple[list[tuple[int, int]], list[tuple[int, str, Any]]]:
        echoes = sorted(_echoed(r.value) for r in txn.records if r.topic == rig.topic(ECHOES))
        changes = sorted(
            (r.partition, r.key.decode(), COUNT_STATE.decode(r.key.decode(), r.value)) for r in txn.records if r.topic == rig.topic(COUNTS)
        )
        return echoes, changes

    aborted, committed = rig.broker.transactions
    assert not aborted.committed and committed.committed
    expected = ([(0, 0), (1, 0), (1, 1)], [(0, "a", 1), (1, "b", 2)])
    assert parts(aborted) == expected, "the changelog was in the aborted transaction too"
    assert parts(committed) == expected
    assert committed.offsets[rig.group] == {
        TopicPartition(rig.topic(EVENTS), 0): 1, TopicPartition(rig.topic(EVENTS), 1): 2
    }
    assert sorted(rig.changelog()) == [(0, "a", 1), (1, "b", 2)]
