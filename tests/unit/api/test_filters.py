"""List filters never put a caller's value into SQL: each one becomes a bound parameter."""

from __future__ import annotations

from api.filters import Where

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
