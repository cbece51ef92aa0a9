"""A record to write, as the processors and the API decide it; the Kafka adapter sends it.

It lives here, not beside the Kafka clients, so the pure engine can return outputs without
importing aiokafka (the import contracts in pyproject.toml hold it to that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.codec import STRUCTURED_HEADERS, encode, record_headers
from schemas.envelope import Envelope
from schemas.topics import TopicSpec


@dataclass(frozen=True)
class Output:
    """A record to write: where, under which key, and what (None is a tombstone)."""

    topic: TopicSpec
    key: str
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: list(STRUCTURED_HEADERS))
    # Set only for changelogs, which must land in the partition of the input they follow.
    partition: int | None = None

    @classmethod
    def of(cls, topic: TopicSpec, key: str, envelope: Envelope) -> Output:
        # The registry is the published stream contract: a record type the
        # topic does not declare would reach consumers undocumented.
        if envelope.type not in topic.type_names:
            raise ValueError(f"{envelope.type} is not declared on {topic.name} (schemas/topics.py)")
        return cls(topic, key, encode(envelope), headers=record_headers(envelope))
