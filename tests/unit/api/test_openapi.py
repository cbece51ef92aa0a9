"""The published document: every error status an operation answers, all with the one envelope."""

from __future__ import annotations

from api.app import create_app
from api.openapi import error_statuses
from infra.settings import Settings


def test_error_statuses_follow_what_an_operation_is() -> None:
    assert error_statuses("get", "/health", {}) == ["422"]
    assert error_statuses("get", "/api/v1/workflows", {"security": [{"HTTPBearer": []}]}) == ["401", "403", "422"]
    assert error_statuses("post", "/api/v1/auth/login", {"requestBody": {}}) == ["401", "404", "409", "413", "422", "503"]
    assert error_statuses("delete", "/api/v1/triggers/{trigger_id}", {"security": [{}]}) == [
        "401", "403", "404", "409", "413", "422", "503"]
    assert "405" in error_statuses("post", "/api/v1/hooks/{token}", {})
    # A provider's call to an integration is public, refused 401 when not signed.
    assert error_statuses("post", "/api/v1/integrations/{integration_id}/webhook", {}) == ["401", "404", "409", "413", "422", "503"]


def test_every_error_answer_is_documented_as_the_error_envelope() -> None:
    document = create_app(Settings()).openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    envelope = document["components"]["schemas"]["ErrorResponse"]
    assert envelope["required"] == ["error"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if s.startswith(("4", "5"))}
            assert errors, f"{method} {path}"
            for response in errors.values():
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}


def test_a_conditional_write_documents_412() -> None:
    if_match = {"security": [{}], "parameters": [{"name": "If-Match", "in": "header"}]}
    assert "412" in error_statuses("put", "/api/v1/workflows/{workflow_id}", if_match)
    assert "412" not in error_statuses("put", "/api/v1/workflows/{workflow_id}", {"security": [{}]})
