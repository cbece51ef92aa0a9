"""A workflow's links to reusable triggers and actions (seed 003): attach, detach, view, pin.

Each change is a new workflow version (a full WorkflowDefined snapshot) holding the
references; the matcher follows them and pins the actions when an execution starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api import definitions
from api.security import Principal
from api.services.trigger_hooks import hooks_of
from api.services.workflows import save as save_workflow
from api.state import AppState
from processors.matching.linking import (
    LinkedMatch,
    action_node_id,
    compile_actions,
    listens_to,
    run_trigger,
)
from schemas.envelope import now
from schemas.errors import InvalidInput, NotFound
from schemas.records import ActionDefined, TriggerDefined
from schemas.workflow import ActionRef, WorkflowSnapshot

MAX_LINKS = 100


async def existing(state: AppState, principal: Principal, kind: str, model: type[Any], item_id: str, field: str) -> Any:
    try:
        return await definitions.load(state, principal, kind, model, item_id)
    except NotFound:
        raise NotFound(f"{kind} {item_id} not found", fields={field: f"no {kind} {item_id} in this workspace"}) from None


async def new_version(state: AppState, principal: Principal, workflow: WorkflowSnapshot, **changes: Any) -> WorkflowSnapshot:
    updated = workflow.model_copy(update={**changes, "version": workflow.version + 1, "updated_at": now()})
    return await save_workflow(state, principal, updated)


async def trigger_views(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> list[dict[str, Any]]:
    found = await definitions.load_many(state, principal, "trigger", TriggerDefined, [r.trigger_id for r in workflow.triggers])
    hooks = await hooks_of(state, workflow.id, [t.id for t in found.values() if t.trigger_type == "webhook"])
    views = []
    for ref in sorted(workflow.triggers, key=lambda r: (-r.priority, r.trigger_id)):
        trigger = found.get(ref.trigger_id)
        if trigger is None:
            continue  # deleted since it was attached: it matches nothing
        views.append({
            "id": trigger.id, "trigger_id": trigger.id, "trigger_name": trigger.name, "name": trigger.name,
            "trigger_type": trigger.trigger_type, "listens_to": listens_to(trigger), "priority": ref.priority,
            "specific_conditions": ref.specific_conditions, "is_active": trigger.is_active, "version": trigger.version,
            **hooks.get(trigger.id, {}),
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


Linked = tuple[dict[str, TriggerDefined], dict[str, ActionDefined]]


async def linked(state: AppState, principal: Principal, workflows: Iterable[WorkflowSnapshot]) -> Linked:
    """The triggers and actions these workflows reference, by id, in two queries at most."""
    chosen = list(workflows)
    trigger_ids = sorted({r.trigger_id for w in chosen for r in w.triggers})
    action_ids = sorted({r.action_id for w in chosen for r in w.actions})
    triggers = await definitions.load_many(state, principal, "trigger", TriggerDefined, trigger_ids) if trigger_ids else {}
    actions = await definitions.load_many(state, principal, "action", ActionDefined, action_ids) if action_ids else {}
    return triggers, actions


def link_fields(workflow: WorkflowSnapshot, found: Linked) -> dict[str, Any]:
    """A workflow view's `triggers`, `actions` and their counts (seed 003): each reference as
    stored, with what seed 003 shows of the trigger or action it names. A reference whose
    trigger or action was deleted since stays listed (it is still in the snapshot) as inactive,
    with no name: it matches and runs nothing."""
    triggers, actions = found
    trigger_rows = []
    for ref in workflow.triggers:
        trigger = triggers.get(ref.trigger_id)
        trigger_rows.append({
            "trigger_id": ref.trigger_id, "priority": ref.priority, "specific_conditions": ref.specific_conditions,
            "id": ref.trigger_id, "trigger_name": trigger.name if trigger else None,
            "is_active": bool(trigger and trigger.is_active),
        })
    action_rows = []
    for action_ref in workflow.actions:
        action = actions.get(action_ref.action_id)
        order = action_ref.order if action_ref.order is not None else (action.order if action else None)
        action_rows.append({
            "action_id": action_ref.action_id, "order": order, "id": action_ref.action_id,
            "action_name": action.name if action else None, "action_type": action.action_type if action else None,
            "is_required": bool(action and action.is_required),
        })
    return {"triggers": trigger_rows, "actions": action_rows,
            "triggers_count": len(trigger_rows), "actions_count": len(action_rows)}


async def run_link(state: AppState, principal: Principal, workflow: WorkflowSnapshot, wanted: str | None) -> LinkedMatch | None:
    """The attached manual (or api_call) trigger a manual run is attributed to; 422 naming
    `trigger_id` when the one asked for cannot start it."""
    if not workflow.triggers:
        if wanted is not None:
            raise InvalidInput(f"trigger {wanted} is not attached to this workflow", fields={"trigger_id": "not attached to this workflow"})
        return None
    triggers = await definitions.load_many(state, principal, "trigger", TriggerDefined, [r.trigger_id for r in workflow.triggers])
    link, problem = run_trigger(workflow, triggers, wanted)
    if problem is not None:
        raise InvalidInput(problem, fields={"trigger_id": problem})
    return link


async def pin_actions(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> WorkflowSnapshot:
    """The snapshot a manual run pins: attached actions compiled into nodes, as the matcher does."""
    if not workflow.actions:
        return compile_actions(workflow, {})
    actions = await definitions.load_many(state, principal, "action", ActionDefined, [r.action_id for r in workflow.actions])
    return compile_actions(workflow, actions)


async def attach_action(state: AppState, principal: Principal, workflow: WorkflowSnapshot, action_id: str, order: int | None) -> WorkflowSnapshot:
    refs = [r for r in workflow.actions if r.action_id != action_id]
    if len(refs) >= MAX_LINKS:
        raise InvalidInput(f"a workflow has at most {MAX_LINKS} actions", fields={"action_id": "too many actions"})
    refs.append(ActionRef(action_id=action_id, order=order))
    return await new_version(state, principal, workflow, actions=tuple(refs))


async def detach_action(state: AppState, principal: Principal, workflow: WorkflowSnapshot, action_id: str) -> WorkflowSnapshot:
    return await new_version(state, principal, workflow, actions=tuple(r for r in workflow.actions if r.action_id != action_id))
