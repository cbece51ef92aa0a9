"""The one place errors become HTTP answers: {"error": {code, message, fields}}."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from infra.db_errors import DATABASE_DOWN
from schemas.errors import (
    Conflict,
    FluxoError,
    Forbidden,
    InfrastructureError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("fluxo.api")

_STATUS: list[tuple[type[FluxoError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (MethodNotAllowed, 405),
    (PayloadTooLarge, 413),
    (PreconditionFailed, 412),
    (InvalidInput, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (RateLimited, 429),
    (Unavailable, 503),
    # Any other infrastructure failure (a sealed secret that cannot be opened, a connector's
    # target refusing) is a 503 to retry as well: nothing the client sent is at fault.
    (InfrastructureError, 503),
]


def _body(code: str, message: str, fields: dict[str, object] | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


# The database being down is a 503 to retry, never a 500 with a trace.
RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: Exception) -> Unavailable:
    return Unavailable(
        f"the database is unavailable right now ({type(exc).__name__}); try again in a few seconds",
        fields={},
    )


def validation_fields(errors: Iterable[Mapping[str, Any]]) -> dict[str, object]:
    """Pydantic's errors as {field path: message}: the field at fault, never a trace."""
    fields: dict[str, object] = {}
    for item in errors:
        if item.get("type") == "json_invalid":
            # Its loc is a character position, not a field: the body as a whole is at fault.
            fields["body"] = f"{item['msg']} at character {item['loc'][-1]}"
            continue
        loc = [str(p) for p in item["loc"] if p not in ("body", "query", "path")]
        fields[".".join(loc) or "body"] = item["msg"]
    return fields


def invalid_item(error: ValidationError) -> InvalidInput:
    """One item of a batch that does not validate, as the typed error the item answers with."""
    return InvalidInput("invalid event", fields=validation_fields(error.errors(include_url=False)))


def status_of(exc: FluxoError) -> int:
    return next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)


def answer(exc: FluxoError) -> tuple[int, dict[str, object]]:
    """The status and body an error answers with (also what an inbound webhook's log records)."""
    return status_of(exc), _body(exc.code, exc.message, exc.fields)


def install(app: FastAPI) -> None:
    @app.exception_handler(FluxoError)
    async def _fluxo(_: Request, exc: FluxoError) -> ORJSONResponse:
        status, body = answer(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, PreconditionFailed):
            headers = {"ETag": exc.current_etag}
        elif status == 503:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if status == 500:
            log.error("unmapped error %s: %s", type(exc).__name__, exc.message)
        return ORJSONResponse(body, status_code=status, headers=headers)

    async def _database_down(request: Request, exc: Exception) -> ORJSONResponse:
        log.warning("%s %s: database unavailable: %r", request.method, request.url.path, exc)
        return await _fluxo(request, database_unavailable(exc))

    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, _database_down)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        return ORJSONResponse(_body("AUTO_007", "invalid request", validation_fields(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (a body that is not UTF-8, say): invalid input,
            # answered like every other, with the field at fault.
            return ORJSONResponse(_body("AUTO_007", "invalid request", {"body": str(exc.detail)}), status_code=422)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, f"HTTP_{exc.status_code}")
        return ORJSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code)
