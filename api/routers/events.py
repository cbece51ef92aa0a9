"""POST /triggers/process_event: the main ingest endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import ORJSONResponse

from api.deps import StateDep, WriterDep
from ingest.events import event_record
from schemas.answers.runs import EventQueued
from schemas.api import ProcessEvent
from schemas.records import EventIngested

router = APIRouter(prefix="/triggers", tags=["events"])


@router.post("/process_event", status_code=202, response_model=EventQueued)
async def process_event(
    body: ProcessEvent, state: StateDep, principal: WriterDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> ORJSONResponse:
    event = EventIngested(
        event_type=body.event_type,
        data=body.data,
        user_id=body.user_id,
        conversation_id=body.conversation_id,
        user=body.user,
        occurred_at=body.timestamp,
    )
    event_id, out = event_record(
        event, workspace_id=principal.workspace_id, source="api/process_event", idempotency_key=idempotency_key
    )
    await state.publish(out)  # acks=all: once we answer 202 the event is durable
    return ORJSONResponse(
        {"success": True, "event_log_id": event_id, "message": "Event queued for processing"},
        status_code=202,
    )
