"""Which trigger-log records the matcher skips unread: its own (read back only because the
trigger log is an input for webhook calls). A flow decision read as an event would be
dead-lettered as 'does not belong on the events topic'."""

from __future__ import annotations

from processors.services.matcher import TriggerMatcher
from schemas.codec import TYPE_HEADER
from schemas.records import EventIngested, StartDecided, TriggerEvaluated, WebhookCalled


def test_the_matcher_skips_its_own_evaluations_and_flow_decisions_and_reads_calls_and_events() -> None:
    matcher = TriggerMatcher()
    for own in (TriggerEvaluated, StartDecided):
        assert not matcher.wants([(TYPE_HEADER, own.TYPE.encode())]), own.TYPE
    for wanted in (WebhookCalled, EventIngested):
        assert matcher.wants([(TYPE_HEADER, wanted.TYPE.encode())]), wanted.TYPE
    assert matcher.wants([("content-type", b"application/cloudevents+json")])  # no type header: decoded, then judged
