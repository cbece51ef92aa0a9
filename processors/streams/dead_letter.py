"""Builds the dead-letter record for a record no processor can accept."""

from __future__ import annotations

import base64
import hashlib

from aiokafka.structs import ConsumerRecord

from schemas.envelope import deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import RecordDeadLettered
from schemas.topics import DEADLETTER

UNKNOWN_WORKSPACE = "unknown"
# Bytes of the original value a dead letter carries: base64 adds a third, and the dead
# letter must stay under the producer's and broker's 2 MiB limit, or writing it would
# fail the batch it belongs to, again and again (a poison record stalling its partition).
MAX_ORIGINAL_BYTES = 512 * 1024


def dead_letter(record: ConsumerRecord, *, reason: str, consumer: str) -> Output:
    """Keep the original bytes whole so the record can be inspected or replayed."""
    key: bytes | None = record.key
    value: bytes = record.value or b""
    headers = {}
    for name, raw in record.headers or ():
        headers[name] = base64.b64encode(raw).decode() if raw is not None else ""
    data = RecordDeadLettered(
        reason=reason[:2000],
        consumer=consumer,
        original_topic=record.topic,
        original_partition=record.partition,
        original_offset=record.offset,
        original_key_b64=base64.b64encode(key).decode() if key is not None else None,
        original_value_b64=base64.b64encode(value[:MAX_ORIGINAL_BYTES]).decode(),
        original_headers=headers,
        original_truncated=len(value) > MAX_ORIGINAL_BYTES,
        original_size=len(value),
        original_sha256=hashlib.sha256(value).hexdigest(),
    )
    envelope = make_envelope(
        data,
        # Same record, same dead letter: a re-processed batch does not add a second one.
        id=deterministic_id("deadletter", consumer, record.topic, str(record.partition), str(record.offset)),
        source=f"processor/{consumer}",
        workspace_id=UNKNOWN_WORKSPACE,
    )
    return Output.of(DEADLETTER, key.decode(errors="replace")[:1000] if key else "", envelope)
