"""The live executions stream's events (GET /api/v1/console/executions/stream, text/event-stream).

The OpenAPI document describes a server-sent-events answer one event at a time, as an SSE
client reads it (`event`, `data`, `id`); `data` is one line of JSON, an `ExecutionChange` for
`execution` events and `{"cursor": ...}` for `ready` and `end`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.answers.common import Answer


class LiveEvent(Answer):
    """One server-sent event of the stream."""

    event: Literal["ready", "execution", "end"] = Field(
        description="ready (first, with the starting cursor), execution (one change), end (last)")
    data: str = Field(description="JSON on one line: an ExecutionChange, or {cursor} for ready and end")
    id: str = Field(description="the cursor just past this event (partition:offset,...): send it back as `after`")
    retry: int | None = Field(default=None, description="milliseconds to wait before reconnecting")


class ExecutionChange(Answer):
    """The `data` of an `execution` event: what one execution record changed."""

    change: Literal["started", "node_scheduled", "node_succeeded", "node_failed", "node_retry_scheduled",
                    "completed", "failed", "cancelled"]
    execution_id: str
    status: Literal["running", "completed", "failed", "cancelled"]
    at: str = Field(description="when the record was written (ISO 8601)")
    workflow_id: str | None = Field(default=None, description="on starts and ends; node steps do not name it")
    workflow_name: str | None = None
    workflow_version: int | None = None
    trigger_type: str | None = None
    user_id: str | None = Field(default=None, description="the subject the execution runs for")
    retry_of: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    execution_path: list[str] | None = None
    failed_node: str | None = None
    error_message: str | None = None
    node_id: str | None = Field(default=None, description="on node steps")
