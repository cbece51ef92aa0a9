"""Records on fluxo.events.v1 that are not JSON or not valid events go to the dead-letter
topic with the reason and the original bytes, and processing continues."""

from __future__ import annotations

import base64

import orjson
import pytest
from conftest import Processes

from infra.kafka_io import make_consumer, make_producer, send_output
from infra.settings import Settings
from ingest.events import event_record
from schemas.codec import decode
from schemas.records import EventIngested, RecordDeadLettered, TriggerEvaluated
from schemas.topics import DEADLETTER, EVENTS, TRIGGER_LOG

pytestmark = pytest.mark.asyncio(loop_scope="session")

POISON = [
    b"{not json",
    orjson.dumps({"hello": "world"}),  # JSON, but no CloudEvent
    orjson.dumps(  # a record type of Fluxo's namespace nobody knows
        {"specversion": "1.0", "id": "x1", "source": "urn:t", "type": "fluxo.example.unknown.v1",
         "time": "2026-01-01T00:00:00Z", "workspaceid": "ws", "data": {}}
    ),
    orjson.dumps(  # the right type with data that breaks its schema
        {"specversion": "1.0", "id": "x2", "source": "urn:t", "type": "fluxo.event.ingested.v1",
         "time": "2026-01-01T00:00:00Z", "workspaceid": "ws", "data": {"event_type": ""}}
    ),
    orjson.dumps(  # a producer's plain CloudEvent, for a workspace nobody defined
        {"specversion": "1.0", "id": "x3", "source": "urn:t", "type": "com.example.unknown.v1",
         "workspaceid": "no-such-workspace", "data": {}}
    ),
]


async def _read_until(settings: Settings, spec, count: int, timeout_ms: int = 60000):  # type: ignore[no-untyped-def]
    consumer = make_consumer(settings, settings.topic(spec), group_id=None)
    await consumer.start()
    found = []
    try:
        waited = 0
        while len(found) < count and waited < timeout_ms:
            batches = await consumer.getmany(timeout_ms=500)
            waited += 500
            for records in batches.values():
                found.extend(decode(r.value, r.headers) for r in records)
    finally:
        await consumer.stop()
    return found


async def test_poison_events_are_dead_lettered_and_processing_continues(settings: Settings, processes: Processes) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for value in POISON:
            await producer.send_and_wait(settings.topic(EVENTS), value=value, key=b"ws:poison")
        event_id, good = event_record(
            EventIngested(event_type="USER_CREATED", user_id="after-poison", data={"email": "a@b.c"}),
            workspace_id="ws", source="tests",
        )
        await send_output(producer, settings, good)
        await producer.flush()
    finally:
        await producer.stop()

    processes.start("matcher")
    letters = await _read_until(settings, DEADLETTER, len(POISON))
    assert len(letters) == len(POISON)
    by_bytes = {}
    for _, data in letters:
        assert isinstance(data, RecordDeadLettered)
        assert data.original_topic == settings.topic(EVENTS)
        assert data.consumer == "matcher"
        by_bytes[base64.b64decode(data.original_value_b64)] = data.reason
    assert set(by_bytes) == set(POISON)
    assert "not valid JSON" in by_bytes[POISON[0]]
    assert "not a valid CloudEvent" in by_bytes[POISON[1]]
    assert "unknown record type" in by_bytes[POISON[2]]
    assert "event_type" in by_bytes[POISON[3]]
    assert "unknown workspace 'no-such-workspace'" in by_bytes[POISON[4]]

    logs = await _read_until(settings, TRIGGER_LOG, 1)
    assert [d.event_id for _, d in logs if isinstance(d, TriggerEvaluated)] == [event_id]
