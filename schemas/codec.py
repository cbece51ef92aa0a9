"""Encoding and decoding of records on Kafka. Pure: bytes in, models out.

Structured mode (the whole CloudEvent as the JSON value) is what Fluxo writes.
Binary mode (attributes as `ce_*` headers, data as the value) is accepted from
direct producers too, since the CloudEvents Kafka binding allows both.

This is the one decode path: every consumer (processors, projections, the
definitions view, the dry run, replay) reads records through `decode_record`,
`decode` or `decode_as`, so a record of a retired type is upcast here
(schemas/upcasting.py) and nothing downstream ever sees an old type.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, Union

import orjson
from pydantic import Field, TypeAdapter, ValidationError, create_model

from schemas.cloudevents import binary_attributes, decode_plain, is_plain_event
from schemas.envelope import CONTENT_TYPE, Envelope, RecordData
from schemas.errors import PoisonRecord
from schemas.records import RECORD_TYPES
from schemas.upcasting import UPCASTERS

Headers = Sequence[tuple[str, bytes]]
T = TypeVar("T", bound=RecordData)

STRUCTURED_HEADERS: list[tuple[str, bytes]] = [("content-type", CONTENT_TYPE.encode())]
# Copies of the envelope's `type` and `source` as Kafka headers, on everything Fluxo
# writes: a consumer can pass over records it does not act on without parsing them.
TYPE_HEADER = "fluxo-type"
SOURCE_HEADER = "fluxo-source"


def record_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    return [*STRUCTURED_HEADERS, (TYPE_HEADER, envelope.type.encode()), (SOURCE_HEADER, envelope.source.encode())]


def encode(envelope: Envelope) -> bytes:
    return envelope.to_bytes()


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def decode_envelope(value: bytes | None, headers: Headers = (), *, max_bytes: int) -> Envelope:
    if value is None:
        raise PoisonRecord("empty value (tombstone) where a record was expected")
    if len(value) > max_bytes:
        raise PoisonRecord(f"record is {len(value)} bytes, over the {max_bytes}-byte limit")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonRecord(f"value is not valid JSON: {exc}") from None
    header_map = {k.lower(): v for k, v in headers}
    if "ce_specversion" in header_map:
        # Binary content mode: attributes travel as headers, data is the value.
        attrs = binary_attributes(header_map)
        attrs["data"] = body
        body = attrs
    if not isinstance(body, dict):
        raise PoisonRecord("value is not a JSON object")
    try:
        return Envelope.model_validate(body)
    except ValidationError as exc:
        raise PoisonRecord(f"not a valid CloudEvent: {_describe(exc)}") from None


def decode_current(envelope: Envelope) -> tuple[Envelope, RecordData]:
    """The envelope as of its current type, and its data validated by that type's model.

    A current type costs one dict lookup, as before upcasters. A retired type is
    upcast (its chain, then the model check) before validation; the envelope
    keeps its id, time, source, … and takes the current `type` and data.
    """
    model = RECORD_TYPES.get(envelope.type)
    data = envelope.data
    upcast_from = ""
    if model is None:
        record_type, model, data = UPCASTERS.upcast(envelope.type, data)
        upcast_from = f" (upcast from {envelope.type})"
        envelope = envelope.model_copy(update={"type": record_type, "data": data})
    try:
        return envelope, model.model_validate(data)
    except ValidationError as exc:
        raise PoisonRecord(f"invalid {envelope.type} data{upcast_from}: {_describe(exc)}") from None


def decode_data(envelope: Envelope) -> RecordData:
    return decode_current(envelope)[1]


class _TypedEnvelope(Envelope):
    """An envelope decoded with its data model in place of the `data` dict."""

    def to_bytes(self) -> bytes:
        # Like the producer wrote it: every data field, None ones included.
        body = self.model_dump(mode="json", exclude_none=True, exclude={"data"})
        body["data"] = self.data.model_dump(mode="json")  # type: ignore[attr-defined]
        return orjson.dumps(body)


def _typed_envelopes() -> TypeAdapter[Any]:
    """One envelope model per record type (`data` typed, `type` a literal), as a tagged union.

    Validating the record's bytes against it in one pass (pydantic-core parses the
    JSON itself and picks the model by `type`) costs about half of parsing with
    orjson, validating the envelope, then validating its `data` dict again.
    """
    members = []
    for name, model in RECORD_TYPES.items():
        tag: Any = Literal[name]
        members.append(create_model(f"Envelope_{model.__name__}", __base__=_TypedEnvelope, type=(tag, ...), data=(model, ...)))
    union: Any = Annotated[Union[tuple(members)], Field(discriminator="type")]  # noqa: UP007
    return TypeAdapter(union)


_TYPED: TypeAdapter[Any] | None = None


def decode(
    value: bytes | None, headers: Headers = (), *, max_bytes: int = 1024 * 1024
) -> tuple[Envelope, RecordData]:
    return decode_current(decode_envelope(value, headers, max_bytes=max_bytes))


def decode_record(
    value: bytes | None, headers: Headers = (), *, max_bytes: int = 1024 * 1024
) -> tuple[Envelope, RecordData]:
    """`decode` for consumers on the hot path (processors, projections): same outcome, faster.

    A structured-mode record is validated in one pass; its envelope is then an
    `Envelope` subclass whose `data` is the record model itself (it dumps and
    re-validates like the dict would, but does not compare equal to a plain
    `Envelope`). Anything that pass refuses, and binary-mode records, take
    `decode`'s step-by-step path, which accepts them or raises the precise
    PoisonRecord. Records of retired types are among those (the union holds
    current types only): `decode` upcasts them.
    """
    global _TYPED
    if value is not None and len(value) <= max_bytes and not any(k.lower() == "ce_specversion" for k, _ in headers):
        if _TYPED is None:
            _TYPED = _typed_envelopes()
        try:
            typed = _TYPED.validate_json(value)
        except ValidationError:
            pass
        else:
            return typed, typed.data
    return decode(value, headers, max_bytes=max_bytes)


def decode_event(
    value: bytes | None, headers: Headers = (), *, max_bytes: int, received: datetime
) -> tuple[Envelope, RecordData]:
    """`decode_record` for fluxo.events.v1, where producers write their own CloudEvents too.

    Fluxo's own envelope (`fluxo.event.ingested.v1`) decodes as everywhere else. A
    plain CloudEvent, whose `type` is the producer's event type
    (schemas/cloudevents.py), is read as a `fluxo.event.ingested.v1` of that type;
    `received` (the Kafka timestamp) stands in for a missing `time`. A binary-mode
    record says which it is in its `ce_type` header, so it is decoded once; a
    structured one is tried as Fluxo's first (the hot path) and as a plain event
    only when that fails.
    """
    for name, _ in headers:
        if name.lower() == "ce_type":
            if is_plain_event(value, headers):
                return decode_plain(value, headers, max_bytes=max_bytes, received=received)
            break
    try:
        return decode_record(value, headers, max_bytes=max_bytes)
    except PoisonRecord:
        if value is None or len(value) > max_bytes or not is_plain_event(value, headers):
            raise
    return decode_plain(value, headers, max_bytes=max_bytes, received=received)


def decode_as(model: type[T], envelope: Envelope) -> T:
    data = decode_data(envelope)
    if not isinstance(data, model):
        raise PoisonRecord(f"expected {model.TYPE}, got {envelope.type}")
    return data
