"""Turning an accepted event into the record every processor reads."""

from __future__ import annotations

from processors.matching.triggers import subject_of
from schemas.envelope import Envelope, deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import EventIngested
from schemas.topics import EVENTS


def event_record(
    event: EventIngested, *, workspace_id: str, source: str, idempotency_key: str | None = None,
    actor: tuple[str, str, str | None] | None = None,
) -> tuple[str, Output]:
    """The event's id (its event_log_id) and the record to write.

    With the caller's idempotency key the id is derived from it: a client that
    re-sends after a lost answer (API restarted, timeout) writes the same event
    again, and the matcher's execution ids, derived from the event id, make the
    copy start nothing new. `actor` (type, id, acting user) says who sent it: the
    envelope's `actortype`/`actorid`/`actoruser`.
    """
    event_id = deterministic_id("event", workspace_id, idempotency_key) if idempotency_key else None
    envelope: Envelope = make_envelope(event, source=source, workspace_id=workspace_id, id=event_id, actor=actor)
    subject = subject_of(event, envelope.id)
    envelope = envelope.model_copy(update={"subject": subject})
    # Keyed by workspace + subject: one subject's events stay in order, on one partition.
    return envelope.id, Output.of(EVENTS, f"{workspace_id}:{subject}", envelope)
