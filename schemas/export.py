"""JSON Schemas of every record type and of the envelope, for analytics consumers."""

from __future__ import annotations

from typing import Any

from schemas.envelope import Envelope
from schemas.records import RECORD_TYPES
from schemas.topics import ALL_TOPICS


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema."""
    out: dict[str, dict[str, Any]] = {"envelope.json": Envelope.model_json_schema()}
    for type_name, model in sorted(RECORD_TYPES.items()):
        schema = model.model_json_schema()
        schema["$id"] = f"urn:fluxo:schema:{type_name}"
        schema["title"] = type_name
        out[f"{type_name}.json"] = schema
    out["topics.json"] = {
        "topics": [
            {"name": t.name, "key": t.key, "cleanup": t.cleanup, "holds": t.holds} for t in ALL_TOPICS
        ]
    }
    return out
