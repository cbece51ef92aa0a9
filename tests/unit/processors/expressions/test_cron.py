"""Unit tests for processors.expressions.cron: reading, validating and expanding cron schedules.

The arithmetic oracle used by the property tests: in a zone with a fixed UTC
offset, a schedule with period p seconds (p divides a day) fires exactly at the
instants t where (epoch(t) + offset) % p == 0. It is independent of croniter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from processors.expressions.cron import (
    MAX_FIRES_PER_TICK,
    CronError,
    due_fires,
    schedule_of,
    validate_schedule,
)

HUGE = timedelta(days=3650)  # a catch-up window that never skips anything in these tests
T0 = datetime(2024, 1, 1, 10, 0, 0, tzinfo=UTC)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def every(start: datetime, step: timedelta, count: int) -> list[datetime]:
    return [start + step * i for i in range(count)]


# ---------------------------------------------------------------------------
# schedule_of
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["schedule", "cron", "cron_expression", "expression"])
def test_schedule_of_reads_each_accepted_key(key: str) -> None:
    assert schedule_of({key: "*/5 * * * *"}) == "*/5 * * * *"


def test_schedule_of_precedence_is_schedule_cron_cron_expression_expression() -> None:
    config = {
        "expression": "4 * * * *",
        "cron_expression": "3 * * * *",
        "cron": "2 * * * *",
        "schedule": "1 * * * *",
    }
    assert schedule_of(config) == "1 * * * *"
    del config["schedule"]
    assert schedule_of(config) == "2 * * * *"
    del config["cron"]
    assert schedule_of(config) == "3 * * * *"
    del config["cron_expression"]
    assert schedule_of(config) == "4 * * * *"


def test_schedule_of_strips_surrounding_whitespace() -> None:
    assert schedule_of({"cron": "  0 9 * * *\n"}) == "0 9 * * *"
    assert schedule_of({"schedule": "\t* * * * * *  "}) == "* * * * * *"


@pytest.mark.parametrize("blank", ["", " ", "\t\n  "])
def test_schedule_of_skips_blank_strings_and_falls_through(blank: str) -> None:
    assert schedule_of({"schedule": blank}) is None
    assert schedule_of({"schedule": blank, "cron": blank, "expression": "0 0 * * *"}) == "0 0 * * *"


@pytest.mark.parametrize(
    "value", [None, 5, 5.0, True, ["* * * * *"], {"cron": "* * * * *"}, b"* * * * *", ("*",)]
)
def test_schedule_of_skips_non_string_values(value: Any) -> None:
    assert schedule_of({"schedule": value}) is None
    assert schedule_of({"schedule": value, "cron_expression": "*/2 * * * *"}) == "*/2 * * * *"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"timezone": "UTC"},
        {"Schedule": "* * * * *"},
        {"cron ": "* * * * *"},
        {"input_data": {"schedule": "* * * * *"}},
    ],
)
def test_schedule_of_none_without_an_accepted_key(config: dict[str, Any]) -> None:
    assert schedule_of(config) is None


def test_schedule_of_does_not_validate() -> None:
    assert schedule_of({"schedule": "not a cron"}) == "not a cron"


def test_schedule_of_accepts_any_mapping() -> None:
    assert schedule_of(MappingProxyType({"cron": "0 * * * *"})) == "0 * * * *"


# ---------------------------------------------------------------------------
# validate_schedule
# ---------------------------------------------------------------------------

VALID = [
    "* * * * *",
    "*/5 * * * *",
    "0 9 * * *",
    "0 9 * * MON-FRI",
    "0 0 1 JAN *",
    "15,45 8-18 * * 1-5",
    "* * * * * *",  # seconds as the 6th field
    "* * * * * */10",
    "@hourly",
    "@daily",
    "@weekly",
]
INVALID = [
    "",
    "   ",
    "* * *",
    "* * * *",
    "61 * * * *",
    "* 24 * * *",
    "* * 32 * *",
    "* * * 13 *",
    "not a cron",
    "a b c d e",
    "* * * * * 60",
    "* * * * * * * *",
    "*/0 * * * *",
]


@pytest.mark.parametrize("expression", VALID)
@pytest.mark.parametrize(
    "tz", [None, "", "UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]
)
def test_validate_schedule_accepts_valid_expressions_and_zones(
    expression: str, tz: str | None
) -> None:
    validate_schedule(expression, tz)  # does not raise


def test_validate_schedule_tz_defaults_to_utc() -> None:
    validate_schedule("0 9 * * *")


@pytest.mark.parametrize("expression", INVALID)
def test_validate_schedule_rejects_invalid_expressions(expression: str) -> None:
    with pytest.raises(CronError) as info:
        validate_schedule(expression, "UTC")
    assert repr(expression) in str(info.value)


@pytest.mark.parametrize(
    "tz",
    [
        "Mars/Olympus_Mons",
        "Europe/Pariss",
        "UTC+99",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/",
    ],
)
def test_validate_schedule_rejects_unknown_time_zones(tz: str) -> None:
    with pytest.raises(CronError) as info:
        validate_schedule("0 9 * * *", tz)
    assert "timezone" in str(info.value)


def test_validate_schedule_rejects_invalid_expression_even_with_bad_zone() -> None:
    with pytest.raises(CronError):
        validate_schedule("nope", "Nowhere/Never")


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


# ---------------------------------------------------------------------------
# due_fires: basic semantics
# ---------------------------------------------------------------------------


def test_per_second_schedule_fires_every_second() -> None:
    fires, skipped = due_fires("* * * * * *", None, T0, T0 + timedelta(seconds=5), HUGE)
    assert fires == every(T0 + timedelta(seconds=1), timedelta(seconds=1), 5)
    assert skipped == 0


def test_seconds_are_the_sixth_field() -> None:
    # "minute hour dom month dow second": minute 5, second 30 of every hour.
    fires, _ = due_fires("5 * * * * 30", "UTC", T0, T0 + timedelta(hours=3), HUGE)
    assert fires == [
        utc(2024, 1, 1, 10, 5, 30),
        utc(2024, 1, 1, 11, 5, 30),
        utc(2024, 1, 1, 12, 5, 30),
    ]
    fires, _ = due_fires("* * * * * 30", "UTC", T0, T0 + timedelta(minutes=3), HUGE)
    assert fires == [
        utc(2024, 1, 1, 10, 0, 30),
        utc(2024, 1, 1, 10, 1, 30),
        utc(2024, 1, 1, 10, 2, 30),
    ]


def test_every_ten_seconds() -> None:
    fires, _ = due_fires(
        "* * * * * */10", "UTC", T0 + timedelta(seconds=5), T0 + timedelta(seconds=45), HUGE
    )
    assert fires == every(T0 + timedelta(seconds=10), timedelta(seconds=10), 4)


def test_every_five_minutes() -> None:
    fires, skipped = due_fires(
        "*/5 * * * *", "UTC", utc(2024, 1, 1, 10, 2), utc(2024, 1, 1, 10, 31), HUGE
    )
    assert fires == every(utc(2024, 1, 1, 10, 5), timedelta(minutes=5), 6)
    assert skipped == 0


def test_every_five_minutes_across_midnight_and_year_end() -> None:
    fires, _ = due_fires(
        "*/5 * * * *", "UTC", utc(2023, 12, 31, 23, 51), utc(2024, 1, 1, 0, 10), HUGE
    )
    assert fires == every(utc(2023, 12, 31, 23, 55), timedelta(minutes=5), 4)


def test_fires_are_strictly_after_after_and_not_after_now() -> None:
    # after and now both exactly on fire times: after excluded, now included.
    fires, _ = due_fires(
        "*/5 * * * *", "UTC", utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 15), HUGE
    )
    assert fires == [utc(2024, 1, 1, 10, 5), utc(2024, 1, 1, 10, 10), utc(2024, 1, 1, 10, 15)]


def test_sub_second_boundaries() -> None:
    fire = utc(2024, 1, 1, 10, 5)
    tick = timedelta(microseconds=1)
    assert due_fires("*/5 * * * *", None, fire - tick, fire, HUGE)[0] == [fire]
    assert due_fires("*/5 * * * *", None, fire - 2 * tick, fire - tick, HUGE)[0] == []
    assert (
        due_fires("*/5 * * * *", None, fire + tick, fire + timedelta(minutes=5) - tick, HUGE)[0]
        == []
    )
    assert due_fires("*/5 * * * *", None, fire - tick, fire + tick, HUGE)[0] == [fire]
    # Per-second: an `after` inside a second fires the next whole second, not the current one.
    assert due_fires(
        "* * * * * *",
        None,
        T0 + timedelta(microseconds=500_000),
        T0 + timedelta(seconds=2, microseconds=500_000),
        HUGE,
    )[0] == [
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    ]
    assert due_fires(
        "* * * * * *", None, T0 + timedelta(microseconds=999_999), T0 + timedelta(seconds=1), HUGE
    )[0] == [T0 + timedelta(seconds=1)]


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1), timedelta(days=-400)])
@pytest.mark.parametrize("catchup", [timedelta(0), timedelta(hours=1), HUGE])
def test_empty_when_now_is_not_after_after(delta: timedelta, catchup: timedelta) -> None:
    after = utc(2024, 1, 1, 10, 5)  # itself a fire time
    assert due_fires("* * * * * *", None, after, after + delta, catchup) == ([], 0)
    assert due_fires("*/5 * * * *", None, after, after + delta, catchup) == ([], 0)


def test_empty_when_no_fire_in_the_interval() -> None:
    assert due_fires(
        "0 9 * * *", "UTC", utc(2024, 1, 1, 9, 0), utc(2024, 1, 2, 8, 59, 59), HUGE
    ) == ([], 0)


def test_results_are_in_afters_tzinfo() -> None:
    plus5 = timezone(timedelta(hours=5))
    after = datetime(2024, 1, 1, 15, 2, tzinfo=plus5)  # 10:02 UTC
    fires, _ = due_fires("*/5 * * * *", "UTC", after, utc(2024, 1, 1, 10, 16), HUGE)
    assert fires == [utc(2024, 1, 1, 10, 5), utc(2024, 1, 1, 10, 10), utc(2024, 1, 1, 10, 15)]
    assert all(f.tzinfo is plus5 for f in fires)
    assert [f.hour for f in fires] == [15, 15, 15]

    tokyo = ZoneInfo("Asia/Tokyo")
    fires, _ = due_fires(
        "0 9 * * *",
        "Europe/Paris",
        datetime(2024, 1, 1, tzinfo=tokyo),
        datetime(2024, 1, 3, tzinfo=tokyo),
        HUGE,
    )
    assert fires == [utc(2024, 1, 1, 8), utc(2024, 1, 2, 8)]
    assert all(f.tzinfo is tokyo for f in fires)
    assert [f.hour for f in fires] == [17, 17]


@pytest.mark.parametrize("tz", [None, "", "UTC"])
def test_missing_zone_means_utc(tz: str | None) -> None:
    fires, _ = due_fires("0 9 * * *", tz, utc(2024, 1, 1), utc(2024, 1, 3), HUGE)
    assert fires == [utc(2024, 1, 1, 9), utc(2024, 1, 2, 9)]


def test_weekday_schedule() -> None:
    # 2024-01-05 is a Friday: Mon-Fri at 09:00 from Friday to the next Tuesday.
    fires, _ = due_fires("0 9 * * MON-FRI", "UTC", utc(2024, 1, 5), utc(2024, 1, 9, 12), HUGE)
    assert fires == [utc(2024, 1, 5, 9), utc(2024, 1, 8, 9), utc(2024, 1, 9, 9)]


def test_invalid_expression_or_zone_raises_cron_error() -> None:
    with pytest.raises(CronError):
        due_fires("61 * * * *", None, T0, T0 + timedelta(hours=1), HUGE)
    with pytest.raises(CronError):
        due_fires("* * * * *", "Nowhere/Never", T0, T0 + timedelta(hours=1), HUGE)


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4 *", "0 0 1 1 * 0 2020"])
def test_schedule_that_never_fires_again_does_not_escape_as_another_exception(
    expression: str,
) -> None:
    # validate_schedule accepts these (Feb 30th, Apr 31st, a past year), so a workflow can be
    # saved with one; the timer processor only handles CronError, so due_fires must either
    # report nothing due or raise CronError, never croniter's own error.
    validate_schedule(expression, "UTC")
    try:
        result = due_fires(expression, "UTC", utc(2024, 1, 1), utc(2024, 12, 31), HUGE)
    except CronError:
        return
    assert result == ([], 0)


# ---------------------------------------------------------------------------
# due_fires: time zones
# ---------------------------------------------------------------------------


def test_paris_nine_am_is_eight_utc_in_winter() -> None:
    fires, _ = due_fires("0 9 * * *", "Europe/Paris", utc(2024, 1, 10), utc(2024, 1, 13), HUGE)
    assert fires == [utc(2024, 1, 10, 8), utc(2024, 1, 11, 8), utc(2024, 1, 12, 8)]


def test_paris_nine_am_is_seven_utc_in_summer() -> None:
    fires, _ = due_fires("0 9 * * *", "Europe/Paris", utc(2024, 7, 10), utc(2024, 7, 13), HUGE)
    assert fires == [utc(2024, 7, 10, 7), utc(2024, 7, 11, 7), utc(2024, 7, 12, 7)]


def test_new_york_and_kolkata() -> None:
    assert due_fires("0 9 * * *", "America/New_York", utc(2024, 1, 10), utc(2024, 1, 11), HUGE)[
        0
    ] == [utc(2024, 1, 10, 14)]
    assert due_fires("0 9 * * *", "America/New_York", utc(2024, 7, 10), utc(2024, 7, 11), HUGE)[
        0
    ] == [utc(2024, 7, 10, 13)]
    # +05:30, no daylight saving time.
    assert due_fires("0 9 * * *", "Asia/Kolkata", utc(2024, 7, 10), utc(2024, 7, 11), HUGE)[0] == [
        utc(2024, 7, 10, 3, 30)
    ]


def test_zone_changes_which_day_a_fire_belongs_to() -> None:
    # Midnight on the 1st of the month in Tokyo (+09:00) is 15:00 UTC the day before.
    fires, _ = due_fires("0 0 1 * *", "Asia/Tokyo", utc(2024, 1, 15), utc(2024, 3, 15), HUGE)
    assert fires == [utc(2024, 1, 31, 15), utc(2024, 2, 29, 15)]


# Europe/Paris switches to summer time on 2024-03-31 at 01:00 UTC and back on 2024-10-27 at 01:00 UTC.
DST_DAYS = [
    pytest.param(utc(2024, 3, 30, 12), utc(2024, 4, 1), utc(2024, 3, 31, 7), id="spring-forward"),
    pytest.param(utc(2024, 10, 26, 12), utc(2024, 10, 28), utc(2024, 10, 27, 8), id="fall-back"),
]


@pytest.mark.parametrize(("after", "now", "expected"), DST_DAYS)
def test_daily_schedule_fires_once_at_local_time_on_dst_change_days(
    after: datetime, now: datetime, expected: datetime
) -> None:
    fires, _ = due_fires("0 9 * * *", "Europe/Paris", after, now, HUGE)
    assert fires == [expected]


@pytest.mark.parametrize(
    ("after", "now"), [p.values[:2] for p in DST_DAYS], ids=["spring-forward", "fall-back"]
)
def test_hourly_schedule_fires_every_utc_hour_across_dst_changes(
    after: datetime, now: datetime
) -> None:
    # Paris' offset is a whole number of hours either side of a change, so "every hour at :00"
    # local is every hour at :00 UTC: no hour twice, none missing.
    fires, _ = due_fires("0 * * * *", "Europe/Paris", after, now, HUGE)
    hours = int((now - after) / timedelta(hours=1))
    assert fires == every(after + timedelta(hours=1), timedelta(hours=1), hours)


def split_points(after: datetime, now: datetime, step: timedelta) -> Iterator[datetime]:
    b = after
    while b <= now:
        yield b
        b += step


@pytest.mark.parametrize(
    "expression", ["0 9 * * *", "0 * * * *", "*/30 * * * *", "30 2 * * *", "15 1-3 * * *"]
)
@pytest.mark.parametrize(
    ("after", "now"), [p.values[:2] for p in DST_DAYS], ids=["spring-forward", "fall-back"]
)
def test_exactly_once_across_dst_changes(expression: str, after: datetime, now: datetime) -> None:
    full, _ = due_fires(expression, "Europe/Paris", after, now, HUGE)
    assert all(after < f <= now for f in full)
    assert full == sorted(set(full))
    for b in split_points(after, now, timedelta(minutes=17, seconds=13)):
        first, _ = due_fires(expression, "Europe/Paris", after, b, HUGE)
        second, _ = due_fires(expression, "Europe/Paris", b, now, HUGE)
        assert all(after < f <= b for f in first), (b, first)
        assert all(b < f <= now for f in second), (b, second)
        assert first + second == full, b


# ---------------------------------------------------------------------------
# due_fires: catch-up window
# ---------------------------------------------------------------------------


def test_fires_older_than_the_catch_up_window_are_skipped_and_counted() -> None:
    fires, skipped = due_fires(
        "0 * * * *", "UTC", utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 10, 30), timedelta(hours=2)
    )
    # floor = 08:30: 01:00 .. 08:00 are skipped (8), 09:00 and 10:00 are due.
    assert fires == [utc(2024, 1, 1, 9), utc(2024, 1, 1, 10)]
    assert skipped == 8


def test_nothing_skipped_when_after_is_inside_the_window() -> None:
    fires, skipped = due_fires(
        "0 * * * *", "UTC", utc(2024, 1, 1, 8, 45), utc(2024, 1, 1, 10, 30), timedelta(hours=2)
    )
    assert fires == [utc(2024, 1, 1, 9), utc(2024, 1, 1, 10)]
    assert skipped == 0


def test_skipping_with_nothing_left_in_the_window() -> None:
    fires, skipped = due_fires(
        "0 * * * *", "UTC", utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 10, 30), timedelta(minutes=20)
    )
    assert fires == []
    assert skipped == 10  # 01:00 .. 10:00


@pytest.mark.parametrize(
    ("catchup", "expected_fires", "expected_skipped"),
    [
        pytest.param(
            timedelta(hours=2),
            [utc(2024, 1, 1, 8), utc(2024, 1, 1, 9), utc(2024, 1, 1, 10)],
            7,
            id="window-2h",
        ),
        pytest.param(timedelta(0), [utc(2024, 1, 1, 10)], 9, id="window-0"),
    ],
)
def test_fire_exactly_at_the_window_start_is_due(
    catchup: timedelta, expected_fires: list[datetime], expected_skipped: int
) -> None:
    # now - catchup is itself a fire time. It is not *older* than the window, so it is due;
    # in any case it must be accounted for (emitted or counted as skipped), never silently lost.
    fires, skipped = due_fires(
        "0 * * * *", "UTC", utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 10, 0), catchup
    )
    assert fires == expected_fires
    assert skipped == expected_skipped


def test_catch_up_window_in_a_time_zone() -> None:
    # Daily 09:00 Paris (08:00 UTC in January), 10 days missed, 2-day window.
    fires, skipped = due_fires(
        "0 9 * * *", "Europe/Paris", utc(2024, 1, 1, 12), utc(2024, 1, 11, 12), timedelta(days=2)
    )
    assert fires == [utc(2024, 1, 10, 8), utc(2024, 1, 11, 8)]
    assert skipped == 8  # Jan 2 .. Jan 9


def test_skipped_count_is_bounded() -> None:
    fires, skipped = due_fires(
        "* * * * * *", None, T0, T0 + timedelta(hours=2), timedelta(seconds=3)
    )
    assert skipped == MAX_FIRES_PER_TICK
    assert fires == every(T0 + timedelta(hours=2) - timedelta(seconds=2), timedelta(seconds=1), 3)


# ---------------------------------------------------------------------------
# due_fires: the per-tick bound
# ---------------------------------------------------------------------------


def test_max_fires_per_tick_bounds_the_burst_oldest_first() -> None:
    now = T0 + timedelta(seconds=2 * MAX_FIRES_PER_TICK + 500)
    fires, skipped = due_fires("* * * * * *", None, T0, now, HUGE)
    assert len(fires) == MAX_FIRES_PER_TICK
    assert skipped == 0
    assert fires == every(T0 + timedelta(seconds=1), timedelta(seconds=1), MAX_FIRES_PER_TICK)


def test_resuming_from_the_last_fire_drains_the_backlog_exactly_once() -> None:
    total = 2 * MAX_FIRES_PER_TICK + 500
    now = T0 + timedelta(seconds=total)
    emitted: list[datetime] = []
    last = T0
    for _ in range(5):
        fires, skipped = due_fires("* * * * * *", None, last, now, HUGE)
        assert skipped == 0
        if not fires:
            break
        assert len(fires) <= MAX_FIRES_PER_TICK
        emitted += fires
        last = fires[-1]
    assert emitted == every(T0 + timedelta(seconds=1), timedelta(seconds=1), total)


def test_exactly_max_fires_is_not_truncated() -> None:
    now = T0 + timedelta(seconds=MAX_FIRES_PER_TICK)
    fires, _ = due_fires("* * * * * *", None, T0, now, HUGE)
    assert len(fires) == MAX_FIRES_PER_TICK
    assert fires[-1] == now
    assert due_fires("* * * * * *", None, fires[-1], now, HUGE) == ([], 0)


# ---------------------------------------------------------------------------
# Properties, against an arithmetic oracle
# ---------------------------------------------------------------------------

# expression -> period in seconds; every period divides a day, so fires align with local midnight.
PERIODIC = {
    "* * * * * *": 1,
    "* * * * * */15": 15,
    "* * * * *": 60,
    "*/5 * * * *": 300,
    "*/15 * * * *": 900,
    "0 * * * *": 3600,
    "0 */6 * * *": 6 * 3600,
    "0 0 * * *": 86400,
}
# Zones whose offset never changes (over the generated range).
FIXED_ZONES = {
    "UTC": 0,
    "Asia/Kolkata": 19800,
    "Asia/Tokyo": 32400,
    "America/Phoenix": -25200,
    "Asia/Kathmandu": 20700,
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BASE = utc(2024, 1, 1)
MAX_SPAN_FIRES = 60  # keeps each example cheap


def oracle(
    expression: str, tz: str, lo: datetime, hi: datetime, *, include_lo: bool = False
) -> list[datetime]:
    """Fire times in (lo, hi] (or [lo, hi]) by arithmetic alone."""
    period = PERIODIC[expression]
    offset = FIXED_ZONES[tz]
    lo_s = (lo - EPOCH).total_seconds() + offset
    hi_s = (hi - EPOCH).total_seconds() + offset
    k = math.ceil(lo_s / period) if include_lo else math.floor(lo_s / period) + 1
    out = []
    while k * period <= hi_s:
        out.append(EPOCH + timedelta(seconds=k * period - offset))
        k += 1
    return out


@st.composite
def instant(draw: st.DrawFn, base: datetime = BASE, span: int = 400 * 86400) -> datetime:
    seconds = draw(st.integers(0, span))
    micros = draw(st.sampled_from([0, 0, 1, 500_000, 999_999]) | st.integers(0, 999_999))
    return base + timedelta(seconds=seconds, microseconds=micros)


def snap(moment: datetime, expression: str, tz: str) -> datetime:
    """The latest fire time at or before `moment` (by the oracle)."""
    period = PERIODIC[expression]
    local = (moment - EPOCH).total_seconds() + FIXED_ZONES[tz]
    return EPOCH + timedelta(seconds=math.floor(local / period) * period - FIXED_ZONES[tz])


@st.composite
def span(draw: st.DrawFn, period: int, max_periods: int) -> timedelta:
    """A length that is often a whole number of periods, so boundaries land on fire times."""
    whole = draw(st.integers(0, max_periods))
    rest = draw(st.sampled_from([0, 0, 1]) | st.integers(0, period * 1_000_000 - 1))
    return timedelta(seconds=whole * period, microseconds=rest)


@st.composite
def schedule_and_interval(draw: st.DrawFn) -> tuple[str, str, datetime, datetime, datetime]:
    expression = draw(st.sampled_from(sorted(PERIODIC)))
    tz = draw(st.sampled_from(sorted(FIXED_ZONES)))
    period = PERIODIC[expression]
    a = draw(instant())
    if draw(st.booleans()):
        a = snap(a, expression, tz)
    c = a + draw(span(period, MAX_SPAN_FIRES))
    b = draw(st.sampled_from([a, c, a + (c - a) * draw(st.floats(0, 1))]))
    if draw(st.booleans()):
        b = max(a, snap(b, expression, tz))
    return expression, tz, a, b, c


@PROPERTY
@given(schedule_and_interval())
def test_property_fires_match_the_oracle(
    case: tuple[str, str, datetime, datetime, datetime],
) -> None:
    expression, tz, a, _, c = case
    fires, skipped = due_fires(expression, tz, a, c, HUGE)
    assert fires == oracle(expression, tz, a, c)
    assert skipped == 0


@PROPERTY
@given(schedule_and_interval())
def test_property_splitting_an_interval_gives_the_same_fires_exactly_once(
    case: tuple[str, str, datetime, datetime, datetime],
) -> None:
    expression, tz, a, b, c = case
    whole, _ = due_fires(expression, tz, a, c, HUGE)
    first, _ = due_fires(expression, tz, a, b, HUGE)
    second, _ = due_fires(expression, tz, b, c, HUGE)
    assert first + second == whole
    assert len(set(whole)) == len(whole)
    assert all(a < f <= b for f in first)
    assert all(b < f <= c for f in second)
    assert whole == sorted(whole)


@PROPERTY
@given(
    st.sampled_from(sorted(PERIODIC)),
    st.sampled_from(sorted(FIXED_ZONES)),
    instant(),
    st.booleans(),
    st.data(),
)
def test_property_catch_up_window(
    expression: str, tz: str, after: datetime, aligned: bool, data: st.DataObject
) -> None:
    """Fires in [now - catchup, now] (and after `after`) are due; older ones are counted as skipped."""
    period = PERIODIC[expression]
    if aligned:
        after = snap(after, expression, tz)
    now = after + data.draw(span(period, 3 * MAX_SPAN_FIRES), label="length")
    candidates = oracle(expression, tz, after, now)
    on_fire = bool(candidates) and data.draw(st.booleans(), label="window starts on a fire time")
    if on_fire:
        catchup = now - data.draw(st.sampled_from(candidates), label="window start")
    else:
        catchup = data.draw(span(period, 2 * MAX_SPAN_FIRES), label="catchup")
    floor = now - catchup
    fires, skipped = due_fires(expression, tz, after, now, catchup)
    expected = oracle(expression, tz, max(after, floor), now, include_lo=floor > after)
    older = [f for f in oracle(expression, tz, after, floor) if f < floor] if after < floor else []
    assert fires == expected[:MAX_FIRES_PER_TICK]
    assert skipped == min(len(older), MAX_FIRES_PER_TICK)
    assert all(max(after, floor) <= f <= now for f in fires)


@PROPERTY
@given(st.sampled_from(sorted(PERIODIC)), instant(), st.integers(0, 10**6))
def test_property_empty_when_now_not_after_after(
    expression: str, after: datetime, back: int
) -> None:
    assert due_fires(
        expression, "UTC", after, after - timedelta(seconds=back), timedelta(seconds=back // 2)
    ) == ([], 0)
