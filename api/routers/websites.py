"""Seed 000's automations, `/websites/{website_id}/automations`, in its camelCase shape.

They are ordinary workflows (project = the website id): a trigger node followed
by the actions in order, `triggerConfig.conditions` as the trigger's filter tree.
Their executions, statistics and history are the workflows' own.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from api import statistics as stats
from api.deps import PrincipalDep, StateDep, WriterDep
from api.pagination import PagingDep, page_response
from api.security import Principal
from api.services.workflows import activation_problems, graph_problems, load, save
from api.state import AppState
from processors.connectors.checks import VALIDATORS
from processors.engine.contacts import CONTACT_ACTIONS
from processors.engine.machine import WAIT_ACTIONS
from schemas.answers.automation import Automation, AutomationStats
from schemas.answers.common import Page
from schemas.envelope import now
from schemas.errors import InvalidInput, NotFound
from schemas.workflow import Edge, Node, NodeType, TriggerType, WorkflowSnapshot, WorkflowStatus

router = APIRouter(prefix="/websites/{website_id}/automations", tags=["automations (seed 000)"])

# The website id becomes the workflows' `project`, bounded like any project name.
WebsiteId = Annotated[str, Path(min_length=1, max_length=100)]

ACTION_TYPES = sorted({*VALIDATORS, *CONTACT_ACTIONS, *WAIT_ACTIONS, "create_record"})


class _Camel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AutomationAction(_Camel):
    action_type: str = Field(min_length=1, max_length=50, validation_alias=AliasChoices("actionType", "action_type"))
    action_config: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("actionConfig", "action_config"))
    delay: int = Field(default=0, ge=0, le=30 * 24 * 3600, description="seconds to wait before the action")


class AutomationTriggerConfig(_Camel):
    event_type: str | None = Field(default=None, max_length=100, validation_alias=AliasChoices("eventType", "event_type"))
    conditions: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)


class AutomationIn(_Camel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    trigger_type: TriggerType = Field(default=TriggerType.EVENT, validation_alias=AliasChoices("triggerType", "trigger_type"))
    trigger_config: AutomationTriggerConfig = Field(
        default_factory=AutomationTriggerConfig, validation_alias=AliasChoices("triggerConfig", "trigger_config")
    )
    actions: list[AutomationAction] = Field(default_factory=list, max_length=100)
    is_active: bool = Field(default=True, validation_alias=AliasChoices("isActive", "is_active"))


class AutomationPatch(_Camel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    trigger_type: TriggerType | None = Field(default=None, validation_alias=AliasChoices("triggerType", "trigger_type"))
    trigger_config: AutomationTriggerConfig | None = Field(default=None, validation_alias=AliasChoices("triggerConfig", "trigger_config"))
    actions: list[AutomationAction] | None = Field(default=None, max_length=100)
    is_active: bool | None = Field(default=None, validation_alias=AliasChoices("isActive", "is_active"))


def _graph(actions: list[AutomationAction]) -> tuple[tuple[Node, ...], tuple[Edge, ...]]:
    problems = {
        f"actions.{i}.actionType": f"unknown action type; one of {ACTION_TYPES}"
        for i, a in enumerate(actions) if a.action_type.lower() not in ACTION_TYPES
    }
    if problems:
        raise InvalidInput("the automation is invalid", fields=problems)
    nodes = [Node(id="trigger", name="Trigger", node_type=NodeType.TRIGGER)]
    for i, action in enumerate(actions, start=1):
        config = {**action.action_config, "action_type": action.action_type.lower(), "order": i}
        if action.delay:
            config["delay"] = action.delay
        nodes.append(Node(id=f"action-{i}", name=f"{action.action_type} #{i}", node_type=NodeType.ACTION, config=config))
    edges = tuple(
        Edge(id=f"edge-{i}", source_node=nodes[i - 1].id, target_node=nodes[i].id) for i in range(1, len(nodes))
    )
    return tuple(nodes), edges


def _trigger_config(config: AutomationTriggerConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if config.event_type:
        out["event_type"] = config.event_type
    if config.conditions:
        out["filters"] = config.conditions
    if config.schedule:
        out["schedule"] = config.schedule
    if config.timezone:
        out["timezone"] = config.timezone
    return out


async def _stats(state: AppState, workspace_id: str, workflow_id: str) -> dict[str, Any]:
    total = await stats.all_time(state.pool, workspace_id, workflow_id)
    moment = now()
    recent = await stats.window(state.pool, workspace_id, moment - timedelta(days=30), moment + timedelta(hours=1), workflow_id)
    return {
        "totalExecutions": total.started,
        "successfulExecutions": total.completed,
        "failedExecutions": total.failed,
        "successRate": total.rate(total.completed),
        "last30Days": recent.started,
    }


async def _view(state: AppState, website_id: str, w: WorkflowSnapshot) -> dict[str, Any]:
    trigger_config: dict[str, Any] = {"eventType": w.event_type, "conditions": w.trigger_config.get("filters") or {}}
    for key in ("schedule", "timezone"):
        if key in w.trigger_config:
            trigger_config[key] = w.trigger_config[key]
    actions = []
    for node in w.nodes:
        if node.node_type != NodeType.ACTION:
            continue
        config = dict(node.config)
        action_type, order, delay = config.pop("action_type", ""), config.pop("order", None), config.pop("delay", 0)
        actions.append({"id": node.id, "actionType": action_type, "actionConfig": config, "order": order, "delay": delay})
    return {
        "id": w.id,
        "websiteId": website_id,
        "name": w.name,
        "description": w.description,
        "triggerType": w.trigger_type.value,
        "triggerConfig": trigger_config,
        "actions": actions,
        "isActive": w.status == WorkflowStatus.ACTIVE,
        "status": w.status.value,
        "version": w.version,
        "stats": await _stats(state, w.workspace_id, w.id),
        "createdAt": w.created_at,
        "updatedAt": w.updated_at,
    }


async def _mine(state: AppState, principal: Principal, website_id: str, automation_id: str) -> WorkflowSnapshot:
    workflow = await load(state, principal, automation_id)
    if workflow.project != website_id:
        raise NotFound(f"automation {automation_id} not found for website {website_id}")
    return workflow


def _checked(workflow: WorkflowSnapshot) -> WorkflowSnapshot:
    problems = graph_problems(workflow)
    if workflow.status == WorkflowStatus.ACTIVE:
        problems.update(activation_problems(workflow))
    if problems:
        camel = {k.replace("trigger_config.event_type", "triggerConfig.eventType").replace("trigger_config.filters", "triggerConfig.conditions"): v
                 for k, v in problems.items()}
        raise InvalidInput("the automation is invalid", fields=camel)
    return workflow


@router.get("", response_model=Page[Automation], response_model_exclude_unset=True)
async def list_automations(
    website_id: WebsiteId,
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
) -> dict[str, Any]:
    ws = principal.workspace_id
    count = await state.pool.fetchval("SELECT count(*) FROM workflows WHERE workspace_id = $1 AND project = $2", ws, website_id)
    rows = await state.pool.fetch(
        "SELECT snapshot FROM workflows WHERE workspace_id = $1 AND project = $2 ORDER BY created_at DESC, id"
        " LIMIT $3 OFFSET $4",
        ws, website_id, paging.page_size, paging.offset,
    )
    results = [await _view(state, website_id, WorkflowSnapshot.model_validate(orjson.loads(r["snapshot"]))) for r in rows]
    return page_response(request, paging, count, results)


@router.post("", status_code=201, response_model=Automation, response_model_exclude_unset=True)
async def create_automation(website_id: WebsiteId, body: AutomationIn, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    nodes, edges = _graph(body.actions)
    stamp = now()
    workflow = _checked(WorkflowSnapshot(
        id=str(uuid.uuid4()), workspace_id=principal.workspace_id, version=1, name=body.name,
        description=body.description, project=website_id,
        status=WorkflowStatus.ACTIVE if body.is_active else WorkflowStatus.INACTIVE,
        trigger_type=body.trigger_type, trigger_config=_trigger_config(body.trigger_config),
        nodes=nodes, edges=edges, created_by=principal.email, created_at=stamp, updated_at=stamp,
    ))
    await save(state, principal, workflow)
    return await _view(state, website_id, workflow)


@router.get("/{automation_id}", response_model=Automation, response_model_exclude_unset=True)
async def get_automation(website_id: WebsiteId, automation_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    return await _view(state, website_id, await _mine(state, principal, website_id, automation_id))


@router.put("/{automation_id}", response_model=Automation, response_model_exclude_unset=True)
async def update_automation(
    website_id: WebsiteId, automation_id: str, body: AutomationPatch, state: StateDep, principal: WriterDep
) -> dict[str, Any]:
    current = await _mine(state, principal, website_id, automation_id)
    changes: dict[str, Any] = {"version": current.version + 1, "updated_at": now()}
    given = body.model_fields_set
    if "name" in given and body.name is not None:
        changes["name"] = body.name
    if "description" in given and body.description is not None:
        changes["description"] = body.description
    if "trigger_type" in given and body.trigger_type is not None:
        changes["trigger_type"] = body.trigger_type
    if "trigger_config" in given and body.trigger_config is not None:
        changes["trigger_config"] = _trigger_config(body.trigger_config)
    if "actions" in given and body.actions is not None:
        changes["nodes"], changes["edges"] = _graph(body.actions)
    if "is_active" in given and body.is_active is not None:
        changes["status"] = WorkflowStatus.ACTIVE if body.is_active else WorkflowStatus.INACTIVE
    updated = _checked(current.model_copy(update=changes))
    await save(state, principal, updated)
    return await _view(state, website_id, updated)


@router.delete("/{automation_id}", status_code=204)
async def delete_automation(website_id: WebsiteId, automation_id: str, state: StateDep, principal: WriterDep) -> Response:
    current = await _mine(state, principal, website_id, automation_id)
    await save(state, principal, current.model_copy(update={"version": current.version + 1, "deleted": True, "updated_at": now()}))
    return Response(status_code=204)


@router.post("/{automation_id}/toggle", response_model=Automation, response_model_exclude_unset=True)
async def toggle_automation(website_id: WebsiteId, automation_id: str, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    current = await _mine(state, principal, website_id, automation_id)
    target = WorkflowStatus.INACTIVE if current.status == WorkflowStatus.ACTIVE else WorkflowStatus.ACTIVE
    updated = _checked(current.model_copy(update={"status": target, "version": current.version + 1, "updated_at": now()}))
    await save(state, principal, updated)
    return await _view(state, website_id, updated)


@router.get("/{automation_id}/stats", response_model=AutomationStats)
async def automation_stats(website_id: WebsiteId, automation_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    workflow = await _mine(state, principal, website_id, automation_id)
    return await _stats(state, principal.workspace_id, workflow.id)
