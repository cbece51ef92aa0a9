"""Executor: folds the executions topic through `advance`, one execution per key.

Finished executions shrink to a marker (`finished_marker`) so that a late
duplicate — a re-sent `execution.started` with the same deterministic id (a
webhook re-sent with its Idempotency-Key, an event produced twice), or a
result arriving after the end — is recognised and ignored. Markers used to be
kept forever, in memory and in the compacted changelog, so the executor grew
by ~3.4 MiB per 10,000 executions (docs/benchmarks.md).

They are now bounded (`FinishedMarkers`): a marker is dropped, with a
tombstone so the changelog compacts it away too, once it is older than
`FLUXO_EXECUTOR_FINISHED_HORIZON_SECONDS` or when this instance holds more
than `FLUXO_EXECUTOR_FINISHED_MAX` of them (oldest first). The trade-off: a
duplicate `execution.started` arriving after its marker was dropped is
indistinguishable from a new execution and runs it again. Within the horizon
(and below the cap) duplicates are still refused exactly as before; results
and timers arriving late for a dropped execution are ignored either way
(there is no running state for them to advance). Memory is then bounded by
min(rate x horizon, max) markers instead of growing with every execution.

A running execution's state names its pinned workflow snapshot (`workflow_ref`,
processors/engine/pinned.py) rather than carrying it: the snapshot is kept once
per partition in the changelog under `workflow:<ref>` (`_keep_workflow`), read
back on restore, and tombstoned by `sweep_workflows` once no running execution
names it. The store writes each key once per transaction, its last value, so an
execution costs one state write per batch that touches it, whatever the steps.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Sequence

from infra.settings import Settings
from processors.engine.machine import ACTS_ON, SOURCE, State, Workflows, advance, finished_marker
from processors.streams.runner import Incoming, per_record
from processors.streams.state import StateStore
from schemas.codec import SOURCE_HEADER, TYPE_HEADER
from schemas.envelope import SOURCE_PREFIX, now
from schemas.outputs import Output
from schemas.records import NodeFailed, NodeSucceeded
from schemas.state_versions import WORKFLOW_KEY_PREFIX
from schemas.topics import EVENTS, EXECUTIONS, EXECUTOR_STATE, TopicSpec
from schemas.upcasting import UPCASTERS

_OWN_SOURCE = f"{SOURCE_PREFIX}{SOURCE}".encode()
_RESULTS = frozenset({NodeSucceeded.TYPE, NodeFailed.TYPE})

log = logging.getLogger("fluxo.executor")


class FinishedMarkers:
    """Finished-execution markers in the order they finished, to drop the oldest.

    An index over the store, not a second copy of state: an entry whose store
    value is no longer that marker (an aborted batch, a lost partition) is
    skipped when it comes due. A deque of (time, partition, key): ~100 bytes a
    marker, the key string shared with the store.
    """

    def __init__(self, horizon_seconds: float, max_markers: int) -> None:
        self.horizon = horizon_seconds
        self.max_markers = max_markers
        self._order: deque[tuple[float, int, str]] = deque()

    def __len__(self) -> int:
        return len(self._order)

    def finished(self, partition: int, key: str, at: float) -> None:
        self._order.append((at, partition, key))

    def index(self, store: StateStore, partitions: set[int], restored_at: float) -> int:
        """Index the markers of freshly restored partitions (a rebalance: rare, so a full re-sort)."""
        found = [
            # Markers written before they carried a time count from the restore.
            (float(value.get("finished_at") or restored_at), partition, key)
            for partition, key, value in store.items()
            if partition in partitions and isinstance(value, dict) and value.get("status") != "running"
            and not key.startswith(WORKFLOW_KEY_PREFIX)
        ]
        if found:
            self._order = deque(sorted([*self._order, *found]))
        return len(found)

    def expire(self, store: StateStore, partitions: set[int], current: float) -> int:
        """Tombstone markers past the horizon or over the cap. Returns how many were dropped."""
        dropped = 0
        limit = current - self.horizon
        while self._order and (self._order[0][0] <= limit or len(self._order) > self.max_markers):
            at, partition, key = self._order.popleft()
            if partition not in partitions:
                continue  # no longer ours: its new owner indexed it on restore
            value = store.get(partition, key)
            if isinstance(value, dict) and value.get("status") != "running" and value.get("finished_at", at) == at:
                store.put(partition, key, None)
                dropped += 1
        return dropped


def fan_out(outputs: list[Output], partitions: int) -> list[Output]:
    """A watch on any contact's events (key `<workspace>:*`) goes to every partition of the
    events topic: each partition's matcher sees its own contacts' events."""
    if not any(out.topic is EVENTS and out.key.endswith(":*") for out in outputs):
        return outputs
    spread: list[Output] = []
    for out in outputs:
        if out.topic is EVENTS and out.key.endswith(":*"):
            spread.extend(dataclasses.replace(out, partition=p) for p in range(partitions))
        else:
            spread.append(out)
    return spread


class Executor:
    name = "executor"
    inputs: tuple[TopicSpec, ...] = (EXECUTIONS,)
    state_topic: TopicSpec | None = EXECUTOR_STATE

    def __init__(self) -> None:
        # Expiry runs between batches, about once a second.
        self.tick_seconds = 1.0
        self.markers = FinishedMarkers(horizon_seconds=300.0, max_markers=100_000)
        # The snapshots running executions are pinned to (processors/engine/pinned.py), and how
        # often the ones no running execution references are dropped, here and in the changelog.
        self.workflows = Workflows()
        self.workflow_sweep_seconds = 60.0
        self._next_sweep = time.monotonic() + self.workflow_sweep_seconds
        # Snapshot entries no running execution named at the last sweep.
        self._unnamed: set[tuple[int, str]] = set()
        self.partitions = 3

    async def start(self, settings: Settings) -> None:
        self.partitions = settings.partitions
        self.markers = FinishedMarkers(
            settings.executor_finished_horizon_seconds, settings.executor_finished_max
        )

    async def stop(self) -> None:
        return None

    def wants(self, headers: Sequence[tuple[str, bytes]]) -> bool:
        """Whether a record could change anything, judged from its headers before decoding.

        Most of the executions topic is the executor's own output read back: its
        node steps and ends, which `advance` ignores (ACTS_ON), and the results of
        inline nodes, which it ignores as already applied (their step is no longer
        "scheduled"). Decoding them was a fifth of its CPU. Records without the
        headers (older ones, other producers) are decoded as before, and so are
        records of a retired type (schemas/upcasting.py): only the decoder knows
        which current type they become.
        """
        record_type = source = None
        for name, value in headers:
            if name == TYPE_HEADER:
                record_type = value.decode()
            elif name == SOURCE_HEADER:
                source = value
        if record_type is None:
            return True
        if record_type not in ACTS_ON:
            return record_type in UPCASTERS
        return not (source == _OWN_SOURCE and record_type in _RESULTS)

    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]:
        return per_record(batch, store, self.name, self._one)

    def _one(self, item: Incoming, store: StateStore) -> list[Output]:
        execution_id = item.envelope.executionid
        if not execution_id:
            raise ValueError("record on the executions topic without an execution id")
        partition = item.record.partition
        state = store.get(partition, execution_id)
        new_state, outputs = advance(state, item.envelope, item.data, now(), self.workflows)
        if new_state is not state or outputs:
            if new_state is not None and new_state.get("status") != "running":
                at = time.time()
                new_state = finished_marker(new_state, at)
                self.markers.finished(partition, execution_id, at)
            elif new_state is not None:
                self._keep_workflow(partition, new_state, store)
            # Once per execution per transaction whatever the number of steps: the store keeps
            # the last value of each key until the batch commits (StateStore.changelog).
            store.put(partition, execution_id, new_state)
        return fan_out(outputs, self.partitions)

    def _keep_workflow(self, partition: int, state: State, store: StateStore) -> None:
        """Make sure the changelog holds the snapshot a running state names, in the state's partition.

        Written once per snapshot and partition (the bench's workflow: 3 entries in all, not a copy
        per write), and checked on every write rather than at the start only, so that a state never
        reaches the changelog without its snapshot: not after an aborted batch, not after a sweep
        dropped an entry, not for a state of version 1 whose inline copy moves out here.
        """
        inline = state.pop("workflow", None)
        ref: str = state["workflow_ref"]
        if inline is not None:
            self.workflows.add(ref, inline)
        key = WORKFLOW_KEY_PREFIX + ref
        if store.get(partition, key) is None:
            store.put(partition, key, self.workflows.json_of(ref))

    # -- Ticking: drop markers past the horizon ---------------------------------
    async def tick(self, store: StateStore, partitions: set[int]) -> list[Output]:
        dropped = self.markers.expire(store, partitions, time.time())
        if dropped:
            log.debug("dropped %d finished-execution markers (%d kept)", dropped, len(self.markers))
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.workflow_sweep_seconds
            self.sweep_workflows(store, partitions)
        return []

    def sweep_workflows(self, store: StateStore, partitions: set[int]) -> int:
        """Drop the snapshots no running execution has named at this sweep and the one before:
        a tombstone for each changelog entry, and out of memory. Two sweeps, so that a workflow
        run once a minute does not write its entry and a tombstone with every execution.
        Runs between batches, where nothing uncommitted names one. A full pass over the state,
        so once a minute. Returns how many entries were tombstoned."""
        live: set[tuple[int, str]] = set()
        entries: list[tuple[int, str]] = []
        for partition, key, value in store.items():
            if key.startswith(WORKFLOW_KEY_PREFIX):
                entries.append((partition, key))
            elif isinstance(value, dict) and value.get("status") == "running" and "workflow_ref" in value:
                live.add((partition, WORKFLOW_KEY_PREFIX + value["workflow_ref"]))
        unnamed = {(partition, key) for partition, key in entries if partition in partitions and (partition, key) not in live}
        dropped = 0
        for partition, key in unnamed & self._unnamed:
            store.put(partition, key, None)
            dropped += 1
        self._unnamed = unnamed - self._unnamed
        named = {key.removeprefix(WORKFLOW_KEY_PREFIX) for _, key in live | self._unnamed}
        self.workflows.retain(named)
        return dropped

    def restored(self, store: StateStore, partitions: set[int]) -> None:
        count = self.markers.index(store, partitions, time.time())
        snapshots = 0
        for partition, key, value in store.items():
            if partition in partitions and key.startswith(WORKFLOW_KEY_PREFIX):
                self.workflows.add(key.removeprefix(WORKFLOW_KEY_PREFIX), value)
                snapshots += 1
        log.info("executor: %d finished-execution markers and %d workflow snapshots in partitions %s",
                 count, snapshots, sorted(partitions))
