"""JSON Schemas of every record type and of the envelope, for analytics consumers.

`make schemas` writes them to `schemas/json/`; the committed copy is the
snapshot that `tests/unit/schemas/test_compatibility.py` holds new code to.
"""

from __future__ import annotations

from typing import Any

from schemas.envelope import Envelope
from schemas.records import RECORD_TYPES
from schemas.topics import ALL_TOPICS

# What pydantic v2 generates; said explicitly so validators pick the right dialect.
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FILE = "envelope.json"
TOPICS_FILE = "topics.json"


def schema_file(type_name: str) -> str:
    return f"{type_name}.json"


def record_schema(type_name: str) -> dict[str, Any]:
    """The JSON Schema of one record type's `data` (KeyError if there is no such type)."""
    schema: dict[str, Any] = {"$schema": DIALECT, "$id": f"urn:fluxo:schema:{type_name}"}
    schema.update(RECORD_TYPES[type_name].model_json_schema())
    schema["title"] = type_name
    return schema


def envelope_schema() -> dict[str, Any]:
    schema: dict[str, Any] = {"$schema": DIALECT, "$id": "urn:fluxo:schema:envelope"}
    schema.update(Envelope.model_json_schema())
    return schema


def topics_document() -> dict[str, Any]:
    return {
        "topics": [
            {
                "name": t.name,
                "key": t.key,
                "cleanup": t.cleanup,
                "holds": t.holds,
                "internal": t.internal,
                "records": list(t.type_names),
            }
            for t in ALL_TOPICS
        ]
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (plus `topics.json`, the registry as data)."""
    out: dict[str, dict[str, Any]] = {ENVELOPE_FILE: envelope_schema()}
    for type_name in sorted(RECORD_TYPES):
        out[schema_file(type_name)] = record_schema(type_name)
    out[TOPICS_FILE] = topics_document()
    return out
