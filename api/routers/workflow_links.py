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
from api.pagination import listing
from api.services import trigger_hooks
from api.services.links import (
    MAX_LINKS,
    action_views,
    attach_action,
    detach_action,
    existing,
    new_version,
    trigger_views,
)
from api.services.workflows import load as load_workflow
from schemas.answers.common import Page
from schemas.answers.workflows import (
    ActionsChanged,
    AttachedAction,
    AttachedTrigger,
    TriggersChanged,
)
from schemas.definitions_api import AddAction, AddTrigger, RemoveAction, RemoveTrigger
from schemas.errors import InvalidInput, NotFound
from schemas.records import ActionDefined, TriggerDefined
from schemas.workflow import TriggerRef

router = APIRouter(prefix="/workflows", tags=["workflows"])


@router.post("/{workflow_id}/add_trigger", response_model=TriggersChanged)
async def add_trigger(workflow_id: str, body: AddTrigger, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    problems = definitions.condition_problems(body.specific_conditions, "specific_conditions")
    if problems:
        raise InvalidInput("specific_conditions is invalid", fields=problems)
    trigger = await existing(state, principal, "trigger", TriggerDefined, body.trigger_id, "trigger_id")
    refs = [r for r in workflow.triggers if r.trigger_id != trigger.id]
    if len(refs) >= MAX_LINKS:
        raise InvalidInput(f"a workflow has at most {MAX_LINKS} triggers", fields={"trigger_id": "too many triggers"})
    refs.append(TriggerRef(trigger_id=trigger.id, priority=body.priority, specific_conditions=body.specific_conditions))
    updated = await new_version(state, principal, workflow, triggers=tuple(refs))
    if trigger.trigger_type == "webhook":
        await trigger_hooks.ensure(state, principal, updated, trigger)
    return {"message": "trigger added", "workflow_id": workflow_id, "version": updated.version,
            "triggers": await trigger_views(state, principal, updated)}


@router.post("/{workflow_id}/remove_trigger", response_model=TriggersChanged)
async def remove_trigger(workflow_id: str, body: RemoveTrigger, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    if not any(r.trigger_id == body.trigger_id for r in workflow.triggers):
        raise NotFound(f"trigger {body.trigger_id} is not attached to workflow {workflow_id}",
                       fields={"trigger_id": "not attached to this workflow"})
    updated = await new_version(state, principal, workflow, triggers=tuple(r for r in workflow.triggers if r.trigger_id != body.trigger_id))
    await trigger_hooks.drop(state, principal, workflow_id, body.trigger_id)
    return {"message": "trigger removed", "workflow_id": workflow_id, "version": updated.version,
            "triggers": await trigger_views(state, principal, updated)}


@router.post("/{workflow_id}/add_action", response_model=ActionsChanged)
async def add_action(workflow_id: str, body: AddAction, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    action = await existing(state, principal, "action", ActionDefined, body.action_id, "action_id")
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
    return listing(await trigger_views(state, principal, workflow))


@router.get("/{workflow_id}/actions", response_model=Page[AttachedAction])
async def workflow_actions(workflow_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    workflow = await load_workflow(state, principal, workflow_id)
    return listing(await action_views(state, principal, workflow))
