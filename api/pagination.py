"""`{count, next, previous, results}` lists with page / page_size."""

from __future__ import annotations

from typing import Any

from fastapi import Request

MAX_PAGE_SIZE = 100
# Deep enough for any real listing; bounded so that the OFFSET stays a 64-bit integer.
MAX_PAGE = 100_000
# Versions are PostgreSQL integers: a larger one is refused as input, not sent to the database.
MAX_VERSION = 2**31 - 1


def page_response(request: Request, count: int, page: int, page_size: int, results: list[Any]) -> dict[str, Any]:
    def link(number: int) -> str:
        return str(request.url.include_query_params(page=number, page_size=page_size))

    last = max(1, -(-count // page_size))
    return {
        "count": count,
        "next": link(page + 1) if page < last else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": results,
    }
