"""Seed 003's reusable actions: CRUD, the catalog of action types with their parameter
templates (JSON Schema), and a dry-run test through the real state machine."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api import definitions
from api.deps import PrincipalDep, StateDep, WriterDep
from api.filters import Where
from api.pagination import PagingDep
from api.preconditions import IfMatchDep, tagged
from api.security import Principal
from api.services.action_runs import run_live
from api.services.links import attach_action, detach_action
from api.services.workflows import load as load_workflow
from api.state import AppState
from processors.engine.machine import CODE_FIELDS
from processors.engine.simulate import simulate
from processors.matching.linking import TRIGGER_NODE_ID, action_node
from schemas.action_configs import ACTION_TYPES, parameter_template
from schemas.answers.common import Page
from schemas.answers.definitions import (
    Action,
    ActionTest,
    ActionTypeOption,
    ParameterTemplate,
    ParameterTemplates,
)
from schemas.definitions_api import ActionIn, ActionPatch, TestContext
from schemas.envelope import now
from schemas.errors import InvalidInput, NotFound
from schemas.records import (
    ActionDefined,
    EventIngested,
    ExecutionFailed,
    ExecutionStarted,
    NodeFailed,
    NodeSucceeded,
    NodeWorkOrdered,
)
from schemas.workflow import Node, NodeType, WorkflowSnapshot, WorkflowStatus

router = APIRouter(prefix="/actions", tags=["actions"])

KIND = "action"


def _type_or_fail(value: str) -> str:
    action_type = value.strip().lower()
    if action_type not in ACTION_TYPES:
        raise InvalidInput(f"unknown action type {value!r}", fields={"action_type": f"one of {', '.join(ACTION_TYPES)}"})
    return action_type


def configuration_problems(action_type: str, configuration: dict[str, Any]) -> dict[str, str]:
    _, model, _ = ACTION_TYPES[action_type]
    try:
        model.model_validate(configuration)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            problems[f"configuration.{loc}" if loc else "configuration"] = error["msg"]
        return problems
    return {}


def view(a: ActionDefined) -> dict[str, Any]:
    body = a.model_dump(mode="json", exclude={"deleted", "workspace_id", "workflow_id"})
    body.update(tracking_id=a.id, workflow=a.workflow_id, action_name=a.name)
    return body


async def _store(
    state: AppState, principal: Principal, action: ActionDefined, attach_to: WorkflowSnapshot | None,
    moved_from: str | None = None,
) -> dict[str, Any]:
    problems = configuration_problems(action.action_type, action.configuration)
    if problems:
        raise InvalidInput("the action configuration is invalid", fields=problems)
    await definitions.save(state, principal, KIND, action)
    if attach_to is not None and not any(r.action_id == action.id for r in attach_to.actions):
        # Seed 003: an action created for a workflow runs in it.
        await attach_action(state, principal, attach_to, action.id, None)
    if moved_from is not None and moved_from != action.workflow_id:
        # An action given another workflow (or none) stops running in the one it left.
        await _detach_from(state, principal, moved_from, action.id)
    return view(action)


async def _detach_from(state: AppState, principal: Principal, workflow_id: str, action_id: str) -> None:
    try:
        left = await load_workflow(state, principal, workflow_id)
    except NotFound:
        return  # the workflow it left is gone: nothing runs it
    if any(r.action_id == action_id for r in left.actions):
        await detach_action(state, principal, left, action_id)


async def _workflow_or_fail(state: AppState, principal: Principal, workflow_id: str | None) -> WorkflowSnapshot | None:
    if not workflow_id:
        return None
    try:
        return await load_workflow(state, principal, workflow_id)
    except NotFound:
        raise NotFound(f"workflow {workflow_id} not found", fields={"workflow": f"no workflow {workflow_id} in this workspace"}) from None


@router.get("/action_types", response_model=list[ActionTypeOption])
async def action_types(principal: PrincipalDep) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, (label, _, _) in ACTION_TYPES.items()]


@router.get("/parameter_templates", response_model=ParameterTemplates | ParameterTemplate)
async def parameter_templates(
    principal: PrincipalDep, action_type: str | None = Query(default=None, max_length=100)
) -> Any:
    if action_type is None:
        return {"results": [parameter_template(t) for t in ACTION_TYPES]}
    return parameter_template(_type_or_fail(action_type))


@router.post("", status_code=201, response_model=Action)
async def create_action(body: ActionIn, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    action_type = _type_or_fail(body.action_type)
    workflow = await _workflow_or_fail(state, principal, body.workflow)
    stamp = now()
    action = ActionDefined(
        id=str(uuid.uuid4()), workspace_id=principal.workspace_id, version=1, name=body.name,
        description=body.description, action_type=action_type, configuration=body.configuration,
        order=body.order, delay=body.delay, is_active=body.is_active, is_required=body.is_required,
        workflow_id=workflow.id if workflow else None, created_by=principal.email, created_at=stamp, updated_at=stamp,
    )
    return await _store(state, principal, action, workflow)


@router.get("", response_model=Page[Action])
async def list_actions(
    request: Request, state: StateDep, principal: PrincipalDep,
    paging: PagingDep,
    action_type: str | None = Query(default=None, max_length=100),
    is_active: bool | None = None,
    workflow: str | None = Query(default=None, max_length=100),
    search: str | None = Query(default=None, max_length=200),
) -> dict[str, Any]:
    where = (
        Where(principal.workspace_id)
        .eq("action_type", _type_or_fail(action_type) if action_type else None)
        .eq("is_active", is_active)
        .eq("workflow_id", workflow)
        .search(search, "name", "description")
    )
    return await definitions.page(request, state, KIND, ActionDefined, where.clauses, where.args, paging, view)


@router.get("/{action_id}", response_model=Action)
async def get_action(action_id: str, state: StateDep, principal: PrincipalDep, response: Response) -> dict[str, Any]:
    return tagged(response, view(await definitions.load(state, principal, KIND, ActionDefined, action_id)))


@router.put("/{action_id}", response_model=Action)
async def replace_action(action_id: str, body: ActionIn, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    current = await definitions.load(state, principal, KIND, ActionDefined, action_id)
    action_type = _type_or_fail(body.action_type)
    workflow = await _workflow_or_fail(state, principal, body.workflow)
    fields = body.model_dump(exclude={"workflow"})
    updated = ActionDefined.model_validate({
        **current.model_dump(), **fields, "action_type": action_type,
        "workflow_id": workflow.id if workflow else None, "version": current.version + 1, "updated_at": now(),
    })
    return tagged(response, await _store(state, principal, updated, workflow, moved_from=current.workflow_id))


@router.patch("/{action_id}", response_model=Action)
async def update_action(action_id: str, body: ActionPatch, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response) -> dict[str, Any]:
    current = await definitions.load(state, principal, KIND, ActionDefined, action_id)
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "description", "action_type", "configuration", "order", "delay", "is_active", "is_required"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", fields={required: "cannot be null"})
    if "action_type" in changes:
        changes["action_type"] = _type_or_fail(changes["action_type"])
    workflow = None
    if "workflow" in changes:
        workflow = await _workflow_or_fail(state, principal, changes.pop("workflow"))
        changes["workflow_id"] = workflow.id if workflow else None
    updated = ActionDefined.model_validate(
        {**current.model_dump(), **changes, "version": current.version + 1, "updated_at": now()}
    )
    return tagged(response, await _store(state, principal, updated, workflow, moved_from=current.workflow_id))


@router.delete("/{action_id}", status_code=204)
async def delete_action(action_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    current = await definitions.load(state, principal, KIND, ActionDefined, action_id)
    gone = current.model_copy(update={"version": current.version + 1, "deleted": True, "is_active": False, "updated_at": now()})
    await definitions.save(state, principal, KIND, gone)
    return Response(status_code=204)


@router.post("/{action_id}/test", response_model=ActionTest)
async def test_action(action_id: str, body: TestContext, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    """Run the action against a context through the real state machine, with no side effects:
    connectors report what they would send, emitted events are listed, nothing is written.
    With `live: true` it really runs once, through the node worker (api/services/action_runs.py)."""
    action = await definitions.load(state, principal, KIND, ActionDefined, action_id)
    context = definitions.context_of(body.context, body.event_type, body.event_data, body.user)
    if body.live:
        return await run_live(state, principal, action, context)
    stamp = now()
    node = action_node(action, action.order)
    workflow = WorkflowSnapshot(
        id=f"action-test-{action.id}", workspace_id=principal.workspace_id, version=action.version,
        name=f"test {action.name}", status=WorkflowStatus.ACTIVE,
        nodes=(Node(id=TRIGGER_NODE_ID, node_type=NodeType.TRIGGER), node), created_at=stamp, updated_at=stamp,
    )
    raw_user = context.get("user")
    user: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
    started = ExecutionStarted(
        execution_id=f"dry-run-{uuid.uuid4()}", workflow=workflow, trigger_type="test",
        subject=str(user["id"]) if user.get("id") else None, context=context, performed_by=principal.email,
    )
    sim = simulate(started, workspace_id=principal.workspace_id, now=stamp)
    result: NodeSucceeded | NodeFailed | None = None
    rendered: dict[str, Any] | None = None
    events: list[dict[str, Any]] = []
    for record in sim.records:
        if isinstance(record, NodeSucceeded | NodeFailed) and record.node_id == node.id:
            result = record
        elif isinstance(record, NodeWorkOrdered) and record.node_id == node.id:
            rendered = {k: v for k, v in record.config.items() if k != "context"}
        elif isinstance(record, EventIngested):
            events.append(record.model_dump(mode="json", exclude_none=True))
    if rendered is None and result is not None:
        rendered = {k: v for k, v in result.input.items() if k != "context"}
    for name in CODE_FIELDS:
        if rendered is not None and name in rendered:
            rendered[name] = action.configuration.get(name, rendered[name])
    ok = isinstance(result, NodeSucceeded)
    error = result.error if isinstance(result, NodeFailed) else None
    if error is None and not ok:
        # The execution ended before the action's own result (a timeout, a node it never
        # reached): its failure is the answer's error, never a silent null.
        error = next((r.error for r in sim.records if isinstance(r, ExecutionFailed)), None)
    return {
        "action_id": action.id,
        "action_type": action.action_type,
        "dry_run": True,
        "success": ok,
        "status": "completed" if ok else "failed",
        "rendered_configuration": rendered,
        "output": result.output if isinstance(result, NodeSucceeded) else None,
        "error": error.model_dump(mode="json") if error is not None else None,
        "events": events,
        "simulated_delay_seconds": (sim.clock - stamp).total_seconds() if sim.clock else 0.0,
    }
