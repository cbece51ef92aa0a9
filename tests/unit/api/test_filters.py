"""List filters never put a caller's value into SQL: each one becomes a bound parameter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from api.app import create_app
from api.filters import DateFrom, DateTo, Where

HOSTILE = "x' OR 1=1; DROP TABLE executions; --"


def test_values_are_parameters_and_never_sql() -> None:
    where = (
        Where("ws-1").eq("status", HOSTILE).add("started_at >= {}", HOSTILE).search(HOSTILE, "name", "description")
        .eq("subject", None)
    )
    assert HOSTILE not in where.sql
    assert where.sql == (
        "workspace_id = $1 AND status = $2 AND started_at >= $3 AND (name ILIKE $4 OR description ILIKE $4)"
    )
    assert where.args == ["ws-1", HOSTILE, HOSTILE, f"%{HOSTILE}%"]


def test_the_workspace_scope_is_always_the_first_clause() -> None:
    assert Where("ws-2").sql == "workspace_id = $1"
    assert Where("ws-2", column="s.workspace_id").eq("s.node_id", "n").sql == "s.workspace_id = $1 AND s.node_id = $2"


# -- date bounds ---------------------------------------------------------------------------

FROM: TypeAdapter[datetime] = TypeAdapter(DateFrom)
TO: TypeAdapter[datetime] = TypeAdapter(DateTo)
DATE_PARAMS = frozenset({"date_from", "date_to", "created_at__gte", "created_at__lte"})


def test_a_date_alone_is_the_whole_utc_day() -> None:
    assert FROM.validate_python("2026-12-03") == datetime(2026, 12, 3, tzinfo=UTC)
    last = TO.validate_python("2026-12-03")
    assert last == datetime(2026, 12, 3, 23, 59, 59, 999999, tzinfo=UTC)
    # Everything of that day is <= the bound, the next day's first instant is not.
    assert datetime(2026, 12, 3, 23, 59, 59, 999999, tzinfo=UTC) <= last < datetime(2026, 12, 4, tzinfo=UTC)
    assert TO.validate_python(date(2026, 12, 3)) == last
    assert FROM.validate_python("9999-12-31") == datetime(9999, 12, 31, tzinfo=UTC)
    assert TO.validate_python("9999-12-31").date() == date(9999, 12, 31)  # no overflow past the last day


def test_a_date_time_is_the_instant_it_names_utc_when_it_has_no_offset() -> None:
    assert TO.validate_python("2026-12-03T10:30:00") == datetime(2026, 12, 3, 10, 30, tzinfo=UTC)
    assert TO.validate_python("2026-12-03T00:00:00") == datetime(2026, 12, 3, tzinfo=UTC)
    given = FROM.validate_python("2026-12-03T10:30:00+04:00")
    assert given == datetime(2026, 12, 3, 6, 30, tzinfo=UTC) and given.utcoffset() == timedelta(hours=4)


def test_a_date_that_is_no_day_is_refused() -> None:
    for bad in ("2026-13-45", "2026-02-30", "yesterday", "2026-12"):
        with pytest.raises(ValidationError):
            TO.validate_python(bad)


def test_every_date_filter_of_the_api_reads_dates_the_same_way() -> None:
    spec = create_app().openapi()
    seen = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["name"] not in DATE_PARAMS:
                    continue
                seen += 1
                where = f"{method.upper()} {path} ?{param['name']}"
                formats = {s.get("format") for s in param["schema"]["anyOf"][0]["anyOf"]}
                assert formats == {"date-time", "date"}, where
    assert seen >= 14
