"""Encoding and decoding of records on Kafka. Pure: bytes in, models out.

Structured mode (the whole CloudEvent as the JSON value) is what Fluxo writes.
Binary mode (attributes as `ce_*` headers, data as the value) is accepted from
direct producers too, since the CloudEvents Kafka binding allows both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import orjson
from pydantic import ValidationError

from schemas.envelope import CONTENT_TYPE, Envelope, RecordData
from schemas.errors import PoisonRecord
from schemas.records import RECORD_TYPES

Headers = Sequence[tuple[str, bytes]]
T = TypeVar("T", bound=RecordData)

STRUCTURED_HEADERS: list[tuple[str, bytes]] = [("content-type", CONTENT_TYPE.encode())]


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
        attrs: dict[str, object] = {}
        for name, raw in header_map.items():
            if name.startswith("ce_"):
                try:
                    attrs[name[3:]] = raw.decode()
                except UnicodeDecodeError:
                    raise PoisonRecord(f"header {name} is not UTF-8") from None
        attrs["data"] = body
        body = attrs
    if not isinstance(body, dict):
        raise PoisonRecord("value is not a JSON object")
    try:
        return Envelope.model_validate(body)
    except ValidationError as exc:
        raise PoisonRecord(f"not a valid CloudEvent: {_describe(exc)}") from None


def decode_data(envelope: Envelope) -> RecordData:
    model = RECORD_TYPES.get(envelope.type)
    if model is None:
        raise PoisonRecord(f"unknown record type {envelope.type!r}")
    try:
        return model.model_validate(envelope.data)
    except ValidationError as exc:
        raise PoisonRecord(f"invalid {envelope.type} data: {_describe(exc)}") from None


def decode(
    value: bytes | None, headers: Headers = (), *, max_bytes: int = 1024 * 1024
) -> tuple[Envelope, RecordData]:
    envelope = decode_envelope(value, headers, max_bytes=max_bytes)
    return envelope, decode_data(envelope)


def decode_as(model: type[T], envelope: Envelope) -> T:
    data = decode_data(envelope)
    if not isinstance(data, model):
        raise PoisonRecord(f"expected {model.TYPE}, got {envelope.type}")
    return data
