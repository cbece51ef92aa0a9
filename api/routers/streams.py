"""The published stream contract: the AsyncAPI document of the topics and the records' JSON Schemas.

Generated from the code that writes the records, so what is served is what is
on the topics. The document's payload `$ref`s are relative (`schemas/…json`),
so a tool that fetched /api/v1/streams/asyncapi.json resolves them here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter

from api.deps import PrincipalDep
from api.pagination import listing
from schemas.answers.common import Page
from schemas.answers.streams import AsyncApiDocument, RecordJsonSchema, RecordSchemaEntry
from schemas.asyncapi import asyncapi_document
from schemas.errors import NotFound
from schemas.export import ENVELOPE_FILE, TOPICS_FILE, json_schemas
from schemas.topics import ALL_TOPICS

router = APIRouter(prefix="/streams", tags=["streams"])

SCHEMA_BASE = "schemas/"


@cache
def _document() -> dict[str, Any]:
    return asyncapi_document(schema_base=SCHEMA_BASE)


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Schema name (record type, or `envelope`) -> JSON Schema."""
    return {
        name.removesuffix(".json"): schema for name, schema in json_schemas().items() if name != TOPICS_FILE
    }


@router.get("/asyncapi.json", response_model=AsyncApiDocument)
async def asyncapi(_: PrincipalDep) -> dict[str, Any]:
    return _document()


@router.get("/schemas", response_model=Page[RecordSchemaEntry])
async def list_schemas(_: PrincipalDep) -> dict[str, Any]:
    results = []
    for name in _schemas():
        topics = [t.name for t in ALL_TOPICS if name in t.type_names]
        results.append({
            "name": name,
            "kind": "envelope" if f"{name}.json" == ENVELOPE_FILE else "record",
            "topics": topics,
            "url": f"/api/v1/streams/schemas/{name}.json",
        })
    return listing(results)


@router.get("/schemas/{name}.json", response_model=RecordJsonSchema)
async def get_schema(name: str, _: PrincipalDep) -> dict[str, Any]:
    schema = _schemas().get(name)
    if schema is None:
        raise NotFound(f"no record type {name!r}", fields={"name": "unknown record type"})
    return schema
