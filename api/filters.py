"""WHERE clauses for list endpoints, always with bound parameters (never values in the SQL)."""

from __future__ import annotations

from typing import Any


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
