"""Unknown query parameters are refused (422 naming each), on every route, from the route table.

A misspelt filter (`?stauts=failed`) used to be ignored silently: the caller got the whole
list and took it for the filtered one. Each route's declared query parameters (its own, its
dependencies', the routers' such as paging) are read once from FastAPI's dependant tree, so
a new parameter is accepted the moment it is declared, and the OpenAPI document stays the
whole truth of what a route takes.

Routes whose query string is input rather than options (an inbound webhook passes its query
parameters to the workflow) are marked with `@takes_any_query` and are not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from schemas.errors import InvalidInput

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__fluxo_takes_any_query__"
UNKNOWN = "unknown query parameter"

# route -> the names it declares (None: it takes any); routes live as long as the app.
_declared: dict[int, frozenset[str] | None] = {}


def takes_any_query(endpoint: F) -> F:
    """Mark an endpoint whose query string is free input (passed on, never an option)."""
    setattr(endpoint, _MARK, True)
    return endpoint


def _names(dependant: Dependant) -> set[str]:
    names: set[str] = set()
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            # A query model (`Annotated[Filters, Query()]`) declares its fields.
            names |= {f.alias or name for name, f in model.model_fields.items()}
        else:
            names.add(param.alias)
    for sub in dependant.dependencies:
        names |= _names(sub)
    return names


def declared_query(route: APIRoute) -> frozenset[str] | None:
    """The query parameter names a route declares (its own, its dependencies', its routers'),
    by the names callers use (aliases); None for a route that takes any."""
    if getattr(route.endpoint, _MARK, False):
        return None
    return frozenset(_names(route.dependant))


def unknown_query(given: list[str], declared: frozenset[str] | None) -> dict[str, str]:
    """The fields of the 422: each given name the route does not declare (pure)."""
    if declared is None:
        return {}
    return {name: UNKNOWN for name in dict.fromkeys(given) if name not in declared}


async def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: runs before the route's own (authentication included)."""
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    key = id(route)
    if key not in _declared:
        _declared[key] = declared_query(route)
    fields = unknown_query(list(request.query_params.keys()), _declared[key])
    if fields:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(fields)}", fields=fields)
