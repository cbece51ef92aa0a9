"""Answers of the read-only views built from events: data tables and their records,
contacts (api/routers/data.py, contacts.py)."""

from __future__ import annotations

from schemas.answers.common import Answer, JsonObject, Timestamp


class DataTable(Answer):
    table_name: str
    records: int
    last_record_at: Timestamp | None


class DataRecord(Answer):
    id: str
    data: JsonObject
    execution_id: str
    node_id: str
    created_at: Timestamp


class Contact(Answer):
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    tags: list[str]
    conversation_status: str | None
    profile: JsonObject
    events_count: int
    last_event_type: str | None
    last_event_at: Timestamp | None
