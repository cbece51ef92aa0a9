"""POST /triggers/process_event(s): the main ingest endpoints.

One broker write per accepted event, answered on its acknowledgement: no database query
(the caller is authenticated from the API's in-memory directory) and no audit record (the
event record's envelope says who sent it, `actortype`/`actorid`/`actoruser`, and when).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import ORJSONResponse
from pydantic import ValidationError

from api.deps import StateDep, WriterDep
from api.errors import answer, invalid_item
from api.ratelimit import charge
from api.security import Principal
from ingest.events import event_record
from schemas.answers.runs import EventQueued, EventsQueued
from schemas.api import ProcessEvent, ProcessEventItem
from schemas.errors import FluxoError, InvalidInput, PayloadTooLarge
from schemas.outputs import Output
from schemas.records import EventIngested

router = APIRouter(prefix="/triggers", tags=["events"])

SOURCE = "api/process_event"


Actor = tuple[str, str, str | None]


def actor_of(principal: Principal) -> Actor:
    """Who sent an event, as its envelope says: (actortype, actorid, actoruser)."""
    if principal.via == "api_key" and principal.api_key_id:
        return ("api_key", principal.api_key_id, principal.user_id)
    return ("user", principal.user_id, None)


def _event(body: ProcessEvent) -> EventIngested:
    return EventIngested(
        event_type=body.event_type,
        data=body.data,
        user_id=body.user_id,
        conversation_id=body.conversation_id,
        user=body.user,
        occurred_at=body.timestamp,
    )


@router.post("/process_event", status_code=202, response_model=EventQueued)
async def process_event(
    body: ProcessEvent, state: StateDep, principal: WriterDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> ORJSONResponse:
    event_id, out = event_record(
        _event(body), workspace_id=principal.workspace_id, source=SOURCE,
        idempotency_key=idempotency_key, actor=actor_of(principal),
    )
    await state.publish(out)  # acks=all: once we answer 202 the event is durable
    return ORJSONResponse(
        {"success": True, "event_log_id": event_id, "message": "Event queued for processing"},
        status_code=202,
    )


_BATCH_EXAMPLE = [
    {"event_type": "ORDER_CREATED", "user_id": "user-1", "data": {"total": 42}, "idempotency_key": "order-1"},
    {"event_type": "MESSAGE_RECEIVED", "user_id": "user-2", "data": {"content": "hello"}},
]


@router.post("/process_events", status_code=202, response_model=EventsQueued)
async def process_events(
    request: Request, state: StateDep, principal: WriterDep,
    body: Annotated[list[Any], Body(examples=[_BATCH_EXAMPLE])],
) -> ORJSONResponse:
    """Several events in one call (FLUXO_INGEST_BATCH_MAX at most), written in one produce
    batch. Each item is answered on its own: accepted with its event id, or refused with
    the field at fault; a bad item does not stop the others. Each item spends one request
    of the ingest rate budget."""
    limit = state.settings.ingest_batch_max
    if not body:
        raise InvalidInput("no events", fields={"body": "send a JSON array of at least one event"})
    if len(body) > limit:
        raise PayloadTooLarge(f"{len(body)} events in one call, over {limit}", fields={"body": f"at most {limit} events per call"})
    await charge(request, principal, len(body) - 1)
    actor = actor_of(principal)
    results: list[dict[str, Any]] = [{"index": i, "success": False} for i in range(len(body))]
    outs: list[Output] = []
    placed: list[int] = []
    for index, item in enumerate(body):
        try:
            if not isinstance(item, dict):
                raise InvalidInput("invalid event", fields={"item": "an event is a JSON object"})
            try:
                parsed = ProcessEventItem.model_validate(item)
            except ValidationError as exc:
                raise invalid_item(exc) from None
            event_id, out = event_record(
                _event(parsed), workspace_id=principal.workspace_id, source=SOURCE,
                idempotency_key=parsed.idempotency_key, actor=actor,
            )
        except FluxoError as exc:
            results[index]["error"] = answer(exc)[1]["error"]
            continue
        results[index]["event_log_id"] = event_id
        outs.append(out)
        placed.append(index)
    for index, written in zip(placed, await state.publish_many(outs), strict=True):
        if isinstance(written, FluxoError):
            results[index]["error"] = answer(written)[1]["error"]
            results[index].pop("event_log_id", None)
        else:
            results[index]["success"] = True
    accepted = sum(1 for r in results if r["success"])
    return ORJSONResponse(
        {"success": accepted == len(body), "accepted": accepted, "rejected": len(body) - accepted, "results": results},
        status_code=202,
    )
