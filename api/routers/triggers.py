"""Seed 003's reusable triggers: CRUD, activate/deactivate, the workflows using one, and a test
that says which condition failed. (POST /triggers/process_event lives in events.py.)"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from api import definitions
from api.deps import PrincipalDep, StateDep, WriterDep
from api.filters import Where
from api.pagination import PagingDep, listing
from api.preconditions import IfMatchDep, tagged
from api.security import Principal
from api.services import trigger_hooks
from api.state import AppState
from processors.expressions.conditions import ConditionError, evaluate_condition, explain_filter
from processors.expressions.cron import CronError, validate_schedule
from processors.matching.linking import (
    EVENT_TYPES,
    TRIGGER_KINDS,
    listens_to,
    normalize_trigger_type,
)
from schemas.answers.common import Page
from schemas.answers.definitions import Trigger, TriggerTest, TriggerWorkflow
from schemas.definitions_api import TestContext, TriggerIn, TriggerPatch
from schemas.envelope import now
from schemas.errors import InvalidInput
from schemas.records import TriggerDefined
from schemas.workflow import WorkflowSnapshot

router = APIRouter(prefix="/triggers", tags=["triggers"])

KIND = "trigger"
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


def _type_or_fail(value: str, field: str = "trigger_type") -> str:
    normalized = normalize_trigger_type(value)
    if normalized is None:
        raise InvalidInput(
            f"unknown trigger type {value!r}",
            fields={field: f"one of {', '.join(EVENT_TYPES + TRIGGER_KINDS)}"},
        )
    return normalized


def normalized(trigger: TriggerDefined) -> TriggerDefined:
    """Seed 004 names an api_call trigger's event in its configuration (`event`): the
    event_type it fires on when none is given."""
    given = trigger.configuration.get("event_type") or trigger.configuration.get("event")
    if trigger.trigger_type == "api_call" and not trigger.event_type and isinstance(given, str) and given:
        return trigger.model_copy(update={"event_type": given.upper()})
    return trigger


def problems_of(trigger: TriggerDefined) -> dict[str, str]:
    problems = definitions.condition_problems(trigger.filters or None, "filters")
    if trigger.event_type is not None and not _EVENT_TYPE.match(trigger.event_type):
        problems["configuration.event"] = "an event type: letters, digits and _ . : -, at most 100"
    if trigger.trigger_type == "webhook":
        problems.update(trigger_hooks.configuration_problems(trigger.configuration))
    if trigger.trigger_type == "event" and not trigger.event_type:
        problems["event_type"] = "an event trigger needs the event_type it fires on"
    if trigger.trigger_type == "cron":
        if not trigger.schedule:
            problems["schedule"] = "a cron trigger needs a schedule (cron expression)"
        else:
            try:
                validate_schedule(trigger.schedule, trigger.timezone)
            except CronError as exc:
                problems["schedule"] = str(exc)
    return problems


def view(t: TriggerDefined) -> dict[str, Any]:
    body = t.model_dump(mode="json", exclude={"deleted", "workspace_id"})
    body.update(tracking_id=t.id, listens_to=listens_to(t))
    return body


async def _store(
    state: AppState, principal: Principal, trigger: TriggerDefined, before: TriggerDefined | None = None,
) -> dict[str, Any]:
    trigger = normalized(trigger)
    problems = problems_of(trigger)
    if problems:
        raise InvalidInput("the trigger is invalid", fields=problems)
    await definitions.save(state, principal, KIND, trigger)
    await _follow(state, principal, trigger, before)
    return view(trigger)


async def _follow(state: AppState, principal: Principal, trigger: TriggerDefined, before: TriggerDefined | None) -> None:
    """A webhook trigger's webhooks (one per workflow it is attached to) follow its changes."""
    if before is not None and "webhook" in (trigger.trigger_type, before.trigger_type):
        await trigger_hooks.follow(state, principal, trigger, await workflows_using(state, principal, trigger.id))


