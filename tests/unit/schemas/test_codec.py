"""Record encoding: structured and binary CloudEvents, and the poison cases."""

from __future__ import annotations

import orjson
import pytest
from cloudevents.v1.http import CloudEvent
from cloudevents.v1.kafka import from_structured, to_structured
from cloudevents.v1.kafka.conversion import KafkaMessage

from schemas.codec import decode
from schemas.envelope import make_envelope
from schemas.errors import PoisonRecord
from schemas.records import EventIngested


def test_round_trip() -> None:
    envelope = make_envelope(EventIngested(event_type="USER_CREATED", data={"n": "مرحبا"}), source="t", workspace_id="ws")
    decoded_env, data = decode(envelope.to_bytes())
    assert decoded_env == envelope and isinstance(data, EventIngested) and data.data["n"] == "مرحبا"


def test_binary_mode_from_headers() -> None:
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"urn:x"),
               ("ce_type", b"fluxo.event.ingested.v1"), ("ce_time", b"2026-01-01T00:00:00Z"), ("ce_workspaceid", b"ws")]
    env, data = decode(orjson.dumps({"event_type": "X"}), headers)
    assert env.workspaceid == "ws" and isinstance(data, EventIngested)


def test_the_cloudevents_sdk_reads_and_writes_our_records() -> None:
    event = CloudEvent({"type": "fluxo.event.ingested.v1", "source": "urn:sdk", "workspaceid": "ws"}, {"event_type": "SDK"})
    message = to_structured(event)
    env, data = decode(message.value, list(message.headers.items()))
    assert env.source == "urn:sdk" and isinstance(data, EventIngested)
    ours = make_envelope(EventIngested(event_type="OURS"), source="t", workspace_id="ws")
    read = from_structured(KafkaMessage(headers={"content-type": b"application/cloudevents+json"}, key=None, value=ours.to_bytes()))
    assert read["type"] == "fluxo.event.ingested.v1" and read["workspaceid"] == "ws"


@pytest.mark.parametrize("value,reason", [
    (b"\xff\xfe", "not valid JSON"),
    (b"[1,2]", "not a JSON object"),
    (b'{"id": "1"}', "not a valid CloudEvent"),
    (None, "tombstone"),
    (b'{"specversion":"1.0","id":"1","source":"s","type":"nope.v1","time":"2026-01-01T00:00:00Z","workspaceid":"w","data":{}}', "unknown record type"),
])
def test_poison(value: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonRecord) as info:
        decode(value)
    assert reason in info.value.message


def test_size_limit() -> None:
    with pytest.raises(PoisonRecord, match="over the"):
        decode(b"{" + b" " * 100 + b"}", max_bytes=50)


# -- decode_record: the one-pass decoder of the hot path agrees with decode ------
def _record_examples() -> list[object]:
    from test_compatibility import examples

    return sorted(examples().values(), key=lambda r: r.TYPE)  # type: ignore[attr-defined]


@pytest.mark.parametrize("data", _record_examples(), ids=lambda r: r.TYPE)
def test_decode_record_agrees_with_decode(data: object) -> None:
    from schemas.codec import decode_record

    value = make_envelope(data, source="t", workspace_id="ws", execution_id="ex-1", subject="u").to_bytes()  # type: ignore[arg-type]
    slow_env, slow = decode(value)
    fast_env, fast = decode_record(value)
    assert type(fast) is type(slow) and fast == slow == data
    assert fast_env.model_dump(exclude={"data"}) == slow_env.model_dump(exclude={"data"})
    assert orjson.loads(fast_env.to_bytes()) == orjson.loads(value)


@pytest.mark.parametrize("value,reason", [
    (b"\xff\xfe", "not valid JSON"),
    (b"[1,2]", "not a JSON object"),
    (b'{"id": "1"}', "not a valid CloudEvent"),
    (None, "tombstone"),
    (b'{"specversion":"1.0","id":"1","source":"s","type":"nope.v1","time":"2026-01-01T00:00:00Z","workspaceid":"w","data":{}}', "unknown record type"),
    (b'{"specversion":"1.0","id":"1","source":"s","type":"fluxo.timer.cancelled.v1","time":"2026-01-01T00:00:00Z","workspaceid":"w","data":{"timer_id":1}}', "invalid fluxo.timer.cancelled.v1 data"),
])
def test_decode_record_refuses_what_decode_refuses(value: bytes | None, reason: str) -> None:
    from schemas.codec import decode_record

    with pytest.raises(PoisonRecord) as info:
        decode_record(value)
    assert reason in info.value.message
    with pytest.raises(PoisonRecord, match="over the"):
        decode_record(b"{" + b" " * 100 + b"}", max_bytes=50)
