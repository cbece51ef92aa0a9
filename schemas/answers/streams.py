"""Answers of the published stream contract (api/routers/streams.py)."""

from __future__ import annotations

from pydantic import Field

from schemas.answers.common import Answer, JsonObject, OpenAnswer


class AsyncApiDocument(OpenAnswer):
    """The AsyncAPI 3 document of the topics. Open: its channels, operations and components
    are the AsyncAPI specification's, keyed by our topic and record names."""

    asyncapi: str
    info: JsonObject
    channels: JsonObject
    operations: JsonObject
    components: JsonObject


class RecordSchemaEntry(Answer):
    name: str
    kind: str = Field(description="envelope or record")
    topics: list[str]
    url: str


class RecordJsonSchema(OpenAnswer):
    """A record's JSON Schema (draft 2020-12). Open: its keywords are JSON Schema's."""

    title: str
    type: str
    properties: JsonObject
