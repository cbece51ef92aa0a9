"""Workspace data tables: rows written by create_record nodes (read-only here)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Path, Request

from api.deps import PrincipalDep, StateDep
from api.pagination import PagingDep, listing, page_response
from schemas.answers.common import Listing, Page
from schemas.answers.data import DataRecord, DataTable

router = APIRouter(prefix="/tables", tags=["data"])


@router.get("", response_model=Listing[DataTable])
async def list_tables(state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    rows = await state.pool.fetch(
        "SELECT table_name, count(*) AS records, max(created_at) AS last_record_at FROM data_records"
        " WHERE workspace_id = $1 GROUP BY table_name ORDER BY table_name",
        principal.workspace_id,
    )
    return listing([dict(r) for r in rows])


@router.get("/{table}/records", response_model=Page[DataRecord])
async def list_records(
    request: Request, state: StateDep, principal: PrincipalDep,
    paging: PagingDep,
    table: str = Path(pattern=r"^[A-Za-z0-9_\-]{1,100}$"),
) -> dict[str, Any]:
    count = await state.pool.fetchval(
        "SELECT count(*) FROM data_records WHERE workspace_id = $1 AND table_name = $2", principal.workspace_id, table
    )
    rows = await state.pool.fetch(
        "SELECT * FROM data_records WHERE workspace_id = $1 AND table_name = $2 ORDER BY created_at DESC, id"
        " LIMIT $3 OFFSET $4",
        principal.workspace_id, table, paging.page_size, paging.offset,
    )
    results = [
        {"id": r["id"], "data": orjson.loads(r["data"]) if isinstance(r["data"], str) else r["data"],
         "execution_id": r["execution_id"], "node_id": r["node_id"], "created_at": r["created_at"]}
        for r in rows
    ]
    return page_response(request, paging, count, results)
