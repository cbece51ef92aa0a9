"""`{count, next, previous, results}` lists with page / page_size."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import Request

MAX_PAGE_SIZE = 100
# Deep enough for any real listing; bounded so that the OFFSET stays a 64-bit integer.
MAX_PAGE = 100_000
# Versions are PostgreSQL integers: a larger one is refused as input, not sent to the database.
MAX_VERSION = 2**31 - 1


def page_response(
    request: Request, count: int, page: int, page_size: int, results: list[Any], *, has_more: bool | None = None
) -> dict[str, Any]:
    """`has_more` (a row exists after this page) decides `next` when `count` may be capped."""

    def link(number: int) -> str:
        return str(request.url.include_query_params(page=number, page_size=page_size))

    if has_more is None:
        has_more = page < max(1, -(-count // page_size))
    return {
        "count": count,
        "next": link(page + 1) if has_more else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": results,
    }


async def capped_page(
    request: Request,
    pool: asyncpg.Pool,
    *,
    select: str,
    source: str,
    order: str,
    args: list[Any],
    page: int,
    page_size: int,
    cap: int,
) -> tuple[dict[str, Any], list[Any]]:
    """One page of `SELECT {select} {source} ORDER BY {order}`, with a count that stops at `cap`.

    An exact `count(*)` of every matching row, on every page, grew with the
    history (~200 ms per request at 1 million executions, docs/benchmarks.md).
    The count is exact up to `cap` (FLUXO_LIST_COUNT_CAP); past it `count` is the
    cap and `count_capped` is true ("more than 10,000"). `next` does not depend
    on the count: the page reads one row more than it returns to know whether
    another page exists, so paging on past the cap works. Returns the response
    without `results` and the rows.
    """
    counted = await pool.fetchval(
        f"SELECT count(*) FROM (SELECT 1 {source} LIMIT ${len(args) + 1}) AS capped", *args, cap + 1
    )
    rows = await pool.fetch(
        f"SELECT {select} {source} ORDER BY {order} LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args, page_size + 1, (page - 1) * page_size,
    )
    response = page_response(request, min(counted, cap), page, page_size, [], has_more=len(rows) > page_size)
    response["count_capped"] = counted > cap
    return response, list(rows[:page_size])
