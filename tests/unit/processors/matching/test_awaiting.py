"""The matcher's watch books (processors/matching/awaiting.py): which event answers a watch,
whatever the order the registration and the events are read in, duplicates included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.matching import awaiting
from schemas.records import EventIngested, ExecutionConverted, WatchRegistered, WatchResolved

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def registration(kind: str = "wait", lookback: float = 0, condition: str | None = "event.data.order_id == input_data.order_id",
                 expires: float | None = 3600, watch_id: str = "w-1", cause: str | None = None) -> WatchRegistered:
    return WatchRegistered(
        watch_id=watch_id, execution_id="ex-1", workflow_id="wf-1", kind=kind, event_type="ORDER_PAID",  # type: ignore[arg-type]
        condition=condition, context={"input_data": {"order_id": "A-1"}}, subject="u-1", started_at=T0,
        lookback_seconds=lookback, expires_at=None if expires is None else T0 + timedelta(seconds=expires),
        node_id="wait", attempt=1, cause_event_id=cause,
    )


def view(event_id: str, seconds: float, event_type: str = "ORDER_PAID", order_id: str = "A-1") -> dict[str, Any]:
    return awaiting.event_view(EventIngested(event_type=event_type, user_id="u-1", data={"order_id": order_id}),
                               event_id, T0 + timedelta(seconds=seconds))


def test_an_event_in_the_window_answers_the_watch_once() -> None:
    book, resolved = awaiting.register(awaiting.empty(), registration())
    assert resolved == []
    book, resolved = awaiting.on_event(book, view("e1", 5), 0)
    assert [r.event["id"] for r in resolved] == ["e1"]
    book, again = awaiting.on_event(book, view("e2", 6), 0)
    assert again == [] and book["watches"] == []


def test_other_types_other_orders_and_late_events_do_not_answer() -> None:
    book, _ = awaiting.register(awaiting.empty(), registration())
    for v in (view("e1", 5, event_type="OTHER"), view("e2", 6, order_id="B"), view("e3", 3601)):
        book, resolved = awaiting.on_event(book, v, 0)
        assert resolved == []
    assert [w["watch_id"] for w in book["watches"]] == ["w-1"]  # e3 is past its window: it waits for its expiry


def test_lookback_reaches_events_before_the_start_and_only_that_far() -> None:
    book, _ = awaiting.on_event(awaiting.empty(), view("early", -20), 30)
    book, _ = awaiting.on_event(book, view("recent", -2), 30)
    _, resolved = awaiting.register(book, registration(lookback=10))
    assert [r.event["id"] for r in resolved] == ["recent"]
    _, resolved = awaiting.register(book, registration(lookback=0, watch_id="w-2"))
    assert resolved == []


def test_an_event_stamped_after_the_start_but_read_before_the_registration_is_not_lost() -> None:
    book, _ = awaiting.on_event(awaiting.empty(), view("e1", 0.5), None)
    assert book["recent"] == []  # not a watched type, and nobody watches it yet
    book, _ = awaiting.on_event(awaiting.empty(), view("e1", 0.5), 0)
    _, resolved = awaiting.register(book, registration())
    assert [r.event["id"] for r in resolved] == ["e1"]


def test_the_starting_event_is_not_its_own_exit_or_goal() -> None:
    book, _ = awaiting.register(awaiting.empty(), registration(kind="exit", condition=None, expires=None, cause="e0"))
    book, resolved = awaiting.on_event(book, view("e0", 0), 0)
    assert resolved == []
    _, resolved = awaiting.on_event(book, view("e1", 1), 0)
    assert [r.watch["kind"] for r in resolved] == ["exit"]


def test_a_condition_error_fails_a_wait_and_is_no_match_for_an_exit() -> None:
    bad = "event.data.order_id > 3"
    _, resolved = awaiting.on_event(awaiting.register(awaiting.empty(), registration(condition=bad))[0], view("e1", 1), 0)
    assert resolved[0].error is not None and resolved[0].error.startswith("match:")
    _, resolved = awaiting.on_event(awaiting.register(awaiting.empty(), registration(kind="exit", condition=bad))[0], view("e1", 1), 0)
    assert resolved == []


def test_answers_are_a_resolution_for_waits_and_a_conversion_for_goals() -> None:
    _, wait = awaiting.answer(awaiting.Resolution(registration().model_dump(mode="json"), view("e1", 1)))
    assert isinstance(wait, WatchResolved) and wait.node_id == "wait" and wait.event["id"] == "e1"
    goal_id, goal = awaiting.answer(awaiting.Resolution(registration(kind="goal").model_dump(mode="json"), view("e1", 1)))
    assert isinstance(goal, ExecutionConverted) and goal.converted_at == T0 + timedelta(seconds=1)
    assert goal_id == awaiting.answer(awaiting.Resolution(registration(kind="goal").model_dump(mode="json"), view("e2", 2)))[0]


def test_a_dropped_watch_is_gone_and_a_duplicate_registration_is_not_watched_again() -> None:
    book, _ = awaiting.register(awaiting.empty(), registration())
    book = awaiting.drop(book, "w-1")
    book, resolved = awaiting.register(book, registration())
    assert resolved == [] and book["watches"] == []


def test_the_recent_buffer_is_bounded() -> None:
    book = awaiting.empty()
    for i in range(awaiting.RECENT_MAX + 20):
        book, _ = awaiting.on_event(book, view(f"e{i}", i * 0.1), 3600)
    assert len(book["recent"]) == awaiting.RECENT_MAX
    book, _ = awaiting.on_event(book, view("late", 10_000), 0)
    assert [v["id"] for v in book["recent"]] == ["late"]  # older than the grace window


# Events of one subject, in their (Kafka) order: increasing times around the wait's start.
_events = st.lists(
    st.tuples(st.floats(min_value=-30, max_value=40, allow_nan=False), st.sampled_from(["ORDER_PAID", "OTHER"]), st.sampled_from(["A-1", "B"])),
    max_size=8,
).map(lambda items: [view(f"e{i}", t, kind, order) for i, (t, kind, order) in enumerate(sorted(items, key=lambda x: x[0]))])


def _expected(events: list[dict[str, Any]], lookback: float) -> str | None:
    since = T0 - timedelta(seconds=lookback)
    for v in events:
        if v["type"] == "ORDER_PAID" and v["data"]["order_id"] == "A-1" and datetime.fromisoformat(v["time"]) >= since:
            return str(v["id"])
    return None


@settings(max_examples=300, deadline=None)
@given(events=_events, at=st.integers(min_value=0, max_value=8), lookback=st.sampled_from([0, 10]),
       duplicates=st.lists(st.integers(min_value=0, max_value=16), max_size=4))
def test_property_registration_order_and_duplicates_do_not_change_the_answer(
    events: list[dict[str, Any]], at: int, lookback: float, duplicates: list[int]
) -> None:
    """Wherever the registration lands among the subject's events (it races with them), and
    whatever is read twice (an event re-delivered, the registration re-sent), the watch is
    answered once, by the first matching event of its window in the subject's order."""
    reg = registration(lookback=lookback)
    feed: list[WatchRegistered | dict[str, Any]] = [*events]
    feed.insert(min(at, len(feed)), reg)
    for d in duplicates:
        if feed:
            item = feed[d % len(feed)]
            feed.insert(min(d % len(feed) + 1 + d // 8, len(feed)), item)  # a re-delivery: later, never earlier
    book = awaiting.empty()
    answers: list[str] = []
    for item in feed:
        if isinstance(item, WatchRegistered):
            book, resolved = awaiting.register(book, item)
        else:
            book, resolved = awaiting.on_event(book, item, lookback)
        answers += [str(r.event["id"]) for r in resolved]
    # Only events read after the registration was first seen, or kept before it, can answer;
    # with events that all fall within the grace window, that is every one of them.
    expected = _expected(events, lookback)
    assert answers == ([] if expected is None else [expected])


def test_a_book_is_its_own_state_kind_in_the_matchers_changelog() -> None:
    import orjson

    from schemas.state_versions import MATCHER_STATE_CODEC

    book, _ = awaiting.register(awaiting.empty(), registration())
    raw = MATCHER_STATE_CODEC.encode("watches:ws-1:u-1", book)
    assert orjson.loads(raw)["k"] == "watches"
    assert MATCHER_STATE_CODEC.decode("watches:ws-1:u-1", raw) == book
    assert orjson.loads(MATCHER_STATE_CODEC.encode("ws-1:u-1", {"profile": {}, "runs": {}}))["k"] == "subject"


def test_a_waits_timeout_is_decided_in_the_subjects_order() -> None:
    book, _ = awaiting.register(awaiting.empty(), registration(expires=60))
    # The payment was written before the timeout fired but read late (the matcher was down).
    late_read, resolved = awaiting.on_event(book, view("e1", 30), 0)
    assert [r.event["id"] for r in resolved] == ["e1"]
    _, expired = awaiting.expire(late_read, "w-1")
    assert expired == []  # answered already: the expiry changes nothing
    # No payment before the expiry request: timed out; one after it finds no watch.
    book, expired = awaiting.expire(book, "w-1")
    assert [r.timed_out for r in expired] == [True]
    _, resolved = awaiting.on_event(book, view("e2", 30), 0)
    assert resolved == []


def test_an_event_after_the_window_does_not_answer_and_the_wait_waits_for_its_expiry() -> None:
    book, _ = awaiting.register(awaiting.empty(), registration(expires=60))
    book, resolved = awaiting.on_event(book, view("late", 61), 0)
    assert resolved == [] and [w["watch_id"] for w in book["watches"]] == ["w-1"]
    _, expired = awaiting.expire(book, "w-1")
    assert [r.timed_out for r in expired] == [True]
