"""Follows the events and executions topics (read_committed) and times each execution
from its event's envelope time to the completed_at of its ExecutionCompleted record.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer

from infra.kafka_io import make_consumer, topic_partitions
from infra.settings import Settings
from schemas.records import (
    EventIngested,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionSteps,
    NodeSucceeded,
)
from schemas.topics import EVENTS, EXECUTIONS

_STARTED = ExecutionStarted.TYPE.encode()
_COMPLETED = ExecutionCompleted.TYPE.encode()
_FAILED = ExecutionFailed.TYPE.encode()
_EVENT = EventIngested.TYPE.encode()
_NODE_DONE = NodeSucceeded.TYPE.encode()
# The executor's steps records name node types and nodes too (the HTTP node's scheduling);
# the HTTP node's result is the worker's own record.
_STEPS = ExecutionSteps.TYPE.encode()
# The HTTP node of the bench workflow: its times split the pipeline into stages.
_CALL = b'"node_id":"call"'


@dataclass
class Timeline:
    event_time: dict[str, datetime] = field(default_factory=dict)  # event id -> envelope time
    event_of: dict[str, str] = field(default_factory=dict)  # execution id -> event id
    completed_at: dict[str, datetime] = field(default_factory=dict)
    failed: int = 0
    # When the matcher wrote ExecutionStarted (the Kafka record's timestamp: the envelope
    # carries the event's time, so the execution id stays deterministic on reprocessing).
    started_at: dict[str, datetime] = field(default_factory=dict)
    call: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # HTTP node started, completed

    def stages_ms(self) -> dict[str, list[float]]:
        """Where the time goes: event -> started (matcher), started -> HTTP call begins (executor,
        work order, worker), the call itself, call done -> execution completed (result back, executor)."""
        out: dict[str, list[float]] = {"matcher": [], "to_worker": [], "http_call": [], "to_completed": []}
        for execution_id, done in self.completed_at.items():
            event = self.event_of.get(execution_id)
            at = self.event_time.get(event) if event else None
            started = self.started_at.get(execution_id)
            call = self.call.get(execution_id)
            if at is None or started is None or call is None:
                continue
            out["matcher"].append((started - at).total_seconds() * 1000)
            out["to_worker"].append((call[0] - started).total_seconds() * 1000)
            out["http_call"].append((call[1] - call[0]).total_seconds() * 1000)
            out["to_completed"].append((done - call[1]).total_seconds() * 1000)
        return out

    def latencies_ms(self) -> list[float]:
        out = []
        for execution_id, done in self.completed_at.items():
            event = self.event_of.get(execution_id)
            at = self.event_time.get(event) if event else None
            if at is not None:
                out.append((done - at).total_seconds() * 1000)
        return out

    def window(self) -> tuple[datetime, datetime] | None:
        """First event of ours to last completion: the span throughput is measured over."""
        if not self.completed_at:
            return None
        firsts = [self.event_time[e] for e in self.event_of.values() if e in self.event_time]
        if not firsts:
            return None
        return min(firsts), max(self.completed_at.values())


class CompletionTracker:
    def __init__(self, settings: Settings, workflow_id: str, event_marker: str) -> None:
        self.settings = settings
        self.workflow = f'"{workflow_id}"'.encode()
        self.marker = f'"{event_marker}"'.encode()
        self.timeline = Timeline()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin at the current end of both topics: only what comes next is ours."""
        consumer = make_consumer(self.settings)
        await consumer.start()
        tps = await topic_partitions(consumer, self.settings, (EVENTS, EXECUTIONS))
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)  # resolve now, before anything is produced
        self._consumer = consumer
        self._task = asyncio.create_task(self._follow())

    def _take(self, topic: str, value: bytes, timestamp_ms: int = 0) -> None:
        # The one place records are read without schemas/codec.py, on purpose: this
        # follows every record of both topics on the machine being measured, so it
        # parses only the few it times, and it reads only what the running code
        # writes during the run (start() begins at the end), so no type to upcast.
        t = self.timeline
        if topic.endswith(EVENTS.name):
            if _EVENT in value and self.marker in value:
                body = orjson.loads(value)
                t.event_time[body["id"]] = datetime.fromisoformat(body["time"])
            return
        if _STEPS in value:
            return
        if _NODE_DONE in value:
            # Node results do not name the workflow; only the bench workflow has a node "call".
            if _CALL in value:
                data = orjson.loads(value)["data"]
                t.call[data["execution_id"]] = (
                    datetime.fromisoformat(data["started_at"]), datetime.fromisoformat(data["completed_at"])
                )
            return
        if self.workflow not in value:
            return
        if _STARTED in value:
            data = orjson.loads(value)["data"]
            if data.get("event_id"):
                t.event_of[data["execution_id"]] = data["event_id"]
                t.started_at[data["execution_id"]] = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        elif _COMPLETED in value:
            data = orjson.loads(value)["data"]
            t.completed_at[data["execution_id"]] = datetime.fromisoformat(data["completed_at"])
        elif _FAILED in value:
            t.failed += 1

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    if record.value is not None:
                        self._take(tp.topic, record.value, record.timestamp)

    async def wait_for(self, count: int, timeout: float) -> bool:
        """Until `count` executions have ended (completed or failed), or the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.timeline.completed_at) + self.timeline.failed >= count:
                return True
            if self._task is not None and self._task.done():
                self._task.result()  # re-raise what stopped the consumer
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()
