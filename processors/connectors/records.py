"""database_query nodes: read rows of the workspace's data tables.

Filters are an object of field -> value matched by JSON containment, always
passed as parameters: no SQL is ever built from user input. Rows written by
create_record nodes land here through the projection, so a query right
after a create in the same execution may not see it yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from processors.connectors.base import Connector, ConnectorContext, ConnectorError
from schemas.records import NodeWorkOrdered

_TABLE = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
MAX_ROWS = 1000
_pool: Any = None


def install_db(pool: Any) -> None:
    global _pool
    _pool = pool


def validate_query(config: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not isinstance(config.get("table"), str) or not _TABLE.match(str(config.get("table"))):
        problems["config.table"] = "is required: letters, digits, _ or -"
    where = config.get("where", config.get("filters", {}))
    if not isinstance(where, Mapping):
        problems["config.where"] = "must be an object of field: value"
    limit = config.get("limit", 100)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ROWS:
        problems["config.limit"] = f"an integer from 1 to {MAX_ROWS}"
    if str(config.get("order", "desc")).lower() not in ("asc", "desc"):
        problems["config.order"] = "asc or desc (by creation time)"
    if "query" in config or "sql" in config:
        problems["config.query"] = "raw SQL is not accepted; use table, where, limit, order"
    return problems


async def run_query(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    config = order.config
    if _pool is None:
        raise ConnectorError("DB_UNAVAILABLE", "the data tables are not reachable from this worker", retryable=True)
    where = dict(config.get("where", config.get("filters", {})))
    ascending = str(config.get("order", "desc")).lower() == "asc"
    try:
        rows = await _pool.fetch(
            "SELECT id, data, created_at FROM data_records WHERE workspace_id = $1 AND table_name = $2"
            " AND data @> $3::jsonb ORDER BY created_at " + ("ASC" if ascending else "DESC") + ", id LIMIT $4",
            ctx.workspace_id, config["table"], orjson.dumps(where).decode(), int(config.get("limit", 100)),
        )
    except OSError as exc:
        raise ConnectorError("DB_UNAVAILABLE", f"data tables unreachable: {type(exc).__name__}", retryable=True) from None
    records = [{"id": r["id"], **orjson.loads(r["data"]), "_created_at": r["created_at"].isoformat()} for r in rows]
    return {"rows": records, "count": len(records), "table": config["table"]}


QUERY = Connector(action_types=("database_query", "query_records", "find_records"), run=run_query, validate=validate_query)
