"""Shared plumbing of seed 003's reusable definitions (triggers, actions, conditions).

Each change is a full snapshot record on the definitions topic, keyed
`{workspace}:{kind}:{id}`; the API waits until the projection has applied it and
reads it back from the projected table, scoped by workspace.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request

from api.pagination import Paging, page_response
from api.security import Principal
from api.state import AppState
from processors.expressions.conditions import validate_condition
from schemas.envelope import RecordData, make_envelope
from schemas.errors import NotFound
from schemas.outputs import Output
from schemas.topics import DEFINITIONS

R = TypeVar("R", bound=RecordData)

# kind -> projected table
TABLES = {"trigger": "triggers", "action": "actions", "condition": "conditions"}


async def save(state: AppState, principal: Principal, kind: str, record: Any) -> None:
    envelope = make_envelope(record, source=f"api/{TABLES[kind]}", workspace_id=principal.workspace_id, subject=record.id)
    key = f"{principal.workspace_id}:{kind}:{record.id}"
    topic, partition, offset = await state.publish(Output.of(DEFINITIONS, key, envelope))
    await state.wait_projected(topic, partition, offset)


async def load(state: AppState, principal: Principal, kind: str, model: type[R], item_id: str) -> R:
    """The current snapshot; another workspace's id is simply not found."""
    raw = await state.pool.fetchval(
        f"SELECT snapshot FROM {TABLES[kind]} WHERE id = $1 AND workspace_id = $2", item_id, principal.workspace_id
    )
    if raw is None:
        raise NotFound(f"{kind} {item_id} not found", fields={"id": f"no {kind} {item_id} in this workspace"})
    return model.model_validate(orjson.loads(raw))


async def load_many(state: AppState, principal: Principal, kind: str, model: type[R], ids: list[str]) -> dict[str, R]:
    rows = await state.pool.fetch(
        f"SELECT snapshot FROM {TABLES[kind]} WHERE id = ANY($1::text[]) AND workspace_id = $2", ids, principal.workspace_id
    )
    found = [model.model_validate(orjson.loads(r["snapshot"])) for r in rows]
    return {str(getattr(item, "id")): item for item in found}  # noqa: B009 - every definition has an id


async def page(
    request: Request, state: AppState, kind: str, model: type[R], where: list[str], args: list[Any],
    paging: Paging, view: Any,
) -> dict[str, Any]:
    table = TABLES[kind]
    clause = " AND ".join(where)
    count = await state.pool.fetchval(f"SELECT count(*) FROM {table} WHERE {clause}", *args)
    args = [*args, paging.page_size, paging.offset]
    rows = await state.pool.fetch(
        f"SELECT snapshot FROM {table} WHERE {clause} ORDER BY created_at DESC, id"
        f" LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    results = [view(model.model_validate(orjson.loads(r["snapshot"]))) for r in rows]
    return page_response(request, paging, count, results)


def condition_problems(spec: Any, field: str) -> dict[str, str]:
    """Problems of a filter tree (or CEL), keyed by the exact place: `filters.conditions[1].operator`."""
    if spec is None or spec == {}:
        return {}
    problems: dict[str, str] = {}
    for error in validate_condition(spec):
        problems[f"{field}.{error.path}" if error.path else field] = error.message
    return problems


def context_of(
    context: dict[str, Any] | None, event_type: str | None, event_data: dict[str, Any] | None, user: dict[str, Any] | None
) -> dict[str, Any]:
    """The evaluation context a test runs against: given whole (seed 003), or built from parts."""
    built: dict[str, Any] = dict(context or {})
    event = dict(built.get("event") or {})
    if event_data is not None:
        event["data"] = event_data
    if event_type:
        event["type"] = event_type
    event.setdefault("data", {})
    built["event"] = event
    if user is not None:
        built["user"] = user
    built.setdefault("user", {})
    built.setdefault("conversation", {})
    built.setdefault("input_data", event["data"])
    return built
