"""database_query nodes: read rows of the workspace's data tables.

Filters are an object of field -> value matched by JSON containment, always
passed as parameters: no SQL is ever built from user input. Rows written by
create_record nodes land here through the projection, so a query right
after a create in the same execution may not see it yet.
"""

from __future__ import annotations

from typing import Any

import orjson

from processors.connectors.base import Connector, ConnectorContext, ConnectorError
from processors.connectors.checks import ACTION_TYPES, validate_query
from schemas.records import NodeWorkOrdered

_pool: Any = None


def install_db(pool: Any) -> None:
    global _pool
    _pool = pool


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


QUERY = Connector(action_types=ACTION_TYPES["query"], run=run_query, validate=validate_query)
