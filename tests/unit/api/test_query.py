"""Unknown query parameters: what each route declares, read from the app's own route table."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path

from api.app import create_app
from api.paths import canonical
from api.query import UNKNOWN, declared_query, unknown_query
from infra.settings import Settings

# Every query the seeds' own examples send (seeds 003 and 004): each must be declared.
SEED_QUERIES = (
    "/api/v1/workflow/api/workflows/?status=ACTIVE&page=1&page_size=10",
    "/api/v1/workflow/api/workflows/?search=lead&ordering=-updated_at",
    "/api/v1/workflow/api/triggers/?trigger_type=MESSAGE_RECEIVED&is_active=true&search=x",
    "/api/v1/workflow/api/actions/?action_type=send_message&is_active=true",
    "/api/v1/workflow/api/actions/parameter_templates/?action_type=send_message",
    "/api/v1/workflow/api/workflow-executions/?status=COMPLETED&workflow=workflow-uuid&user=u&created_at__gte=2026-01-01",
    "/api/v1/workflow/api/workflow-executions/?page_size=10",
    "/api/v1/workflow/api/trigger-event-logs/?event_type=X&user_id=u&conversation_id=c",
    "/api/v1/workflow/api/action-logs/?success=true&action=a",
    "/api/v1/workflows/?project=p&status=active&trigger_type=manual",
    "/api/v1/executions/?workflow=w&status=running&date_from=2026-01-01&date_to=2026-01-02",
)


@pytest.fixture(scope="module")
def routes() -> list[tuple[str, str, APIRoute]]:
    app = create_app(Settings())
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in context.methods or ():
                found.append((method, context.path or "", context.original_route))
    return found


def _route(routes: list[tuple[str, str, APIRoute]], method: str, path: str) -> APIRoute:
    return next(r for m, p, r in routes if m == method and compile_path(p)[0].match(path))


def test_unknown_names_each_undeclared_parameter_once() -> None:
    assert unknown_query([], frozenset()) == {}
    assert unknown_query(["page", "status"], frozenset({"page", "status"})) == {}
    assert unknown_query(["stauts", "page", "stauts", "x"], frozenset({"page"})) == {"stauts": UNKNOWN, "x": UNKNOWN}
    assert unknown_query(["anything"], None) == {}  # a route taking any query


def test_a_route_declares_its_own_and_its_dependencies_parameters(routes: list[tuple[str, str, APIRoute]]) -> None:
    declared = declared_query(_route(routes, "GET", "/api/v1/workflows"))
    assert declared is not None and {"page", "page_size", "status", "search", "ordering"} <= declared
    assert declared_query(_route(routes, "POST", "/api/v1/workflows")) == frozenset()
    assert declared_query(_route(routes, "GET", "/health")) == frozenset()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH"])
def test_inbound_webhooks_take_any_query(routes: list[tuple[str, str, APIRoute]], method: str) -> None:
    assert declared_query(_route(routes, method, "/api/v1/hooks/abc")) is None
    assert declared_query(_route(routes, method, "/api/v1/webhooks/execute/abc")) is None
    assert declared_query(_route(routes, "POST", "/api/v1/workflows/w/trigger")) is None


@pytest.mark.parametrize("url", SEED_QUERIES)
def test_every_query_a_seed_sends_is_declared(routes: list[tuple[str, str, APIRoute]], url: str) -> None:
    parts = urlsplit(url)
    route = _route(routes, "GET", canonical(parts.path))
    names = [name for name, _ in parse_qsl(parts.query)]
    assert unknown_query(names, declared_query(route)) == {}, route.path
