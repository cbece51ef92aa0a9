"""Seed 003's workflow associations: attach reusable triggers and actions to a workflow.

Each change is a new workflow version (a full WorkflowDefined snapshot) holding the
references; the matcher follows them and pins the actions when an execution starts.
Included before the workflows router, whose `POST /workflows/{id}/{action}` would
otherwise catch these paths.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import definitions
from api.deps import PrincipalDep, StateDep, WriterDep
from api.routers.workflows import load as load_workflow
from api.routers.workflows import save as save_workflow
from api.security import Principal
from api.state import AppState
from processors.matching.linking import action_node_id, compile_actions, listens_to
from schemas.answers.common import Page
from schemas.answers.workflows import (
    ActionsChanged,
    AttachedAction,
    AttachedTrigger,
    TriggersChanged,
)
from schemas.definitions_api import AddAction, AddTrigger, RemoveAction, RemoveTrigger
from schemas.envelope import now
from schemas.errors import InvalidInput, NotFound
from schemas.records import ActionDefined, TriggerDefined
from schemas.workflow import ActionRef, TriggerRef, WorkflowSnapshot

router = APIRouter(prefix="/workflows", tags=["workflows"])

MAX_LINKS = 100


async def _existing(state: AppState, principal: Principal, kind: str, model: type[Any], item_id: str, field: str) -> Any:
    try:
        return await definitions.load(state, principal, kind, model, item_id)
    except NotFound:
        raise NotFound(f"{kind} {item_id} not found", fields={field: f"no {kind} {item_id} in this workspace"}) from None


async def _new_version(state: AppState, principal: Principal, workflow: WorkflowSnapshot, **changes: Any) -> WorkflowSnapshot:
    updated = workflow.model_copy(update={**changes, "version": workflow.version + 1, "updated_at": now()})
    await save_workflow(state, principal, updated)
    return updated


async def trigger_views(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> list[dict[str, Any]]:
    found = await definitions.load_many(state, principal, "trigger", TriggerDefined, [r.trigger_id for r in workflow.triggers])
    views = []
    for ref in sorted(workflow.triggers, key=lambda r: (-r.priority, r.trigger_id)):
        trigger = found.get(ref.trigger_id)
        if trigger is None:
            continue  # deleted since it was attached: it matches nothing
        views.append({
            "id": trigger.id, "trigger_id": trigger.id, "trigger_name": trigger.name, "name": trigger.name,
            "trigger_type": trigger.trigger_type, "listens_to": listens_to(trigger), "priority": ref.priority,
            "specific_conditions": ref.specific_conditions, "is_active": trigger.is_active, "version": trigger.version,
        })
    return views


async def action_views(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> list[dict[str, Any]]:
    found = await definitions.load_many(state, principal, "action", ActionDefined, [r.action_id for r in workflow.actions])
    views = []
    for index, ref in enumerate(workflow.actions):
        action = found.get(ref.action_id)
        if action is None:
            continue
        views.append({
            "id": action.id, "action_id": action.id, "action_name": action.name, "name": action.name,
            "action_type": action.action_type, "order": ref.order if ref.order is not None else action.order,
            "delay": action.delay, "is_required": action.is_required, "is_active": action.is_active,
            "configuration": action.configuration, "node_id": action_node_id(action.id), "version": action.version,
            "_index": index,
        })
    views.sort(key=lambda v: (v["order"], v.pop("_index")))
    return views


async def pin_actions(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> WorkflowSnapshot:
    """The snapshot a manual run pins: attached actions compiled into nodes, as the matcher does."""
    if not workflow.actions:
        return workflow
    actions = await definitions.load_many(state, principal, "action", ActionDefined, [r.action_id for r in workflow.actions])
    return compile_actions(workflow, actions)


def _listing(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(results), "next": None, "previous": None, "results": results}


@router.post("/{workflow_id}/add_trigger", response_model=TriggersChanged)
async def add_trigger(workflow_id: str, body: AddTrigger, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    problems = definitions.condition_problems(body.specific_conditions, "specific_conditions")
    if problems:
        raise InvalidInput("specific_conditions is invalid", fields=problems)
    trigger = await _existing(state, principal, "trigger", TriggerDefined, body.trigger_id, "trigger_id")
    refs = [r for r in workflow.triggers if r.trigger_id != trigger.id]
    if len(refs) >= MAX_LINKS:
        raise InvalidInput(f"a workflow has at most {MAX_LINKS} triggers", fields={"trigger_id": "too many triggers"})
    refs.append(TriggerRef(trigger_id=trigger.id, priority=body.priority, specific_conditions=body.specific_conditions))
    updated = await _new_version(state, principal, workflow, triggers=tuple(refs))
    return {"message": "trigger added", "workflow_id": workflow_id, "version": updated.version,
            "triggers": await trigger_views(state, principal, updated)}


@router.post("/{workflow_id}/remove_trigger", response_model=TriggersChanged)
async def remove_trigger(workflow_id: str, body: RemoveTrigger, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    if not any(r.trigger_id == body.trigger_id for r in workflow.triggers):
        raise NotFound(f"trigger {body.trigger_id} is not attached to workflow {workflow_id}",
                       fields={"trigger_id": "not attached to this workflow"})
    updated = await _new_version(state, principal, workflow, triggers=tuple(r for r in workflow.triggers if r.trigger_id != body.trigger_id))
    return {"message": "trigger removed", "workflow_id": workflow_id, "version": updated.version,
            "triggers": await trigger_views(state, principal, updated)}


async def attach_action(state: AppState, principal: Principal, workflow: WorkflowSnapshot, action_id: str, order: int | None) -> WorkflowSnapshot:
    refs = [r for r in workflow.actions if r.action_id != action_id]
    if len(refs) >= MAX_LINKS:
        raise InvalidInput(f"a workflow has at most {MAX_LINKS} actions", fields={"action_id": "too many actions"})
    refs.append(ActionRef(action_id=action_id, order=order))
    return await _new_version(state, principal, workflow, actions=tuple(refs))


async def detach_action(state: AppState, principal: Principal, workflow: WorkflowSnapshot, action_id: str) -> WorkflowSnapshot:
    return await _new_version(state, principal, workflow, actions=tuple(r for r in workflow.actions if r.action_id != action_id))


@router.post("/{workflow_id}/add_action", response_model=ActionsChanged)
async def add_action(workflow_id: str, body: AddAction, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    action = await _existing(state, principal, "action", ActionDefined, body.action_id, "action_id")
    updated = await attach_action(state, principal, workflow, action.id, body.order)
    return {"message": "action added", "workflow_id": workflow_id, "version": updated.version,
            "actions": await action_views(state, principal, updated)}


@router.post("/{workflow_id}/remove_action", response_model=ActionsChanged)
async def remove_action(workflow_id: str, body: RemoveAction, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    if not any(r.action_id == body.action_id for r in workflow.actions):
        raise NotFound(f"action {body.action_id} is not attached to workflow {workflow_id}",
                       fields={"action_id": "not attached to this workflow"})
    updated = await detach_action(state, principal, workflow, body.action_id)
    return {"message": "action removed", "workflow_id": workflow_id, "version": updated.version,
            "actions": await action_views(state, principal, updated)}


@router.get("/{workflow_id}/triggers", response_model=Page[AttachedTrigger])
async def workflow_triggers(workflow_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    return _listing(await trigger_views(state, principal, workflow))


@router.get("/{workflow_id}/actions", response_model=Page[AttachedAction])
async def workflow_actions(workflow_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    return _listing(await action_views(state, principal, workflow))
