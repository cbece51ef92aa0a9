"""Builds the dead-letter record for a record no processor can accept."""

from __future__ import annotations

import base64

from aiokafka.structs import ConsumerRecord

from infra.kafka_io import Output
from schemas.envelope import deterministic_id, make_envelope
from schemas.records import RecordDeadLettered
from schemas.topics import DEADLETTER

UNKNOWN_WORKSPACE = "unknown"


def dead_letter(record: ConsumerRecord, *, reason: str, consumer: str) -> Output:
    """Keep the original bytes whole so the record can be inspected or replayed."""
    key: bytes | None = record.key
    value: bytes | None = record.value
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
        original_value_b64=base64.b64encode(value or b"").decode(),
        original_headers=headers,
    )
    envelope = make_envelope(
        data,
        # Same record, same dead letter: a re-processed batch does not add a second one.
        id=deterministic_id("deadletter", consumer, record.topic, str(record.partition), str(record.offset)),
        source=f"processor/{consumer}",
        workspace_id=UNKNOWN_WORKSPACE,
    )
    return Output.of(DEADLETTER, key.decode(errors="replace") if key else "", envelope)
