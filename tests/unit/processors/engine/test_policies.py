"""Unit tests for processors.engine.policies: wait durations, action pre-delays, retry policies and backoff."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from processors.engine.policies import (
    MAX_WAIT_SECONDS,
    UNIT_SECONDS,
    DurationError,
    RetryPolicy,
    pre_delay_seconds,
    retry_policy,
    wait_seconds,
)
from schemas.workflow import Node, NodeType, WorkflowSettings

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def node(config: dict[str, Any]) -> Node:
    return Node(id="n", node_type=NodeType.ACTION, config=config)


# ---------------------------------------------------------------------------
# wait_seconds: accepted forms
# ---------------------------------------------------------------------------


def test_duration_error_is_a_value_error() -> None:
    assert issubclass(DurationError, ValueError)


def test_max_wait_is_366_days() -> None:
    assert MAX_WAIT_SECONDS == 366 * 86400


@pytest.mark.parametrize("key", ["delay_seconds", "wait_seconds", "seconds"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5.0), (0, 0.0), (2.5, 2.5), ("5", 5.0), (" 7.25 ", 7.25), ("1e3", 1000.0), ("-0", 0.0)],
)
def test_plain_seconds_keys(key: str, value: Any, expected: float) -> None:
    result = wait_seconds({key: value}, NOW)
    assert result == expected
    assert isinstance(result, float)


def test_plain_seconds_key_precedence() -> None:
    assert wait_seconds({"seconds": 3, "wait_seconds": 2, "delay_seconds": 1}, NOW) == 1
    assert wait_seconds({"seconds": 3, "wait_seconds": 2}, NOW) == 2
    # The first present key wins even if it is invalid: no fall-through to a later valid one.
    with pytest.raises(DurationError):
        wait_seconds({"delay_seconds": "soon", "seconds": 3}, NOW)


def test_plain_seconds_win_over_every_other_form() -> None:
    config = {"seconds": 4, "delay": 100, "wait": 200, "duration": 1, "unit": "hours", "minutes": 9}
    assert wait_seconds(config, NOW) == 4


@pytest.mark.parametrize(
    ("unit", "factor"),
    sorted(UNIT_SECONDS.items()),
)
def test_duration_and_unit_every_unit(unit: str, factor: float) -> None:
    assert wait_seconds({"duration": 3, "unit": unit}, NOW) == pytest.approx(3 * factor)


def test_duration_unit_variants() -> None:
    assert wait_seconds({"duration": 1500, "unit": "ms"}, NOW) == pytest.approx(1.5)
    assert wait_seconds({"duration": 2, "unit": "Minutes"}, NOW) == 120
    assert wait_seconds({"duration": 2, "unit": " HOURS "}, NOW) == 7200
    assert wait_seconds({"duration": 1, "unit": "W"}, NOW) == 604800


def test_duration_defaults_to_seconds() -> None:
    assert wait_seconds({"duration": 10}, NOW) == 10
    assert wait_seconds({"duration": "10"}, NOW) == 10


def test_unit_alone_is_not_a_wait() -> None:
    with pytest.raises(DurationError):
        wait_seconds({"unit": "minutes"}, NOW)


@pytest.mark.parametrize(("value", "expected"), [(30, 30.0), (0, 0.0), (1.5, 1.5), ("45", 45.0)])
@pytest.mark.parametrize("key", ["delay", "wait"])
def test_delay_or_wait_as_a_number_is_seconds(key: str, value: Any, expected: float) -> None:
    assert wait_seconds({key: value}, NOW) == expected


@pytest.mark.parametrize("key", ["delay", "wait"])
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"value": 2, "unit": "hours"}, 7200),
        ({"value": 3, "unit": "m"}, 180),
        ({"duration": 3, "unit": "minutes"}, 180),
        ({"value": 10}, 10),
        ({"value": "1.5", "unit": "days"}, 1.5 * 86400),
        ({"value": 1, "duration": 99, "unit": "seconds"}, 1),  # value wins over duration
        ({"value": 250, "unit": "milliseconds"}, 0.25),
    ],
)
def test_delay_or_wait_as_a_mapping(key: str, spec: dict[str, Any], expected: float) -> None:
    assert wait_seconds({key: spec}, NOW) == pytest.approx(expected)


def test_delay_mapping_may_be_any_mapping() -> None:
    assert wait_seconds({"wait": MappingProxyType({"value": 1, "unit": "minute"})}, NOW) == 60


def test_delay_wins_over_wait_and_duration_and_unit_keys() -> None:
    assert wait_seconds({"delay": 5, "wait": 7}, NOW) == 5
    assert wait_seconds({"delay": {"value": 1, "unit": "minutes"}, "wait": 7}, NOW) == 60
    assert wait_seconds({"wait": 7, "duration": 1, "unit": "hours"}, NOW) == 7
    assert wait_seconds({"wait": 7, "minutes": 1}, NOW) == 7


def test_null_delay_falls_through_to_wait_and_then_duration() -> None:
    assert wait_seconds({"delay": None, "duration": 2, "unit": "minutes"}, NOW) == 120
    assert wait_seconds({"wait": None, "minutes": 2}, NOW) == 120


def test_duration_wins_over_unit_keys() -> None:
    assert wait_seconds({"duration": 1, "unit": "seconds", "minutes": 5}, NOW) == 1


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("minutes", 3, 180),
        ("minutes", "2.5", 150),
        ("hours", 2, 7200),
        ("days", 1, 86400),
        ("weeks", 1, 604800),
        ("weeks", 0, 0),
        ("days", 0.5, 43200),
    ],
)
def test_unit_keys(key: str, value: Any, expected: float) -> None:
    assert wait_seconds({key: value}, NOW) == expected


def test_unit_keys_precedence_minutes_hours_days_weeks() -> None:
    assert wait_seconds({"weeks": 1, "days": 1, "hours": 1, "minutes": 1}, NOW) == 60
    assert wait_seconds({"weeks": 1, "days": 1, "hours": 1}, NOW) == 3600
    assert wait_seconds({"weeks": 1, "days": 1}, NOW) == 86400


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("2024-06-01T12:00:30+00:00", 30.0),
        ("2024-06-01T12:00:30Z", 30.0),
        ("2024-06-01T14:01:00+02:00", 60.0),
        ("2024-06-01T07:00:00-05:00", 0.0),  # == NOW
        ("2024-06-02T12:00:00.500000+00:00", 86400.5),
        ("2024-06-01T12:00:00+00:00", 0.0),
    ],
)
def test_until_iso_datetime(until: str, expected: float) -> None:
    assert wait_seconds({"until": until}, NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "until", ["2024-06-01T11:59:59Z", "2000-01-01T00:00:00+00:00", "2024-06-01T13:59:59+02:00"]
)
def test_until_in_the_past_waits_zero(until: str) -> None:
    assert wait_seconds({"until": until}, NOW) == 0.0


def test_until_accepts_an_aware_datetime() -> None:
    assert wait_seconds({"until": NOW + timedelta(minutes=5)}, NOW) == 300
    assert (
        wait_seconds(
            {"until": datetime(2024, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))}, NOW
        )
        == 0
    )
    assert wait_seconds({"until": NOW - timedelta(days=1)}, NOW) == 0


def test_until_wins_over_every_other_form() -> None:
    assert (
        wait_seconds({"until": "2024-06-01T12:01:00Z", "delay_seconds": 5, "minutes": 9}, NOW) == 60
    )
    # ... even an invalid one does not fall back to a valid form.
    with pytest.raises(DurationError):
        wait_seconds({"until": "tomorrow", "delay_seconds": 5}, NOW)


def test_exactly_max_wait_is_allowed() -> None:
    assert wait_seconds({"delay_seconds": MAX_WAIT_SECONDS}, NOW) == MAX_WAIT_SECONDS
    assert wait_seconds({"days": 366}, NOW) == MAX_WAIT_SECONDS
    assert wait_seconds({"duration": 366, "unit": "days"}, NOW) == MAX_WAIT_SECONDS
    assert wait_seconds({"weeks": 52}, NOW) == 52 * 604800


# ---------------------------------------------------------------------------
# wait_seconds: rejections
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"unit": "seconds"},
        {"timeout_seconds": 5},
        {"delay": None},
        {"wait": None},
        {"Delay_Seconds": 5},
        {"minute": 3},
        {"sec": 3},
    ],
)
def test_missing_duration(config: dict[str, Any]) -> None:
    with pytest.raises(DurationError, match="needs"):
        wait_seconds(config, NOW)


BAD_NUMBERS = [
    pytest.param(-1, id="negative-int"),
    pytest.param(-0.001, id="negative-float"),
    pytest.param("-5", id="negative-string"),
    pytest.param(float("nan"), id="nan"),
    pytest.param("nan", id="nan-string"),
    pytest.param("NaN", id="NaN-string"),
    pytest.param(float("-inf"), id="minus-inf"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param("soon", id="word"),
    pytest.param("", id="empty-string"),
    pytest.param("5s", id="number-with-unit"),
    pytest.param("1,5", id="comma-decimal"),
    pytest.param(None, id="none"),
    pytest.param([5], id="list"),
    pytest.param(b"5", id="bytes"),
]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda v: {"delay_seconds": v}, id="delay_seconds"),
        pytest.param(lambda v: {"wait_seconds": v}, id="wait_seconds"),
        pytest.param(lambda v: {"seconds": v}, id="seconds"),
        pytest.param(lambda v: {"duration": v, "unit": "minutes"}, id="duration"),
        pytest.param(lambda v: {"delay": {"value": v, "unit": "hours"}}, id="delay-mapping"),
        pytest.param(lambda v: {"wait": {"duration": v}}, id="wait-mapping"),
        pytest.param(lambda v: {"minutes": v}, id="minutes"),
        pytest.param(lambda v: {"hours": v}, id="hours"),
        pytest.param(lambda v: {"days": v}, id="days"),
        pytest.param(lambda v: {"weeks": v}, id="weeks"),
    ],
)
def test_bad_numbers_are_rejected_in_every_form(wrap: Any, value: Any) -> None:
    with pytest.raises(DurationError):
        wait_seconds(wrap(value), NOW)


@pytest.mark.parametrize("value", [k for k in BAD_NUMBERS if k.id not in {"none", "list"}])
def test_bad_numbers_are_rejected_as_plain_delay(value: Any) -> None:
    # `delay`/`wait` as a scalar (None means "absent"; a list is not a Mapping so it is parsed as a number).
    with pytest.raises(DurationError):
        wait_seconds({"delay": value}, NOW)
    with pytest.raises(DurationError):
        wait_seconds({"wait": value}, NOW)


def test_delay_as_list_is_rejected() -> None:
    with pytest.raises(DurationError):
        wait_seconds({"delay": [5]}, NOW)


def test_delay_mapping_without_a_value_is_rejected() -> None:
    with pytest.raises(DurationError):
        wait_seconds({"delay": {"unit": "hours"}}, NOW)
    with pytest.raises(DurationError):
        wait_seconds({"wait": {}}, NOW)


@pytest.mark.parametrize(
    "unit", ["fortnight", "yr", "months", "", "  ", None, 5, "minutes!", "hrs", "mins"]
)
def test_unknown_units_are_rejected(unit: Any) -> None:
    with pytest.raises(DurationError, match="unknown unit"):
        wait_seconds({"duration": 1, "unit": unit}, NOW)
    with pytest.raises(DurationError, match="unknown unit"):
        wait_seconds({"delay": {"value": 1, "unit": unit}}, NOW)


@pytest.mark.parametrize("until", ["2024-06-01T12:00:30", "2024-06-02", datetime(2024, 6, 2, 9, 0)])
def test_naive_until_is_rejected(until: Any) -> None:
    with pytest.raises(DurationError, match="timezone"):
        wait_seconds({"until": until}, NOW)


@pytest.mark.parametrize(
    "until",
    [
        "tomorrow",
        "",
        "2024-13-01T00:00:00Z",
        "2024-06-01 25:00Z",
        "12:00",
        None,
        1717243200,
        ["2024-06-01T12:00:00Z"],
    ],
)
def test_unparsable_until_is_rejected(until: Any) -> None:
    with pytest.raises(DurationError):
        wait_seconds({"until": until}, NOW)


@pytest.mark.parametrize(
    "config",
    [
        {"delay_seconds": MAX_WAIT_SECONDS + 1},
        {"delay_seconds": MAX_WAIT_SECONDS + 0.001},
        {"seconds": float("inf")},
        {"seconds": "inf"},
        {"seconds": "1e400"},
        {"days": 367},
        {"weeks": 53},
        {"duration": 60, "unit": "w"},
        {"delay": {"value": 9000, "unit": "hours"}},
        {"wait": 10**9},
        {"minutes": 1e308},
    ],
)
def test_more_than_max_wait_is_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(DurationError, match="at most 366 days"):
        wait_seconds(config, NOW)


@pytest.mark.parametrize(
    "config",
    [
        {"delay_seconds": 10**400},
        {"minutes": 10**400},
        {"duration": 10**400, "unit": "ms"},
        {"delay": 10**400},
    ],
)
def test_integers_too_large_for_a_float_are_rejected_as_duration_errors(
    config: dict[str, Any],
) -> None:
    # JSON numbers are arbitrary-precision ints in Python; the state machine only handles
    # DurationError, so an OverflowError from float() would escape it.
    with pytest.raises(DurationError):
        wait_seconds(config, NOW)


@pytest.mark.parametrize(
    "until", ["2025-06-03T12:00:00Z", "2100-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]
)
def test_until_more_than_max_wait_ahead_is_rejected(until: str) -> None:
    # The MAX_WAIT_SECONDS bound applies to every form. Without it, an `until` near the end of
    # the calendar makes the state machine's `now + timedelta(seconds=...)` raise OverflowError.
    with pytest.raises(DurationError):
        wait_seconds({"until": until}, NOW)


def test_until_just_inside_max_wait_is_allowed() -> None:
    until = NOW + timedelta(seconds=MAX_WAIT_SECONDS)
    assert wait_seconds({"until": until.isoformat()}, NOW) == MAX_WAIT_SECONDS


@PROPERTY
@given(
    st.floats(min_value=0, max_value=MAX_WAIT_SECONDS, allow_nan=False),
    st.sampled_from(["delay_seconds", "wait_seconds", "seconds", "delay", "wait"]),
)
def test_property_any_valid_number_of_seconds_round_trips(value: float, key: str) -> None:
    assert wait_seconds({key: value}, NOW) == value
    assert wait_seconds({key: repr(value)}, NOW) == value


@PROPERTY
@given(
    st.floats(min_value=0, max_value=10**6, allow_nan=False), st.sampled_from(sorted(UNIT_SECONDS))
)
def test_property_duration_and_unit_scale(value: float, unit: str) -> None:
    expected = value * UNIT_SECONDS[unit]
    if expected > MAX_WAIT_SECONDS:
        with pytest.raises(DurationError):
            wait_seconds({"duration": value, "unit": unit}, NOW)
    else:
        assert wait_seconds({"duration": value, "unit": unit}, NOW) == expected
        assert wait_seconds({"delay": {"value": value, "unit": unit}}, NOW) == expected


@PROPERTY
@given(
    st.integers(-(10**9), MAX_WAIT_SECONDS), st.integers(0, 999_999), st.integers(-14 * 60, 14 * 60)
)
def test_property_until(offset_seconds: int, micros: int, tz_minutes: int) -> None:
    zone = timezone(timedelta(minutes=tz_minutes))
    delta = timedelta(
        seconds=offset_seconds, microseconds=micros if offset_seconds < MAX_WAIT_SECONDS else 0
    )
    until = (NOW + delta).astimezone(zone)
    assert wait_seconds({"until": until.isoformat()}, NOW) == max(0.0, delta.total_seconds())
    assert wait_seconds({"until": until}, NOW) == max(0.0, delta.total_seconds())


# ---------------------------------------------------------------------------
# pre_delay_seconds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5.0),
        (0.25, 0.25),
        (MAX_WAIT_SECONDS, MAX_WAIT_SECONDS),
        (MAX_WAIT_SECONDS + 1, MAX_WAIT_SECONDS),
        (10**12, MAX_WAIT_SECONDS),
        (float("inf"), MAX_WAIT_SECONDS),
        (10**400, MAX_WAIT_SECONDS),
    ],
)
def test_pre_delay_positive_numbers_capped(value: Any, expected: float) -> None:
    result = pre_delay_seconds({"delay": value})
    assert result == expected
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"delay": None},
        {"delay": 0},
        {"delay": 0.0},
        {"delay": -5},
        {"delay": float("-inf")},
        {"delay": True},
        {"delay": False},
        {"delay": "5"},
        {"delay": {"value": 5, "unit": "seconds"}},
        {"delay": [5]},
        {"delay_seconds": 5},  # only `delay` is an action's pre-delay
        {"wait": 5},
    ],
)
def test_pre_delay_absent_or_invalid_is_zero(config: dict[str, Any]) -> None:
    result = pre_delay_seconds(config)
    assert result == 0.0
    assert isinstance(result, float)


def test_pre_delay_nan_is_zero() -> None:
    # "0 when absent or invalid": NaN is invalid; min(nan, MAX) returns nan.
    result = pre_delay_seconds({"delay": float("nan")})
    assert result == 0.0


# ---------------------------------------------------------------------------
# RetryPolicy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [0, 1, 3, 20])
def test_allows_retries_up_to_max(max_retries: int) -> None:
    policy = RetryPolicy(max_retries, 1.0, 60.0)
    for attempt in range(1, max_retries + 1):
        assert policy.allows(attempt)
    assert not policy.allows(max_retries + 1)
    assert not policy.allows(max_retries + 100)


def test_zero_retries_never_allows() -> None:
    assert not RetryPolicy(0, 1.0, 60.0).allows(1)


def test_retry_policy_is_frozen_and_comparable() -> None:
    policy = RetryPolicy(3, 1.0, 60.0)
    assert policy == RetryPolicy(3, 1.0, 60.0)
    with pytest.raises(AttributeError):
        policy.max_retries = 5  # type: ignore[misc]


def reference_delay(base: float, cap: float, key: str, attempt: int) -> float:
    ceiling = min(cap, base * 2 ** (attempt - 1))
    fraction = (
        int.from_bytes(hashlib.sha256(f"{key}:{attempt}".encode()).digest()[:8], "big") / 2**64
    )
    return float(ceiling / 2 + fraction * ceiling / 2)


def test_delay_golden_values() -> None:
    # Pinned: a change here changes the wake-up times scheduled when a stored execution is replayed.
    policy = RetryPolicy(5, 2.0, 60.0)
    assert policy.delay("exec-1:node-a", 1) == pytest.approx(1.782103499815239, rel=1e-12)
    assert policy.delay("exec-1:node-a", 4) == pytest.approx(13.92736611921553, rel=1e-12)
    assert policy.delay("exec-1:node-a", 6) == pytest.approx(35.241452975692354, rel=1e-12)
    assert RetryPolicy(3, 1.0, 300.0).delay("k", 1) == pytest.approx(0.5984150594219206, rel=1e-12)


def test_delay_doubles_then_caps() -> None:
    policy = RetryPolicy(20, 1.0, 10.0)
    # Ceilings: 1, 2, 4, 8, 10, 10, ...
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (6, 10), (20, 10)]:
        d = policy.delay("exec:node", attempt)
        assert ceiling / 2 <= d <= ceiling, (attempt, d)


def test_delay_is_deterministic_per_key_and_attempt_and_varies_otherwise() -> None:
    policy = RetryPolicy(5, 10.0, 1000.0)
    assert policy.delay("a", 2) == policy.delay("a", 2)
    assert RetryPolicy(1, 10.0, 1000.0).delay("a", 2) == policy.delay(
        "a", 2
    )  # max_retries is irrelevant
    assert (
        len({policy.delay(f"exec-{i}:node", 2) for i in range(50)}) == 50
    )  # executions spread out


@pytest.mark.parametrize("attempt", [1, 2, 5, 20])
def test_zero_base_means_no_delay(attempt: int) -> None:
    assert RetryPolicy(5, 0.0, 300.0).delay("k", attempt) == 0.0
    assert RetryPolicy(5, 0, 0).delay("k", attempt) == 0.0


def test_zero_cap_means_no_delay() -> None:
    assert RetryPolicy(5, 5.0, 0.0).delay("k", 3) == 0.0


@PROPERTY
@given(
    key=st.text(max_size=40),
    attempt=st.integers(1, 40),
    base=st.floats(min_value=0.001, max_value=3600, allow_nan=False),
    cap=st.floats(min_value=0, max_value=86400, allow_nan=False),
)
def test_property_equal_jitter_bounds(key: str, attempt: int, base: float, cap: float) -> None:
    policy = RetryPolicy(20, base, cap)
    ceiling = min(cap, base * 2 ** (attempt - 1))
    d = policy.delay(key, attempt)
    assert ceiling / 2 <= d <= ceiling
    assert d == policy.delay(key, attempt)
    assert d == pytest.approx(reference_delay(base, cap, key, attempt), rel=1e-12, abs=1e-12)
    assert math.isfinite(d)


# ---------------------------------------------------------------------------
# retry_policy: precedence and bounds
# ---------------------------------------------------------------------------

DEFAULTS = WorkflowSettings()
RETRYING = WorkflowSettings(
    retry_on_failure=True, max_retries=4, retry_backoff_seconds=2.0, retry_max_backoff_seconds=120.0
)
NOT_RETRYING = WorkflowSettings(
    retry_on_failure=False,
    max_retries=4,
    retry_backoff_seconds=2.0,
    retry_max_backoff_seconds=120.0,
)


def test_default_settings_do_not_retry() -> None:
    assert retry_policy(node({}), DEFAULTS) == RetryPolicy(0, 1.0, 300.0)


def test_workflow_settings_when_retrying() -> None:
    assert retry_policy(node({}), RETRYING) == RetryPolicy(4, 2.0, 120.0)


def test_retry_on_failure_false_means_zero_retries_but_keeps_backoff() -> None:
    assert retry_policy(node({}), NOT_RETRYING) == RetryPolicy(0, 2.0, 120.0)


@pytest.mark.parametrize("settings_", [RETRYING, NOT_RETRYING, DEFAULTS])
def test_node_max_retries_overrides_settings(settings_: WorkflowSettings) -> None:
    policy = retry_policy(node({"max_retries": 7}), settings_)
    assert policy == RetryPolicy(
        7, settings_.retry_backoff_seconds, settings_.retry_max_backoff_seconds
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (20, 20),
        (21, 20),
        (1000, 20),
        (-1, 0),
        (2.9, 2),
        (float("inf"), 20),
        (float("-inf"), 0),
        (True, 0),
        (False, 0),
        ("5", 0),
        (None, 0),
        ([3], 0),
    ],
)
def test_node_max_retries_is_clamped_and_bad_types_fall_back_to_zero(
    value: Any, expected: int
) -> None:
    policy = retry_policy(node({"max_retries": value}), RETRYING)
    assert policy.max_retries == expected
    assert isinstance(policy.max_retries, int)


def test_retry_mapping_wins_over_everything() -> None:
    config = {
        "retry": {"max_retries": 2, "backoff_seconds": 5, "max_backoff_seconds": 50},
        "max_retries": 9,
    }
    for settings_ in (RETRYING, NOT_RETRYING, DEFAULTS):
        assert retry_policy(node(config), settings_) == RetryPolicy(2, 5.0, 50.0)


def test_retry_mapping_accepts_max_attempts() -> None:
    assert retry_policy(node({"retry": {"max_attempts": 3}}), NOT_RETRYING).max_retries == 3
    # max_retries wins when both are given.
    assert (
        retry_policy(
            node({"retry": {"max_attempts": 3, "max_retries": 1}}), NOT_RETRYING
        ).max_retries
        == 1
    )


def test_retry_mapping_defaults() -> None:
    # No count: 0 retries (settings' max_retries is not inherited); backoff from the settings.
    assert retry_policy(node({"retry": {}}), RETRYING) == RetryPolicy(0, 2.0, 120.0)
    assert retry_policy(node({"retry": {"max_retries": 3}}), RETRYING) == RetryPolicy(3, 2.0, 120.0)
    assert retry_policy(node({"retry": {"max_retries": 3}}), DEFAULTS) == RetryPolicy(3, 1.0, 300.0)


@pytest.mark.parametrize("retry", [True, 3, "yes", None, [1, 2]])
def test_retry_that_is_not_a_mapping_is_ignored(retry: Any) -> None:
    assert retry_policy(node({"retry": retry}), RETRYING) == RetryPolicy(4, 2.0, 120.0)
    assert retry_policy(node({"retry": retry, "max_retries": 1}), RETRYING) == RetryPolicy(
        1, 2.0, 120.0
    )
    assert retry_policy(node({"retry": retry}), NOT_RETRYING) == RetryPolicy(0, 2.0, 120.0)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("max_retries", 5, 5),
        ("max_retries", 50, 20),
        ("max_retries", -3, 0),
        ("max_retries", 3.7, 3),
        ("max_retries", "3", 0),
        ("max_retries", True, 0),
        ("max_retries", None, 0),
        ("max_attempts", 99, 20),
        ("max_attempts", -1, 0),
        ("max_attempts", "2", 0),
        ("backoff_seconds", 5, 5.0),
        ("backoff_seconds", 0.5, 0.5),
        ("backoff_seconds", 3600, 3600.0),
        ("backoff_seconds", 3601, 3600.0),
        ("backoff_seconds", -1, 0.0),
        ("backoff_seconds", float("inf"), 3600.0),
        ("backoff_seconds", "5", 0.0),
        ("backoff_seconds", False, 0.0),
        ("backoff_seconds", None, 0.0),
        ("backoff_seconds", {"value": 5}, 0.0),
        ("max_backoff_seconds", 60, 60.0),
        ("max_backoff_seconds", 86400, 86400.0),
        ("max_backoff_seconds", 10**9, 86400.0),
        ("max_backoff_seconds", -5, 0.0),
        ("max_backoff_seconds", "60", 0.0),
        ("max_backoff_seconds", True, 0.0),
        ("max_backoff_seconds", None, 0.0),
    ],
)
def test_retry_mapping_fields_are_clamped_and_bad_types_fall_back_to_the_low_bound(
    field: str, value: Any, expected: float
) -> None:
    policy = retry_policy(node({"retry": {field: value}}), RETRYING)
    assert getattr(policy, "max_retries" if field == "max_attempts" else field) == expected
    assert type(policy.max_retries) is int


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"retry": {"max_retries": float("nan")}}, "max_retries"),
        ({"retry": {"max_attempts": float("nan")}}, "max_retries"),
        ({"max_retries": float("nan")}, "max_retries"),
        ({"retry": {"backoff_seconds": float("nan")}}, "backoff_seconds"),
        ({"retry": {"max_backoff_seconds": float("nan")}}, "max_backoff_seconds"),
    ],
)
def test_nan_falls_back_to_the_low_bound(config: dict[str, Any], field: str) -> None:
    # NaN is not a usable number: like a bad type it must give the low bound (0), not whatever
    # `max(low, min(high, nan))` happens to return (the high bound: 20 retries, 3600 s, 86400 s).
    assert getattr(retry_policy(node(config), RETRYING), field) == 0


def test_settings_backoff_is_used_unclamped_within_its_own_validation() -> None:
    settings_ = WorkflowSettings(
        retry_on_failure=True,
        max_retries=20,
        retry_backoff_seconds=3600,
        retry_max_backoff_seconds=86400,
    )
    assert retry_policy(node({}), settings_) == RetryPolicy(20, 3600.0, 86400.0)
    assert retry_policy(node({"retry": {"max_retries": 1}}), settings_) == RetryPolicy(
        1, 3600.0, 86400.0
    )


@PROPERTY
@given(
    st.one_of(
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.text(max_size=5),
    ),
    st.one_of(
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.text(max_size=5),
    ),
    st.one_of(
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.text(max_size=5),
    ),
)
def test_property_retry_mapping_always_within_bounds(count: Any, backoff: Any, cap: Any) -> None:
    policy = retry_policy(
        node(
            {
                "retry": {
                    "max_retries": count,
                    "backoff_seconds": backoff,
                    "max_backoff_seconds": cap,
                }
            }
        ),
        RETRYING,
    )
    assert 0 <= policy.max_retries <= 20
    assert 0 <= policy.backoff_seconds <= 3600
    assert 0 <= policy.max_backoff_seconds <= 86400
    for attempt in range(1, policy.max_retries + 1):
        assert 0 <= policy.delay("k", attempt) <= policy.max_backoff_seconds
