"""The benchmark's arithmetic: percentiles, rates, verdicts, the table, the timeline join."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.bench.runner import summary_rows
from infra.bench.stats import fmt, latency_summary, percentile, rate, table, verdict
from infra.bench.tracker import Timeline


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7.0], 99) == 7.0
    assert percentile([3, 1, 2], 50) == 2  # unsorted input
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1), st.floats(min_value=0, max_value=100))
def test_percentile_is_a_member_and_monotonic(values: list[float], p: float) -> None:
    got = percentile(values, p)
    assert got in values
    assert min(values) <= got <= max(values)
    assert percentile(values, min(100.0, p + 1)) >= got


def test_latency_summary() -> None:
    s = latency_summary([10.0] * 98 + [50.0, 100.0])
    assert s["count"] == 100
    assert s["p50"] == 10.0 and s["p95"] == 10.0 and s["p99"] == 50.0 and s["max"] == 100.0
    assert s["mean"] == pytest.approx(11.3)
    assert latency_summary([])["count"] == 0 and math.isnan(latency_summary([])["p99"])


def test_rate_and_verdict() -> None:
    assert rate(1000, 0.5) == 2000
    assert math.isnan(rate(10, 0))
    assert verdict(2100, 2000, higher_is_better=True) == "met"
    assert verdict(1999, 2000, higher_is_better=True) == "missed"
    assert verdict(9.9, 10, higher_is_better=False) == "met"
    assert verdict(10.1, 10, higher_is_better=False) == "missed"
    assert verdict(math.nan, 10, higher_is_better=False) == "n/a"


def test_table_aligns_columns() -> None:
    text = table(["name", "value"], [["a", 1.5], ["longer name", 12345.0], ["c", math.nan]])
    lines = text.splitlines()
    assert lines[0].startswith("name") and set(lines[1]) <= {"-", " "}
    assert lines[2].endswith("1.50") and lines[3].endswith("12,345") and lines[4].endswith("-")
    assert len({len(line) for line in lines[1:4]}) == 1  # numbers right-aligned to one width
    assert fmt(1234) == "1,234" and fmt("x") == "x"


def test_timeline_joins_event_time_to_completion() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    tl = Timeline()
    for i in range(4):
        tl.event_time[f"e{i}"] = t0 + timedelta(milliseconds=10 * i)
        tl.event_of[f"x{i}"] = f"e{i}"
        tl.completed_at[f"x{i}"] = t0 + timedelta(milliseconds=10 * i + 25)
    tl.event_of["x-unknown"] = "e-not-ours"
    tl.completed_at["x-unknown"] = t0
    assert sorted(tl.latencies_ms()) == [25.0] * 4
    first, last = tl.window() or (None, None)
    assert first == t0 and last == t0 + timedelta(milliseconds=55)
    assert tl.stages_ms()["matcher"] == []  # no stage times recorded: nothing to split
    tl.started_at["x0"] = t0 + timedelta(milliseconds=5)
    tl.call["x0"] = (t0 + timedelta(milliseconds=12), t0 + timedelta(milliseconds=15))
    assert tl.stages_ms() == {"matcher": [5.0], "to_worker": [7.0], "http_call": [3.0], "to_completed": [10.0]}


def test_summary_rows_report_verdicts() -> None:
    lat = {"count": 10, "mean": 1.0, "p50": 40.0, "p95": 80.0, "p99": 120.0, "max": 130.0}
    results = {
        "e2e_paced": {"via": "kafka", "target_rate": 500.0, "executions_per_second": 499.0, "completed": 10,
                      "produced": 10, "failed": 0, "all_finished": True, "event_to_completion_ms": lat, "resources": []},
        "replay": {"records": 1000, "records_per_second": 60000.0},
    }
    rows = summary_rows(results)
    p99 = next(r for r in rows if r[1] == "event->completed p99 ms")
    assert p99[3] == 100.0 and p99[4] == "missed"
    assert ["replay", "records/s", 60000.0, 50000.0, "met"] in rows
