"""A watch on any contact's events goes to every partition of the events topic (executor shell)."""

from __future__ import annotations

from processors.services.executor import fan_out
from schemas.envelope import make_envelope
from schemas.outputs import Output
from schemas.records import TimerCancelled, WatchDropped
from schemas.topics import EVENTS, TIMERS


def _out(topic, key, data):  # type: ignore[no-untyped-def]
    return Output.of(topic, key, make_envelope(data, source="t", workspace_id="ws-1", execution_id="ex-1"))


def test_any_contacts_watch_is_written_to_every_partition_and_the_rest_as_they_are() -> None:
    anyone = _out(EVENTS, "ws-1:*", WatchDropped(watch_id="w", execution_id="ex-1"))
    own = _out(EVENTS, "ws-1:u-1", WatchDropped(watch_id="w2", execution_id="ex-1", subject="u-1"))
    timer = _out(TIMERS, "ex-1", TimerCancelled(timer_id="t", execution_id="ex-1"))
    spread = fan_out([timer, anyone, own], 3)
    assert [(o.key, o.partition) for o in spread] == [
        ("ex-1", None), ("ws-1:*", 0), ("ws-1:*", 1), ("ws-1:*", 2), ("ws-1:u-1", None),
    ]
    assert fan_out([timer, own], 3) == [timer, own]