@router.post("", status_code=201, response_model=Trigger)
async def create_trigger(body: TriggerIn, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    stamp = now()
    trigger = TriggerDefined(
        id=str(uuid.uuid4()), workspace_id=principal.workspace_id, version=1, name=body.name,
        description=body.description, trigger_type=_type_or_fail(body.trigger_type),
        event_type=body.event_type.upper() if body.event_type else None, filters=body.filters,
        schedule=body.schedule, timezone=body.timezone, configuration=body.configuration,
        is_active=body.is_active, created_by=principal.email, created_at=stamp, updated_at=stamp,
    )
    return await _store(state, principal, trigger)


@router.get("", response_model=Page[Trigger])
async def list_triggers(
    request: Request, state: StateDep, principal: PrincipalDep,
    paging: PagingDep,
    trigger_type: str | None = Query(default=None, max_length=100),
    is_active: bool | None = None,
    search: str | None = Query(default=None, max_length=200),
) -> dict[str, Any]:
    where = (
        Where(principal.workspace_id)
        .eq("trigger_type", _type_or_fail(trigger_type) if trigger_type else None)
        .eq("is_active", is_active)
        .search(search, "name", "description")
    )
    return await definitions.page(request, state, KIND, TriggerDefined, where.clauses, where.args, paging, view)


@router.get("/{trigger_id}", response_model=Trigger)
async def get_trigger(trigger_id: str, state: StateDep, principal: PrincipalDep, response: Response) -> dict[str, Any]:
    return tagged(response, view(await definitions.load(state, principal, KIND, TriggerDefined, trigger_id)))


@router.put("/{trigger_id}", response_model=Trigger)
async def replace_trigger(trigger_id: str, body: TriggerIn, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    current = await definitions.load(state, principal, KIND, TriggerDefined, trigger_id)
    updated = TriggerDefined.model_validate({
        **current.model_dump(), **body.model_dump(),
        "trigger_type": _type_or_fail(body.trigger_type),
        "event_type": body.event_type.upper() if body.event_type else None,
        "version": current.version + 1, "updated_at": now(),
    })
    return tagged(response, await _store(state, principal, updated, current))


@router.patch("/{trigger_id}", response_model=Trigger)
async def update_trigger(trigger_id: str, body: TriggerPatch, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    current = await definitions.load(state, principal, KIND, TriggerDefined, trigger_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("trigger_type") is not None:
        changes["trigger_type"] = _type_or_fail(changes["trigger_type"])
    if changes.get("event_type"):
        changes["event_type"] = changes["event_type"].upper()
    for required in ("name", "description", "trigger_type", "filters", "configuration", "is_active"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", fields={required: "cannot be null"})
    updated = TriggerDefined.model_validate(
        {**current.model_dump(), **changes, "version": current.version + 1, "updated_at": now()}
    )
    return tagged(response, await _store(state, principal, updated, current))


@router.delete("/{trigger_id}", status_code=204)
async def delete_trigger(trigger_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    current = await definitions.load(state, principal, KIND, TriggerDefined, trigger_id)
    gone = current.model_copy(update={"version": current.version + 1, "deleted": True, "is_active": False, "updated_at": now()})
    await definitions.save(state, principal, KIND, gone)
    await _follow(state, principal, gone, current)
    return Response(status_code=204)


async def _set_active(state: AppState, principal: Principal, trigger_id: str, active: bool) -> dict[str, Any]:
    current = await definitions.load(state, principal, KIND, TriggerDefined, trigger_id)
    if current.is_active == active:
        return view(current)
    updated = current.model_copy(update={"is_active": active, "version": current.version + 1, "updated_at": now()})
    await definitions.save(state, principal, KIND, updated)
    await _follow(state, principal, updated, current)
    return view(updated)


@router.post("/{trigger_id}/activate", response_model=Trigger)
async def activate_trigger(trigger_id: str, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    return await _set_active(state, principal, trigger_id, True)


@router.post("/{trigger_id}/deactivate", response_model=Trigger)
async def deactivate_trigger(trigger_id: str, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    return await _set_active(state, principal, trigger_id, False)


async def workflows_using(state: AppState, principal: Principal, trigger_id: str) -> list[WorkflowSnapshot]:
    rows = await state.pool.fetch(
        "SELECT snapshot FROM workflows WHERE workspace_id = $1"
        " AND (snapshot::jsonb -> 'triggers') @> jsonb_build_array(jsonb_build_object('trigger_id', $2::text))"
        " ORDER BY created_at, id",
        principal.workspace_id, trigger_id,
    )
    return [WorkflowSnapshot.model_validate(orjson.loads(r["snapshot"])) for r in rows]


@router.get("/{trigger_id}/workflows", response_model=Page[TriggerWorkflow])
async def trigger_workflows(trigger_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    trigger = await definitions.load(state, principal, KIND, TriggerDefined, trigger_id)
    results = []
    for w in await workflows_using(state, principal, trigger_id):
        ref = next(r for r in w.triggers if r.trigger_id == trigger_id)
        hooks = await trigger_hooks.hooks_of(state, w.id, [trigger_id]) if trigger.trigger_type == "webhook" else {}
        results.append({
            "id": w.id, "name": w.name, "status": w.status.value, "version": w.version,
            "priority": ref.priority, "specific_conditions": ref.specific_conditions, **hooks.get(trigger_id, {}),
        })
    return listing(results)


def explain(spec: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Whether a filter tree (or CEL) holds, and which conditions failed."""
    if not spec:
        return {"result": True, "failed_conditions": [], "trace": None}
    if "conditions" in spec or "field" in spec:
        return explain_filter(spec, context)
    try:
        result = evaluate_condition(spec, context)
    except ConditionError as exc:
        return {"result": False, "failed_conditions": [{"path": exc.path, "error": exc.message}], "trace": None}
    return {"result": result, "failed_conditions": [] if result else [{"path": "", "expression": spec}], "trace": None}


@router.post("/{trigger_id}/test", response_model=TriggerTest)
async def test_trigger(trigger_id: str, body: TestContext, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    """Would this trigger fire for the given event? No side effects."""
    trigger = await definitions.load(state, principal, KIND, TriggerDefined, trigger_id)
    wanted = listens_to(trigger)
    context = definitions.context_of(body.context, body.event_type or wanted, body.event_data, body.user)
    event_type = str(context["event"].get("type") or "")
    reasons: list[str] = []
    type_matches = wanted is not None and wanted.casefold() == event_type.casefold()
    if wanted is None:
        reasons.append(f"a {trigger.trigger_type} trigger does not fire on events")
    elif not type_matches:
        reasons.append(f"the trigger listens to {wanted}, not {event_type or 'no event type'}")
    if not trigger.is_active:
        reasons.append("the trigger is inactive")
    outcome = explain(trigger.filters, context)
    for failed in outcome["failed_conditions"]:
        where = failed.get("path") or "filters"
        if "operator" in failed:
            reasons.append(
                f"filters.{where}: {failed.get('field')} {failed['operator']} {failed.get('expected')!r}"
                f" failed (actual: {failed.get('actual')!r})"
            )
        else:
            reasons.append(f"filters.{where}: {failed.get('error') or 'did not hold'}")
    matches = type_matches and trigger.is_active and bool(outcome["result"])
    return {
        "trigger_id": trigger.id,
        "matches": matches,
        "event_type": event_type or None,
        "event_type_matches": type_matches,
        "is_active": trigger.is_active,
        "filters_match": bool(outcome["result"]),
        "explanation": {
            "summary": "the trigger fires" if matches else "; ".join(reasons),
            "reasons": reasons,
            "failed_conditions": outcome["failed_conditions"],
            "trace": outcome["trace"],
        },
    }
