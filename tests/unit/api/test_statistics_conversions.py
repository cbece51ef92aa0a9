"""Conversions in the statistics (api/statistics.py): a share of the executions started."""

from __future__ import annotations

from datetime import date

from api.statistics import Counts, fill_days


def test_conversion_rate_is_conversions_over_executions_started() -> None:
    assert Counts(started=3, completed=3, converted=1).conversion_rate == round(1 / 3, 6)
    assert Counts(started=4, converted=1).conversion_rate == 0.25  # a running execution may convert too
    assert Counts().conversion_rate == 0.0


def test_each_day_of_a_series_has_its_conversions_zeros_included() -> None:
    days = fill_days({date(2026, 3, 2): Counts(started=2, completed=2, converted=1)}, date(2026, 3, 1), date(2026, 3, 2))
    assert [(d["date"], d["conversions"], d["conversion_rate"]) for d in days] == [("2026-03-02", 1, 0.5), ("2026-03-01", 0, 0.0)]
