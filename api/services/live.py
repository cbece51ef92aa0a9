"""The live executions stream: the caller's workspace's records on fluxo.executions.v1, as
server-sent events (api/routers/console.py serves it; api/services/live_frames.py is the pure part).

Each request tails the topic with a consumer of its own (no group: nothing is committed, and
the cursor in every frame's `id` is the client's to keep), reading committed records only,
for a bounded time; the client reconnects with the last cursor it got and misses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from api.services.live_frames import (
    Cursor,
    comment,
    format_cursor,
    frame,
    live_events,
    start_positions,
)
from api.state import AppState
from infra.kafka_io import make_consumer, topic_partitions
from schemas.codec import decode_current, decode_envelope
from schemas.errors import PoisonRecord, Unavailable
from schemas.topics import EXECUTIONS

log = logging.getLogger("fluxo.api.live")

# How long a client may ask one answer to stay open; it then reconnects with its cursor.
MAX_FOLLOW_SECONDS = 5
_KEEPALIVE_SECONDS = 5.0
_BATCH_MS = 250
_RETRY_MS = 500


@dataclass
class Tail:
    consumer: AIOKafkaConsumer
    topic: str
    positions: Cursor


async def open_tail(state: AppState, cursor: Cursor | None) -> Tail:
    """A consumer placed where the client left off (or at the end): before the answer starts,
    so a bad cursor is a 422 and a broker that cannot be reached a 503, not a broken stream."""
    partitions = await topic_partitions(state.offsets, state.settings, (EXECUTIONS,))
    try:
        beginning = await asyncio.wait_for(state.offsets.beginning_offsets(partitions), 5)
        end = await asyncio.wait_for(state.offsets.end_offsets(partitions), 5)
    except (KafkaError, TimeoutError) as exc:
        raise Unavailable(f"Kafka did not answer the executions topic's offsets: {type(exc).__name__}") from None
    positions = start_positions(
        cursor, {tp.partition: offset for tp, offset in beginning.items()}, {tp.partition: offset for tp, offset in end.items()}
    )
    topic = state.settings.topic(EXECUTIONS)
    consumer = make_consumer(state.settings)
    try:
        await consumer.start()
        consumer.assign([TopicPartition(topic, p) for p in positions])
        for partition, offset in positions.items():
            consumer.seek(TopicPartition(topic, partition), offset)
    except KafkaError as exc:
        await consumer.stop()
        raise Unavailable(f"Kafka refused the live stream's consumer: {type(exc).__name__}") from None
    return Tail(consumer, topic, positions)


async def frames(state: AppState, tail: Tail, workspace_id: str, workflow: str | None, follow_seconds: float) -> AsyncIterator[bytes]:
    """`ready` with the starting cursor, then one `execution` event per record of the workspace
    (its `id` the cursor just past it), until `follow_seconds` have passed with the topic read
    to its end. With 0, the answer is what the cursor had not seen yet, then it ends."""
    consumer, positions = tail.consumer, dict(tail.positions)
    deadline = time.monotonic() + follow_seconds
    quiet_since = time.monotonic()
    try:
        yield f"retry: {_RETRY_MS}\n\n".encode()
        yield frame("ready", {"cursor": format_cursor(positions)}, format_cursor(positions))
        while True:
            end = await consumer.end_offsets(list(consumer.assignment()))
            caught_up = all(positions[tp.partition] >= offset for tp, offset in end.items())
            left = deadline - time.monotonic()
            if caught_up and left <= 0:
                break
            wait_ms = _BATCH_MS if not caught_up else max(1, min(_BATCH_MS, int(left * 1000)))
            batches = await consumer.getmany(timeout_ms=wait_ms)
            for tp, records in sorted(batches.items(), key=lambda item: item[0].partition):
                for message in records:
                    positions[tp.partition] = message.offset + 1
                    events = _events_of(state, message.value, message.headers, workspace_id, workflow)
                    for i, event in enumerate(events):
                        quiet_since = time.monotonic()
                        # The cursor is a record's: only its last event carries it, so a client
                        # resuming from its last id never skips the rest of a record's steps.
                        yield frame("execution", event, format_cursor(positions) if i == len(events) - 1 else None)
            # Transaction markers take offsets too: the consumer's position says where we are.
            for tp in consumer.assignment():
                positions[tp.partition] = max(positions[tp.partition], await consumer.position(tp))
            if time.monotonic() - quiet_since >= _KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield comment("keepalive")
        yield frame("end", {"cursor": format_cursor(positions)}, format_cursor(positions))
    finally:
        # A client that goes away cancels the answer: the consumer is still closed (shielded:
        # it finishes even as the cancellation goes on), or its connections would outlive it.
        await asyncio.shield(consumer.stop())


def _events_of(
    state: AppState, value: bytes | None, headers: Sequence[tuple[str, bytes]] | None, workspace_id: str, workflow: str | None
) -> list[dict[str, Any]]:
    try:
        envelope = decode_envelope(value, tuple(headers or ()), max_bytes=state.settings.max_record_bytes)
        # Tenancy: the envelope names its workspace; another's record is never decoded further.
        if envelope.workspaceid != workspace_id:
            return []
        envelope, record = decode_current(envelope)
    except PoisonRecord:
        return []  # the consumers that act on it dead-letter it; a watcher skips it
    return live_events(envelope, record, workflow)
