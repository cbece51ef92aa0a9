"""Plain CloudEvents on the events topic (schemas/cloudevents.py, codec.decode_event): a producer's
own event type, in structured and binary mode, read as a fluxo.event.ingested.v1; every
malformed one refused with its reason. Reference events come from the CloudEvents SDK."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cloudevents.core.bindings.kafka import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from schemas.cloudevents import decode_plain, is_plain_event
from schemas.codec import decode_event
from schemas.envelope import deterministic_id
from schemas.errors import PoisonRecord
from schemas.records import EventIngested

RECEIVED = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
LIMIT = 256 * 1024
Headers = list[tuple[str, bytes]]


def reference(**attributes: Any) -> CloudEvent:
    attrs = {"id": "evt-1", "source": "urn:shop:orders", "type": "com.shop.order.created", "specversion": "1.0",
             "subject": "u-42", "workspaceid": "ws-1", "time": AT, "datacontenttype": "application/json"}
    attrs.update(attributes)
    data = attrs.pop("data", {"order": "A-1", "total": 42})
    return CloudEvent({k: v for k, v in attrs.items() if v is not None}, data)


def binary(event: CloudEvent) -> tuple[bytes, Headers]:
    message = to_binary_event(event)
    return message.value, list(message.headers.items())


def structured(event: CloudEvent) -> tuple[bytes, Headers]:
    message = to_structured_event(event)
    return message.value, list(message.headers.items())


def decode(value: bytes | None, headers: Headers) -> tuple[Any, EventIngested]:
    env, data = decode_event(value, headers, max_bytes=LIMIT, received=RECEIVED)
    assert isinstance(data, EventIngested)
    return env, data


def refused(value: bytes | None, headers: Headers, *, max_bytes: int = LIMIT) -> str:
    with pytest.raises(PoisonRecord) as caught:
        decode_event(value, headers, max_bytes=max_bytes, received=RECEIVED)
    return caught.value.message


def with_json(**body: Any) -> bytes:
    base = {"specversion": "1.0", "id": "evt-1", "source": "urn:shop", "type": "ORDER_CREATED", "workspaceid": "ws-1"}
    base.update(body)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


def ce_headers(**attrs: str | None) -> Headers:
    base: dict[str, str | None] = {"specversion": "1.0", "id": "evt-1", "source": "urn:shop", "type": "ORDER_CREATED",
                                   "workspaceid": "ws-1"}
    base.update(attrs)
    return [(f"ce_{k}", v.encode()) for k, v in base.items() if v is not None] + [("content-type", b"application/json")]


@pytest.mark.parametrize("mode", [binary, structured])
def test_a_reference_event_in_either_mode_is_an_event_of_its_own_type(mode: Any) -> None:
    env, data = decode(*mode(reference()))
    assert env.type == EventIngested.TYPE == "fluxo.event.ingested.v1"
    assert data.event_type == "com.shop.order.created"
    assert data.user_id == "u-42" and data.conversation_id is None
    assert data.data == {"order": "A-1", "total": 42}
    assert data.occurred_at == AT and env.time == AT
    assert env.workspaceid == "ws-1" and env.subject == "u-42" and env.source == "urn:shop:orders"
    assert env.id == deterministic_id("cloudevent", "ws-1", "urn:shop:orders", "evt-1")
    assert env.correlationid == env.id and env.causationid is None and env.depth == 0
    assert EventIngested.model_validate(env.data) == data  # the envelope carries the event as its data


def test_both_modes_of_one_event_are_the_same_event() -> None:
    (b_env, b_data), (s_env, s_data) = decode(*binary(reference())), decode(*structured(reference()))
    assert b_data == s_data and b_env.id == s_env.id and b_env.time == s_env.time


def test_the_id_is_unique_per_workspace_source_and_id() -> None:
    ids = {
        decode(*structured(reference(**change)))[0].id
        for change in ({}, {"id": "evt-2"}, {"source": "urn:other"}, {"workspaceid": "ws-2"})
    }
    assert len(ids) == 4
    again = decode(*binary(reference(data={"different": "payload"})))[0].id
    assert again == decode(*structured(reference()))[0].id  # the spec: same source + id is the same event


def test_upper_case_codes_and_minimal_events() -> None:
    env, data = decode(with_json(), [])  # `specversion` alone says structured mode, no header needed
    assert data.event_type == "ORDER_CREATED" and data.data == {} and data.user_id is None
    assert data.occurred_at is None and env.time == RECEIVED  # no `time`: the broker's timestamp
    assert env.subject is None
    _, data = decode(with_json(data=None), [])
    assert data.data == {}
    env, data = decode(b"", ce_headers())  # binary mode with no data at all
    assert data.data == {} and env.time == RECEIVED
    _, data = decode(None, ce_headers())
    assert data.data == {}


def test_optional_attributes_and_extensions() -> None:
    env, data = decode(with_json(conversationid="c-9", correlationid="corr-1", causationid="cause-1",
                                 time="2026-12-03T10:30:00+01:00", data={"a": 1}), [])
    assert data.conversation_id == "c-9" and data.user_id is None and env.subject == "c-9"
    assert env.correlationid == "corr-1" and env.causationid == "cause-1"
    assert data.occurred_at == AT and env.time == AT
    _, data = decode(with_json(time="2026-12-03T09:30:00z"), [])
    assert data.occurred_at == AT
    _, data = decode(b'{"x": 1}', ce_headers(time="2026-12-03T09:30:00Z", subject="u-1", conversationid="c-1"))
    assert data.user_id == "u-1" and data.conversation_id == "c-1" and data.occurred_at == AT and data.data == {"x": 1}
    for media in ("application/json; charset=utf-8", "application/vnd.shop+json", "text/json"):
        headers = [h for h in ce_headers() if h[0] != "content-type"] + [("content-type", media.encode())]
        assert decode(b'{"x": 1}', headers)[1].data == {"x": 1}
        assert decode(with_json(datacontenttype=media, data={"x": 1}), [])[1].data == {"x": 1}
    no_content_type = [h for h in ce_headers() if h[0] != "content-type"]
    assert decode(b'{"x": 1}', no_content_type)[1].data == {"x": 1}
    # Header names are case-insensitive; unknown extensions are ignored.
    upper = [(name.upper(), value) for name, value in ce_headers(shopregion="eu")]
    assert decode(b"{}", upper)[1].event_type == "ORDER_CREATED"


@pytest.mark.parametrize("attribute", ["id", "source", "type", "workspaceid"])
def test_a_missing_required_attribute_is_refused_naming_it(attribute: str) -> None:
    assert attribute in refused(with_json(**{attribute: ...}), [])
    assert attribute in refused(with_json(**{attribute: ""}), [])
    assert f"ce_{attribute}" in refused(b"{}", ce_headers(**{attribute: None}))


def test_specversion_and_attribute_types() -> None:
    assert "specversion" in refused(with_json(specversion="0.3"), [])
    assert "specversion" in refused(b"{}", ce_headers(specversion="2.0"))
    assert "id" in refused(with_json(id=7), [])
    assert "workspaceid" in refused(with_json(workspaceid=["ws"]), [])
    assert "subject" in refused(with_json(subject=42), [])
    assert "time" in refused(with_json(time="yesterday"), [])
    assert "time zone" in refused(with_json(time="2026-12-03T09:30:00"), [])
    assert "time" in refused(b"{}", ce_headers(time="not a time"))


def test_bad_json_and_data_that_is_not_an_object() -> None:
    assert "not valid JSON" in refused(b'{"specversion": "1.0", "type": "X"', [("content-type", b"application/cloudevents+json")])
    assert "not valid JSON" in refused(b"{nope", ce_headers())
    for data, kind in (([1, 2], "an array"), ("text", "a string"), (3, "a number"), (True, "a boolean")):
        assert f"data must be a JSON object, got {kind}" in refused(with_json(data=data), [])
        assert f"data must be a JSON object, got {kind}" in refused(orjson.dumps(data), ce_headers())
    assert "data_base64" in refused(with_json(data_base64="aGk="), [])
    assert "datacontenttype" in refused(with_json(datacontenttype="text/plain", data={"a": 1}), [])
    text_headers = [h for h in ce_headers() if h[0] != "content-type"] + [("content-type", b"text/plain")]
    assert "content-type" in refused(b"hello", text_headers)
    assert "not UTF-8" in refused(b"{}", [*ce_headers(), ("ce_subject", b"\xff\xfe")])


def test_the_event_type_and_subject_follow_fluxos_rules_and_are_named_as_attributes() -> None:
    reason = refused(with_json(type="order created!"), [])
    assert reason.startswith("not a valid event: type:"), reason
    assert "subject" in refused(with_json(subject="u" * 201), [])
    assert "type" in refused(with_json(type="x" * 101), [])


def test_size_limit_and_tombstones() -> None:
    big = with_json(data={"pad": "x" * 2000})
    assert "over the 1000-byte limit" in refused(big, [], max_bytes=1000)
    assert "over the 1000-byte limit" in refused(b"{" + b" " * 2000 + b"}", ce_headers(), max_bytes=1000)
    with pytest.raises(PoisonRecord, match="tombstone"):
        decode_plain(None, [], max_bytes=LIMIT, received=RECEIVED)


def test_fluxos_own_records_decode_as_before() -> None:
    own = with_json(type="fluxo.event.ingested.v1", data={"event_type": "USER_CREATED", "user_id": "u-1"},
                    time="2026-12-03T09:30:00Z", id="7b0c6d0e-0d5c-4a57-9b4a-4d3f4c3b2a10")
    env, data = decode(own, [("content-type", b"application/cloudevents+json")])
    assert env.id == "7b0c6d0e-0d5c-4a57-9b4a-4d3f4c3b2a10" and data.event_type == "USER_CREATED"
    env, data = decode(b'{"event_type": "USER_CREATED"}', ce_headers(type="fluxo.event.ingested.v1", time="2026-12-03T09:30:00Z"))
    assert env.id == "evt-1" and data.event_type == "USER_CREATED"  # binary mode of our own envelope
    # An unknown type in Fluxo's namespace is an unknown record type, not a producer's event.
    assert "unknown record type" in refused(with_json(type="fluxo.event.ingested.v9", time="2026-12-03T09:30:00Z", data={}), [])
    assert "unknown record type" in refused(b"{}", ce_headers(type="fluxo.example.v1", time="2026-12-03T09:30:00Z"))
    with pytest.raises(PoisonRecord, match="in Fluxo's own namespace"):
        decode_plain(b"{}", ce_headers(type="fluxo.example.v1"), max_bytes=LIMIT, received=RECEIVED)
    # JSON that is no CloudEvent at all, and our own type with bad data.
    assert "not a valid CloudEvent" in refused(b'{"hello": "world"}', [])
    assert "event_type" in refused(with_json(type="fluxo.event.ingested.v1", time="2026-12-03T09:30:00Z",
                                             data={"event_type": ""}), [])
    assert "not valid JSON" in refused(b"{not json", [])


def test_is_plain_event() -> None:
    assert is_plain_event(with_json(), [])
    assert is_plain_event(with_json(type=...), [])  # a CloudEvent missing its type: tell the producer
    assert is_plain_event(b'{"type": "X"}', [("Content-Type", b"application/cloudevents+json")])
    assert is_plain_event(b"{not json", [("content-type", b"application/cloudevents+json; charset=utf-8")])
    assert is_plain_event(b"", ce_headers())
    assert is_plain_event(b"", ce_headers(type=None))
    assert not is_plain_event(with_json(type="fluxo.event.ingested.v1"), [])
    assert not is_plain_event(b"", ce_headers(type="fluxo.event.ingested.v1"))
    assert not is_plain_event(b'{"type": "X"}', [])  # no specversion and no CloudEvents content type
    assert not is_plain_event(b"[1]", [])
    assert not is_plain_event(b"{not json", [])
    assert not is_plain_event(None, [])
