"""Every operation of the published document declares its success answer (issue 16).

A typed client is generated from /openapi.json: an operation whose 2xx answer is `{}` or a
free-form object gives it nothing to type. This check builds the document from the app
itself (no server) and fails on the first route that loses its answer model.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from infra.settings import Settings

# Statuses that answer no body: no schema to declare, the status is the answer.
NO_BODY = {"204", "301", "302", "303", "307", "308"}
# Media types that are not JSON, and the schema each must declare. A text/event-stream answer
# declares its events' model, like JSON (SSE clients and schemathesis read one event at a time).
TEXT_TYPES = {"text/plain"}

Document = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> Document:
    return create_app(Settings()).openapi()


def _operations(document: Document) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, operations in document["paths"].items()
            for method, operation in operations.items()]


def _named(schema: dict[str, Any], components: dict[str, Any]) -> str | None:
    """The component a schema names, through one array level or a union of named shapes
    (the first one); None for an unnamed schema."""
    if "anyOf" in schema:
        names = [_named(s, components) for s in schema["anyOf"]]
        return names[0] if names and None not in names else None
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    ref = schema.get("$ref", "")
    name = ref.removeprefix("#/components/schemas/")
    return name if ref.startswith("#/components/schemas/") and name in components else None


def _answer_faults(method: str, path: str, operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    where = f"{method.upper()} {path}"
    successes = {s: r for s, r in operation["responses"].items() if s.startswith(("2", "3"))}
    if not successes:
        return [f"{where}: no success answer"]
    faults = []
    for status, response in successes.items():
        content = response.get("content")
        if status in NO_BODY:
            if content:
                faults.append(f"{where} {status}: a no-body status documents a body")
            continue
        if not content:
            faults.append(f"{where} {status}: no content")
            continue
        for media, body in content.items():
            schema = body.get("schema") or {}
            if media.split(";")[0].strip() in TEXT_TYPES:
                if schema.get("type") != "string":
                    faults.append(f"{where} {status} {media}: not a string schema")
                continue
            name = _named(schema, components)
            if name is None:
                faults.append(f"{where} {status} {media}: unnamed schema {schema}")
            elif name == "ErrorResponse":
                faults.append(f"{where} {status}: success answer documented as the error envelope")
            elif not components[name].get("properties") and components[name].get("type") == "object":
                faults.append(f"{where} {status}: {name} is a free-form object")
    return faults


def test_every_operation_declares_its_success_answer(document: Document) -> None:
    components = document["components"]["schemas"]
    faults = [f for m, p, o in _operations(document) for f in _answer_faults(m, p, o, components)]
    assert faults == [], "\n".join(faults)


def test_the_check_catches_an_operation_without_a_model(document: Document) -> None:
    # FastAPI's answer for `-> dict[str, Any]`: what every route had before issue 16.
    free = {"responses": {"200": {"description": "ok", "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": True, "title": "Response X"}}}}}}
    unnamed = "{'type': 'object', 'additionalProperties': True, 'title': 'Response X'}"
    assert _answer_faults("get", "/x", free, {}) == [f"GET /x 200 application/json: unnamed schema {unnamed}"]
    assert _answer_faults("get", "/x", {"responses": {"404": {}}}, {}) == ["GET /x: no success answer"]
    assert _answer_faults("delete", "/x", {"responses": {"204": {"description": "gone"}}}, {}) == []


def test_the_metrics_and_the_list_pages_are_described(document: Document) -> None:
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert metrics["text/plain"]["schema"]["type"] == "string"
    workflows = document["paths"]["/api/v1/workflows"]["get"]["responses"]["200"]["content"]["application/json"]
    page = document["components"]["schemas"][_named(workflows["schema"], document["components"]["schemas"]) or ""]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])


def test_the_live_stream_documents_its_events(document: Document) -> None:
    stream = document["paths"]["/api/v1/console/executions/stream"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
    event = document["components"]["schemas"][_named(stream["text/event-stream"]["schema"], document["components"]["schemas"]) or ""]
    assert {"event", "data", "id"} <= set(event["properties"])
    assert _answer_faults("get", "/s", {"responses": {"200": {"description": "x", "content": {
        "text/event-stream": {"schema": {"type": "string"}}}}}}, {}) == [
        "GET /s 200 text/event-stream: unnamed schema {'type': 'string'}"]
