"""WHERE clauses for list endpoints, always with bound parameters (never values in the SQL),
and the one reading of their date bounds (`DateFrom`, `DateTo`)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def day_bound(value: Any, *, end: bool) -> Any:
    """A bound given as a date alone (`2026-12-03`) is the whole UTC day: a lower bound is
    its first instant, an upper bound its last (23:59:59.999999, PostgreSQL's finest step,
    so `<=` takes in everything of that day). Read as a date-time it would be midnight, and
    `date_to=2026-12-03` would leave out the very day it names. Anything else is left to
    the date-time parser."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _BARE_DATE.fullmatch(value.strip()):
        day = date.fromisoformat(value.strip())  # ValueError (-> 422) for 2026-13-45
    else:
        return value
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """A date-time without an offset is UTC (not the server's local time)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_BOUND_SCHEMA = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}],
    "description": "a date-time (UTC without an offset), or a date alone: the whole UTC day",
}

# The date bounds every list takes (`date_from`/`date_to`, seed 003's `created_at__gte`/`__lte`).
DateFrom = Annotated[
    datetime, BeforeValidator(lambda v: day_bound(v, end=False)), AfterValidator(as_utc), WithJsonSchema(_BOUND_SCHEMA),
]
DateTo = Annotated[
    datetime, BeforeValidator(lambda v: day_bound(v, end=True)), AfterValidator(as_utc), WithJsonSchema(_BOUND_SCHEMA),
]


class Where:
    """Starts scoped to a workspace; each filter given (not None) adds `AND ...` with its own parameter."""

    def __init__(self, workspace_id: str, column: str = "workspace_id") -> None:
        self.clauses = [f"{column} = $1"]
        self.args: list[Any] = [workspace_id]

    def add(self, template: str, value: Any) -> Where:
        """`template` holds `{}` where the parameter goes, e.g. `started_at >= {}`."""
        if value is not None:
            self.args.append(value)
            self.clauses.append(template.format(f"${len(self.args)}"))
        return self

    def eq(self, column: str, value: Any) -> Where:
        return self.add(f"{column} = {{}}", value)

    def search(self, text: str | None, *columns: str) -> Where:
        if text:
            self.args.append(f"%{text}%")
            placeholder = f"${len(self.args)}"
            self.clauses.append("(" + " OR ".join(f"{c} ILIKE {placeholder}" for c in columns) + ")")
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)
