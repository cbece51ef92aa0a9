"""The one list path: `{count, next, previous, results}` lists with page / page_size.

Every list route takes its page as `paging: PagingDep` (one upper bound,
MAX_PAGE_SIZE, to which a larger `page_size` is capped) and answers through `page_response` (or `capped_page`, which
counts up to a cap, or `listing` for a list that is never paged): the answer's
shape is built in `listing` only.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Query, Request

MAX_PAGE_SIZE = 100
# Deep enough for any real listing; bounded so that the OFFSET stays a 64-bit integer.
MAX_PAGE = 100_000
# Versions are PostgreSQL integers: a larger one is refused as input, not sent to the database.
MAX_VERSION = 2**31 - 1
DEFAULT_PAGE_SIZE = 20


# Seed 003 documents `page_size` as "max 100": a client asking for more gets pages of 100
# (and links that say so), not a 422; below 1 is no page size at all and stays refused.
PAGE_SIZE_DOC = f"rows a page; a larger value than {MAX_PAGE_SIZE} is answered with {MAX_PAGE_SIZE}"


class Paging:
    """`?page=&page_size=` of a list: page from 1, at most MAX_PAGE_SIZE rows a page."""

    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        page_size: Annotated[int, Query(ge=1, description=PAGE_SIZE_DOC)] = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.page = page
        self.page_size = min(page_size, MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        """The rows before this page (SQL OFFSET)."""
        return (self.page - 1) * self.page_size

    def __repr__(self) -> str:
        return f"Paging(page={self.page}, page_size={self.page_size})"


class LogPaging(Paging):
    """Seed 001's workflow logs list 50 steps a page unless asked otherwise; same bounds."""

    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        page_size: Annotated[int, Query(ge=1, description=PAGE_SIZE_DOC)] = 50,
    ) -> None:
        super().__init__(page, page_size)


PagingDep = Annotated[Paging, Depends()]
LogPagingDep = Annotated[LogPaging, Depends()]


def listing(
    results: list[Any], *, count: int | None = None, next_url: str | None = None, previous_url: str | None = None
) -> dict[str, Any]:
    """The shape of every list answer. `listing(results)` is a list that is never paged: all
    of it, no next or previous page."""
    return {
        "count": len(results) if count is None else count,
        "next": next_url,
        "previous": previous_url,
        "results": results,
    }


def page_response(
    request: Request, paging: Paging, count: int, results: list[Any], *, has_more: bool | None = None
) -> dict[str, Any]:
    """`has_more` (a row exists after this page) decides `next` when `count` may be capped."""
    page, page_size = paging.page, paging.page_size

    def link(number: int) -> str:
        return str(request.url.include_query_params(page=number, page_size=page_size))

    if has_more is None:
        has_more = page < max(1, -(-count // page_size))
    return listing(
        results, count=count,
        next_url=link(page + 1) if has_more else None,
        previous_url=link(page - 1) if page > 1 else None,
    )


async def capped_page(
    request: Request,
    pool: asyncpg.Pool,
    *,
    select: str,
    source: str,
    order: str,
    args: list[Any],
    paging: Paging,
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
        *args, paging.page_size + 1, paging.offset,
    )
    response = page_response(request, paging, min(counted, cap), [], has_more=len(rows) > paging.page_size)
    response["count_capped"] = counted > cap
    return response, list(rows[: paging.page_size])
