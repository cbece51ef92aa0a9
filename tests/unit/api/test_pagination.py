"""The one list path: page bounds, the answer's shape and its links."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from api.app import create_app
from api.pagination import MAX_PAGE, MAX_PAGE_SIZE, LogPaging, Paging, listing, page_response


def _request(query: str = "") -> Request:
    return Request({
        "type": "http", "method": "GET", "scheme": "http", "server": ("fluxo.test", 80),
        "path": "/api/v1/workflows", "query_string": query.encode(), "headers": [],
    })


def test_paging_defaults_and_offset() -> None:
    assert (Paging().page, Paging().page_size, Paging().offset) == (1, 20, 0)
    assert Paging(3, 25).offset == 50
    assert LogPaging().page_size == 50


def test_a_page_size_over_the_maximum_is_capped_not_refused() -> None:
    # Seed 003's "max 100": 1000 asks for more than a page holds and gets a page of 100.
    assert Paging(1, 1000).page_size == MAX_PAGE_SIZE == 100
    assert Paging(2, 1000).offset == 100
    assert LogPaging(1, 101).page_size == 100
    assert Paging(1, 100).page_size == 100 and Paging(1, 1).page_size == 1


def test_links_of_a_capped_page_name_the_page_size_served() -> None:
    capped = page_response(_request("page_size=1000"), Paging(1, 1000), 250, [])
    assert capped["next"] == "http://fluxo.test/api/v1/workflows?page=2&page_size=100"


def test_a_never_paged_list_is_all_of_it() -> None:
    assert listing([1, 2]) == {"count": 2, "next": None, "previous": None, "results": [1, 2]}


def test_links_keep_the_query_and_stop_at_the_last_page() -> None:
    middle = page_response(_request("status=active&page=2&page_size=10"), Paging(2, 10), 25, ["x"])
    assert middle["count"] == 25 and middle["results"] == ["x"]
    assert middle["next"] == "http://fluxo.test/api/v1/workflows?status=active&page=3&page_size=10"
    assert middle["previous"] == "http://fluxo.test/api/v1/workflows?status=active&page=1&page_size=10"
    last = page_response(_request("page=3&page_size=10"), Paging(3, 10), 25, [])
    assert last["next"] is None and last["previous"] is not None
    assert page_response(_request(), Paging(), 0, [])["next"] is None


def test_has_more_decides_next_when_the_count_is_capped() -> None:
    capped = page_response(_request(), Paging(1, 10), 10, [], has_more=True)
    assert capped["next"] == "http://fluxo.test/api/v1/workflows?page=2&page_size=10"


def operation_param(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_every_list_route_takes_the_same_page_bounds() -> None:
    spec = create_app().openapi()
    paged = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if "page_size" not in params and "page" not in params:
                continue
            paged += 1
            where = f"{method.upper()} {path}"
            assert params["page"]["minimum"] == 1 and params["page"]["maximum"] == MAX_PAGE, where
            assert params["page_size"]["minimum"] == 1, where
            # No maximum to refuse: a larger page size is capped (the description says so).
            assert "maximum" not in params["page_size"], where
            assert f"answered with {MAX_PAGE_SIZE}" in operation_param(operation, "page_size")["description"], where
            assert params["page_size"]["default"] in (20, 50), where
    assert paged >= 24
