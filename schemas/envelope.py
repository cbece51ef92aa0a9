"""CloudEvents 1.0 envelope with Fluxo's extension attributes, in structured mode.

A record's Kafka value is the whole CloudEvent as JSON
(`content-type: application/cloudevents+json`), so an analytics consumer needs
nothing of ours to read it. Extension names follow the CloudEvents rule
(lower-case letters and digits only).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/cloudevents+json"
SPEC_VERSION = "1.0"
SOURCE_PREFIX = "urn:fluxo:"


class RecordData(BaseModel):
    """Base of every record's `data`: frozen, strict, with its CloudEvents type."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: str = SPEC_VERSION
    id: str
    source: str
    type: str
    subject: str | None = None
    time: datetime
    datacontenttype: str = "application/json"
    workspaceid: str
    executionid: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    # How many records deep the causation chain is; guards trigger loops.
    depth: int = Field(default=0, ge=0)
    # Who handed the record to Fluxo, on what the ingest API writes (its audit trail: ingest
    # calls write no audit record). `actortype` is user (a JWT) or api_key; `actorid` the
    # user's or the key's id; `actoruser` the user a key acts as. Absent elsewhere.
    actortype: str | None = None
    actorid: str | None = None
    actoruser: str | None = None
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))


# Shifts this process's clock: lets a test or a demo produce history on other
# days through the real pipeline. Set once at start from the settings.
_clock_offset = timedelta(0)


def set_clock_offset(seconds: float) -> None:
    global _clock_offset
    _clock_offset = timedelta(seconds=seconds)


def now() -> datetime:
    """The time every record and every decision of this process uses."""
    return datetime.now(UTC) + _clock_offset


def new_id() -> str:
    return str(uuid.uuid4())


def make_envelope(
    data: RecordData,
    *,
    source: str,
    workspace_id: str,
    id: str | None = None,
    subject: str | None = None,
    time: datetime | None = None,
    execution_id: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    depth: int = 0,
    actor: tuple[str, str, str | None] | None = None,
) -> Envelope:
    record_id = id or new_id()
    return Envelope(
        id=record_id,
        source=f"{SOURCE_PREFIX}{source}",
        type=data.TYPE,
        subject=subject,
        time=time or now(),
        workspaceid=workspace_id,
        executionid=execution_id,
        correlationid=correlation_id or record_id,
        causationid=causation_id,
        depth=depth,
        actortype=actor[0] if actor else None,
        actorid=actor[1] if actor else None,
        actoruser=actor[2] if actor else None,
        data=data.model_dump(mode="json"),
    )


def deterministic_id(*parts: str) -> str:
    """The same inputs always give the same id: re-delivery never makes a second record."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fluxo:" + ":".join(parts)))
