"""Plain CloudEvents on fluxo.events.v1: a producer's own event, read as a Fluxo event. Pure.

A producer that knows nothing of Fluxo's record types writes a standard
CloudEvent 1.0 (Kafka protocol binding, structured or binary content mode):
`type` is its own event type (`com.shop.order.created`, `ORDER_CREATED`),
`subject` the user id, `data` the payload (a JSON object), and our
`workspaceid` extension says whose event it is. It is read as a
`fluxo.event.ingested.v1` of that event type, so the matcher and everything
after it see one kind of event whoever wrote it.

Types in the `fluxo.` namespace are Fluxo's own records and are never read as
a producer's event type: an unknown `fluxo.` type stays an unknown record type.

Anything that cannot be such an event raises PoisonRecord with the reason (the
consumer dead-letters the record). Whether the workspace exists is not known
here: the matcher checks it against the definitions it follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.envelope import CONTENT_TYPE, SPEC_VERSION, Envelope, deterministic_id
from schemas.errors import PoisonRecord
from schemas.records import EventIngested

Headers = Sequence[tuple[str, bytes]]

FLUXO_NAMESPACE = "fluxo."
# Context attributes the CloudEvents spec requires, and Fluxo's required extension.
REQUIRED = ("id", "source", "type", "workspaceid")
# Optional string attributes read from a plain event (extensions are lower-case per the spec).
OPTIONAL = ("subject", "time", "datacontenttype", "conversationid", "correlationid", "causationid")
# EventIngested's fields, named by the CloudEvents attribute that filled them (for the reason).
_ATTRIBUTE_OF = {"event_type": "type", "user_id": "subject", "conversation_id": "conversationid", "occurred_at": "time"}


def is_plain_type(record_type: object) -> bool:
    """A producer's own event type, as opposed to one of Fluxo's record types."""
    return isinstance(record_type, str) and not record_type.startswith(FLUXO_NAMESPACE)


def is_plain_event(value: bytes | None, headers: Headers) -> bool:
    """Whether a record is a CloudEvent whose type is a producer's own (or missing), not one of
    Fluxo's record types: binary mode (a `ce_specversion` header) or structured mode (a JSON
    object with `specversion`, or the `application/cloudevents+json` content type)."""
    header_map = {k.lower(): v for k, v in headers}
    if "ce_specversion" in header_map:
        record_type: object = header_map.get("ce_type", b"").decode(errors="replace")
    else:
        if value is None:
            return False
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError:
            return _structured(headers)  # said to be a CloudEvent, and not JSON: tell the producer
        if not isinstance(body, dict) or ("specversion" not in body and not _structured(headers)):
            return False
        record_type = body.get("type")
    return not (isinstance(record_type, str) and record_type.startswith(FLUXO_NAMESPACE))


def decode_plain(
    value: bytes | None, headers: Headers, *, max_bytes: int, received: datetime
) -> tuple[Envelope, EventIngested]:
    """A plain CloudEvent as a Fluxo event envelope and its `fluxo.event.ingested.v1` data.

    `received` (the Kafka record's timestamp) stands in for a missing `time`. The
    event's id is derived from (workspace, source, id): the spec makes source + id
    unique, so a producer's re-send is the same Fluxo event and starts nothing new.
    """
    if value is not None and len(value) > max_bytes:
        raise PoisonRecord(f"record is {len(value)} bytes, over the {max_bytes}-byte limit")
    header_map = {k.lower(): v for k, v in headers}
    if "ce_specversion" in header_map:
        attrs, data = _binary(value, header_map)
    else:
        attrs, data = _structured_event(value)
    specversion = attrs.get("specversion")
    if specversion != SPEC_VERSION:
        raise PoisonRecord(f"not a valid CloudEvent: specversion must be {SPEC_VERSION!r}, got {specversion!r}")
    for name in REQUIRED:
        if not isinstance(attrs.get(name), str) or not attrs[name]:
            where = "the ce_" + name + " header" if "ce_specversion" in header_map else name
            raise PoisonRecord(f"not a valid CloudEvent: {where} is missing (a non-empty string is required)")
    for name in OPTIONAL:
        if name in attrs and attrs[name] is not None and not isinstance(attrs[name], str):
            raise PoisonRecord(f"not a valid CloudEvent: {name} must be a string")
    record_type: str = attrs["type"]
    if not is_plain_type(record_type):
        raise PoisonRecord(f"{record_type!r} is in Fluxo's own namespace: not a producer's event type")
    _check_media(attrs.get("datacontenttype"), "datacontenttype")
    if not isinstance(data, dict):
        raise PoisonRecord(f"data must be a JSON object, got {_json_kind(data)}")
    occurred = _time(attrs.get("time"))
    try:
        event = EventIngested(
            event_type=record_type, data=data, user_id=attrs.get("subject") or None,
            conversation_id=attrs.get("conversationid") or None, occurred_at=occurred,
        )
    except ValidationError as exc:
        raise PoisonRecord(f"not a valid event: {_describe(exc)}") from None
    workspace_id: str = attrs["workspaceid"]
    event_id = deterministic_id("cloudevent", workspace_id, attrs["source"], attrs["id"])
    envelope = Envelope(
        id=event_id, source=attrs["source"], type=EventIngested.TYPE, subject=event.user_id or event.conversation_id,
        time=occurred or received, workspaceid=workspace_id,
        correlationid=attrs.get("correlationid") or event_id, causationid=attrs.get("causationid") or None,
        data=event.model_dump(mode="json"),
    )
    return envelope, event


def _structured(headers: Headers) -> bool:
    for name, raw in headers:
        if name.lower() == "content-type":
            return raw.split(b";")[0].strip().lower() == CONTENT_TYPE.encode()
    return False


def _structured_event(value: bytes | None) -> tuple[dict[str, Any], Any]:
    if value is None:
        raise PoisonRecord("empty value (tombstone) where a CloudEvent was expected")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonRecord(f"value is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PoisonRecord("value is not a JSON object")
    if "data_base64" in body:
        raise PoisonRecord("data_base64 is not accepted: Fluxo events carry JSON data (a JSON object in data)")
    attrs = {k: v for k, v in body.items() if k != "data"}
    data = body.get("data")
    return attrs, {} if data is None else data


def binary_attributes(header_map: Mapping[str, bytes]) -> dict[str, Any]:
    """A binary-mode CloudEvent's attributes, from its `ce_` Kafka headers (names lower case)."""
    attrs: dict[str, Any] = {}
    for name, raw in header_map.items():
        if name.startswith("ce_"):
            try:
                attrs[name[3:]] = raw.decode()
            except UnicodeDecodeError:
                raise PoisonRecord(f"header {name} is not UTF-8") from None
    return attrs


def _binary(value: bytes | None, header_map: Mapping[str, bytes]) -> tuple[dict[str, Any], Any]:
    attrs = binary_attributes(header_map)
    # In binary mode the Kafka content-type header is the data's media type (the binding
    # maps datacontenttype to it).
    media = header_map.get("content-type")
    _check_media(media.decode(errors="replace") if media is not None else None, "the content-type header")
    if not value:
        return attrs, {}
    try:
        return attrs, orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonRecord(f"binary-mode data is not valid JSON: {exc}") from None


def _check_media(media: str | None, where: str) -> None:
    if media is None:
        return
    kind = media.split(";")[0].strip().lower()
    if kind in ("application/json", "text/json") or kind.endswith("+json"):
        return
    raise PoisonRecord(f"{where} is {media!r}: Fluxo events carry JSON data (application/json)")


def _time(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        # RFC 3339 allows a lower-case z; fromisoformat takes only an upper-case one.
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise PoisonRecord(f"not a valid CloudEvent: time {value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise PoisonRecord(f"not a valid CloudEvent: time {value!r} has no time zone (RFC 3339 requires one)")
    return parsed.astimezone(UTC)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        loc = [str(p) for p in item["loc"]]
        if loc:
            loc[0] = _ATTRIBUTE_OF.get(loc[0], loc[0])
        parts.append(f"{'.'.join(loc) or '(root)'}: {item['msg']}")
    return "; ".join(parts)
