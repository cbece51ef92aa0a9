"""The published OpenAPI document, with the errors as they really are.

FastAPI documents only its own 422 shape (`{"detail": [...]}`); every error here answers
the one envelope `{"error": {"code", "message", "fields"}}` (api/errors.py, api/limits.py).
Each operation lists the error statuses it can answer, all with that envelope, so a client
(or schemathesis) can rely on the document for failures too.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from schemas.api import ErrorResponse

_REF = "#/components/schemas/ErrorResponse"
_WRITES = {"post", "put", "patch", "delete"}
_DESCRIPTIONS = {
    "401": "Not authenticated (missing, invalid or expired credentials)",
    "403": "Authenticated, but this role may not do this",
    "404": "No such resource in the caller's workspace",
    "405": "The resource does not take this method",
    "409": "The resource's current state does not allow this",
    "412": "If-Match names a version that is no longer current (the answer's ETag is the current one)",
    "413": "The request body is too large",
    "422": "Invalid input; `fields` names each field at fault",
    "503": "A backing service (Kafka, PostgreSQL) is unavailable",
}


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, from what it is (pure)."""
    statuses = {"422"}  # any request: its parameters are validated, and InputGuard reads them all
    if operation.get("security"):
        statuses |= {"401", "403"}
    elif "/auth/" in path:
        statuses.add("401")  # login and refresh: wrong credentials, a bad refresh token
    if "{" in path or "requestBody" in operation:
        statuses.add("404")  # a resource named in the path, or in the body (a workflow id, say)
    if method in _WRITES:
        statuses |= {"409", "413", "503"}
    if any(p.get("in") == "header" and p.get("name") == "If-Match" for p in operation.get("parameters", [])):
        statuses.add("412")  # a conditional write on a stale version (api/preconditions.py)
    if "{token}" in path:
        statuses |= {"401", "405"}  # public hooks: their signature and their allowed methods
    if path.endswith("/webhook"):
        statuses.add("401")  # a provider's call to an integration: its signature
    return sorted(statuses)


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorResponse"] = error_schema
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in error_statuses(method, path, operation):
                responses[status] = {
                    "description": _DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": {"$ref": _REF}}},
                }
    # FastAPI's own validation error shapes are never answered.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
