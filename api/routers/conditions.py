"""Seed 003's reusable conditions: nested and/or/not trees, or custom code, and a test
against a given context (trees explain which leaf failed; code runs in the sandbox)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from api import definitions
from api.deps import PrincipalDep, StateDep, WriterDep
from api.filters import Where
from api.pagination import PagingDep
from api.preconditions import IfMatchDep, tagged
from api.security import Principal
from api.state import AppState
from processors.expressions.conditions import explain_filter
from processors.sandbox import CodeError, CodePool, Limits
from schemas.answers.common import Page
from schemas.answers.definitions import Condition, ConditionTest
from schemas.definitions_api import ConditionIn, ConditionPatch, TestContext
from schemas.envelope import now
from schemas.errors import InvalidInput
from schemas.records import ConditionDefined

router = APIRouter(prefix="/conditions", tags=["conditions"])

KIND = "condition"


def tree_of(c: ConditionDefined) -> dict[str, Any]:
    return {"operator": c.operator, "conditions": list(c.conditions)}


def problems_of(c: ConditionDefined) -> dict[str, str]:
    if c.use_custom_code:
        if not (c.custom_code or "").strip():
            return {"custom_code": "is required when use_custom_code is true"}
        return {}
    if not c.conditions:
        return {"conditions": "at least one condition (or use_custom_code with custom_code)"}
    return definitions.condition_problems(tree_of(c), "condition")


def view(c: ConditionDefined) -> dict[str, Any]:
    body = c.model_dump(mode="json", exclude={"deleted", "workspace_id"})
    body["tracking_id"] = c.id
    return body


async def _store(state: AppState, principal: Principal, condition: ConditionDefined) -> dict[str, Any]:
    problems = problems_of(condition)
    # Paths read like the body: `conditions[1].operator`, not `condition.conditions[1].operator`.
    problems = {k.removeprefix("condition."): v for k, v in problems.items()}
    if problems:
        raise InvalidInput("the condition is invalid", fields=problems)
    await definitions.save(state, principal, KIND, condition)
    return view(condition)


@router.post("", status_code=201, response_model=Condition)
async def create_condition(body: ConditionIn, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    stamp = now()
    condition = ConditionDefined(
        id=str(uuid.uuid4()), workspace_id=principal.workspace_id, version=1, name=body.name,
        description=body.description, operator=body.operator.lower(), conditions=tuple(body.conditions),
        use_custom_code=body.use_custom_code, custom_code=body.custom_code, language=body.language,
        is_active=body.is_active, created_by=principal.email, created_at=stamp, updated_at=stamp,
    )
    return await _store(state, principal, condition)


@router.get("", response_model=Page[Condition])
async def list_conditions(
    request: Request, state: StateDep, principal: PrincipalDep,
    paging: PagingDep,
    is_active: bool | None = None,
    use_custom_code: bool | None = None,
    search: str | None = Query(default=None, max_length=200),
) -> dict[str, Any]:
    where = (
        Where(principal.workspace_id)
        .eq("is_active", is_active)
        .eq("use_custom_code", use_custom_code)
        .search(search, "name", "description")
    )
    return await definitions.page(request, state, KIND, ConditionDefined, where.clauses, where.args, paging, view)


@router.get("/{condition_id}", response_model=Condition)
async def get_condition(condition_id: str, state: StateDep, principal: PrincipalDep, response: Response) -> dict[str, Any]:
    return tagged(response, view(await definitions.load(state, principal, KIND, ConditionDefined, condition_id)))


@router.put("/{condition_id}", response_model=Condition)
async def replace_condition(condition_id: str, body: ConditionIn, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    current = await definitions.load(state, principal, KIND, ConditionDefined, condition_id)
    updated = ConditionDefined.model_validate({
        **current.model_dump(), **body.model_dump(), "operator": body.operator.lower(),
        "version": current.version + 1, "updated_at": now(),
    })
    return tagged(response, await _store(state, principal, updated))


@router.patch("/{condition_id}", response_model=Condition)
async def update_condition(condition_id: str, body: ConditionPatch, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    current = await definitions.load(state, principal, KIND, ConditionDefined, condition_id)
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "description", "operator", "conditions", "use_custom_code", "language", "is_active"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", fields={required: "cannot be null"})
    if "operator" in changes:
        changes["operator"] = changes["operator"].lower()
    updated = ConditionDefined.model_validate(
        {**current.model_dump(), **changes, "version": current.version + 1, "updated_at": now()}
    )
    return tagged(response, await _store(state, principal, updated))


@router.delete("/{condition_id}", status_code=204)
async def delete_condition(condition_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    current = await definitions.load(state, principal, KIND, ConditionDefined, condition_id)
    gone = current.model_copy(update={"version": current.version + 1, "deleted": True, "is_active": False, "updated_at": now()})
    await definitions.save(state, principal, KIND, gone)
    return Response(status_code=204)


async def run_custom_code(condition: ConditionDefined, context: dict[str, Any]) -> dict[str, Any]:
    """The code in a one-worker sandbox pool (started for this test, stopped after it)."""
    pool = CodePool(size=1)
    try:
        await pool.start()
        value = await pool.run(condition.language, condition.custom_code or "", context, Limits(wall_seconds=5.0))
    except CodeError as exc:
        return {"result": False, "error": {"code": exc.code, "message": exc.message}}
    finally:
        await pool.stop()
    return {"result": bool(value), "value": value, "error": None}


@router.post("/{condition_id}/test", response_model=ConditionTest, response_model_exclude_unset=True)
async def test_condition(condition_id: str, body: TestContext, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    condition = await definitions.load(state, principal, KIND, ConditionDefined, condition_id)
    context = definitions.context_of(body.context, body.event_type, body.event_data, body.user)
    if condition.use_custom_code:
        outcome = await run_custom_code(condition, context)
        return {"condition_id": condition.id, "use_custom_code": True, **outcome}
    explained = explain_filter(tree_of(condition), context)
    return {
        "condition_id": condition.id,
        "use_custom_code": False,
        "result": explained["result"],
        "failed_conditions": explained["failed_conditions"],
        "trace": explained["trace"],
    }
