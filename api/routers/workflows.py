"""Workflows: each change is a full snapshot on the definitions topic, read back from the projection."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api.deps import PrincipalDep, StateDep, WriterDep
from api.pagination import MAX_VERSION, PagingDep, page_response
from api.preconditions import IfMatchDep, tag
from api.security import Principal
from api.services.links import Linked, link_fields, linked
from api.services.workflows import (
    activation_problems,
    check_activation,
    commit,
    graph_problems,
    load,
    new_edge,
    new_node,
    save,
)
from api.statistics import workflow_figures
from schemas.answers.common import Page
from schemas.answers.workflows import Transitioned, Workflow, WorkflowSummary
from schemas.api import ProjectIn, WorkflowCreate, WorkflowPatch, WorkflowPut
from schemas.envelope import now
from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.workflow import (
    Edge,
    Node,
    TriggerType,
    WorkflowSettings,
    WorkflowSnapshot,
    WorkflowStatus,
)

router = APIRouter(prefix="/workflows", tags=["workflows"])

# Which status each transition may start from.
_TRANSITIONS: dict[str, tuple[WorkflowStatus, set[WorkflowStatus]]] = {
    "activate": (WorkflowStatus.ACTIVE, {WorkflowStatus.DRAFT, WorkflowStatus.PAUSED, WorkflowStatus.INACTIVE, WorkflowStatus.SCHEDULED}),
    "deactivate": (WorkflowStatus.INACTIVE, {WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, WorkflowStatus.SCHEDULED}),
    "pause": (WorkflowStatus.PAUSED, {WorkflowStatus.ACTIVE, WorkflowStatus.SCHEDULED}),
    "archive": (WorkflowStatus.ARCHIVED, {WorkflowStatus.DRAFT, WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, WorkflowStatus.INACTIVE, WorkflowStatus.SCHEDULED}),
    "reset": (WorkflowStatus.DRAFT, {WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, WorkflowStatus.INACTIVE, WorkflowStatus.SCHEDULED, WorkflowStatus.ARCHIVED}),
}
# `ordering` values of the list (a leading "-" sorts descending) and their columns.
_ORDERING = {
    "name": "w.name", "created_at": "w.created_at", "updated_at": "w.updated_at", "status": "w.status",
    "version": "w.version", "trigger_type": "w.trigger_type", "executions_count": "COALESCE(s.executions_total, 0)",
    "last_executed": "s.last_execution_at",
}
_PAST = {"activate": "activated", "deactivate": "deactivated", "pause": "paused", "archive": "archived", "reset": "reset"}


def project_fields(project: str | ProjectIn | None, name: str | None) -> tuple[str | None, str | None]:
    """The snapshot's `project` and `project_name` from a body's `project` (an id or seed
    004's {tracking_id, name}) and `project_name`; a name needs a project to name."""
    if isinstance(project, ProjectIn):
        if name is not None and project.name is not None and name != project.name:
            raise InvalidInput("two project names", fields={"project_name": "differs from project.name"})
        return project.tracking_id, name or project.name
    if project is None and name is not None:
        raise InvalidInput("a project name needs a project", fields={"project_name": "give project (the project's id) too"})
    return project, name


def _nodes(body: WorkflowCreate, stamp: datetime | None = None) -> tuple[tuple[Node, ...], tuple[Edge, ...]]:
    return tuple(new_node(n, stamp) for n in body.nodes), tuple(new_edge(e, stamp) for e in body.edges)


def project_of(w: WorkflowSnapshot) -> str | dict[str, str] | None:
    """The project as answered: the id as given (seed 000's website id, a label), or seed
    004's {tracking_id, name} when the client gave the project's name too. Fluxo has no
    project registry, so a name is never looked up or made up."""
    if w.project is None or w.project_name is None:
        return w.project
    return {"tracking_id": w.project, "name": w.project_name}


def run_counters(total: int | None, successes: int | None, last_executed: datetime | None) -> dict[str, Any]:
    """Seed 004's executions_count, success_rate and last_executed, from a workflow_stats row
    (the list and the detail answer the same figures)."""
    started = total or 0
    return {
        "executions_count": started,
        "success_rate": (successes or 0) / started if started else 0.0,
        "last_executed": last_executed,
    }


def to_view(w: WorkflowSnapshot, base_url: str, stats: dict[str, Any] | None = None, links: Linked | None = None) -> dict[str, Any]:
    trigger_config = dict(w.trigger_config)
    if w.trigger_type == TriggerType.WEBHOOK:
        token = trigger_config.get("webhook_token", "")
        trigger_config["webhook_url"] = f"{base_url}/api/v1/workflows/{w.id}/trigger?token={token}"
    view = w.model_dump(mode="json", exclude={"deleted", "trigger_config", "project_name"})
    view.update(
        tracking_id=w.id,
        project=project_of(w),
        trigger_config=trigger_config,
        nodes_count=len(w.nodes),
        edges_count=len(w.edges),
    )
    view.update(link_fields(w, links or ({}, {})))
    if stats is not None:
        view["statistics"] = stats
    return view


async def _detail(state: StateDep, principal: Principal, w: WorkflowSnapshot) -> dict[str, Any]:
    """A workflow's detail: the view with its statistics, run counters and linked definitions."""
    view = to_view(w, state.settings.api_url, await workflow_figures(state.pool, principal.workspace_id, w.id),
                   await linked(state, principal, [w]))
    row = await state.pool.fetchrow(
        "SELECT executions_total, successes, last_execution_at FROM workflow_stats WHERE workflow_id = $1 AND workspace_id = $2",
        w.id, principal.workspace_id,
    )
    view.update(run_counters(row["executions_total"], row["successes"], row["last_execution_at"]) if row else run_counters(0, 0, None))
    return view


@router.post("", status_code=201, response_model=Workflow, response_model_exclude_unset=True)
async def create_workflow(body: WorkflowCreate, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    stamp = now()
    nodes, edges = _nodes(body, stamp)
    project, project_name = project_fields(body.project, body.project_name)
    trigger_config = dict(body.trigger_config)
    if body.trigger_type == TriggerType.WEBHOOK and not trigger_config.get("webhook_token"):
        # The secret in the public URL that lets a caller start this workflow.
        trigger_config["webhook_token"] = secrets.token_urlsafe(24)
    workflow = WorkflowSnapshot(
        id=str(uuid.uuid4()),
        workspace_id=principal.workspace_id,
        version=1,
        name=body.name,
        description=body.description,
        project=project,
        project_name=project_name,
        status=body.status,
        trigger_type=body.trigger_type,
        trigger_config=trigger_config,
        nodes=nodes,
        edges=edges,
        settings=body.settings,
        max_executions=body.max_executions,
        delay_between_executions=body.delay_between_executions,
        start_date=body.start_date,
        end_date=body.end_date,
        created_by=principal.email,
        created_at=stamp,
        updated_at=stamp,
    )
    problems = graph_problems(workflow)
    if problems:
        raise InvalidInput("the workflow definition is invalid", fields=problems)
    if workflow.status == WorkflowStatus.ACTIVE:
        await check_activation(state, principal, workflow, "the workflow definition is invalid")
    await save(state, principal, workflow)
    return to_view(workflow, state.settings.api_url)


@router.get("", response_model=Page[WorkflowSummary])
async def list_workflows(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: str | None = Query(default=None, max_length=20),
    trigger_type: str | None = Query(default=None, max_length=20),
    project: str | None = Query(default=None, max_length=100),
    search: str | None = Query(default=None, max_length=200),
    ordering: str = Query(default="-updated_at", max_length=40),
) -> dict[str, Any]:
    bad: dict[str, str] = {}
    for name, value, enum in (("status", status, WorkflowStatus), ("trigger_type", trigger_type, TriggerType)):
        if value and value.lower() not in {e.value for e in enum}:
            bad[name] = f"one of {', '.join(e.value for e in enum)}"
    column = _ORDERING.get(ordering.lstrip("-"))
    if column is None:
        bad["ordering"] = f"one of {', '.join(sorted(_ORDERING))}, optionally prefixed with -"
    if bad:
        raise InvalidInput("invalid list parameters", fields=bad)
    order_by = f"{column} {'DESC' if ordering.startswith('-') else 'ASC'}, w.id"
    where = ["w.workspace_id = $1"]
    args: list[Any] = [principal.workspace_id]
    for column, value in (("status", status), ("trigger_type", trigger_type), ("project", project)):
        if value:
            args.append(value.lower() if column != "project" else value)
            where.append(f"w.{column} = ${len(args)}")
    if search:
        args.append(f"%{search}%")
        where.append(f"(w.name ILIKE ${len(args)} OR w.description ILIKE ${len(args)})")
    clause = " AND ".join(where)
    count = await state.pool.fetchval(f"SELECT count(*) FROM workflows w WHERE {clause}", *args)
    args.extend([paging.page_size, paging.offset])
    rows = await state.pool.fetch(
        f"SELECT w.snapshot, s.executions_total, s.successes, s.last_execution_at FROM workflows w"
        f" LEFT JOIN workflow_stats s ON s.workflow_id = w.id WHERE {clause}"
        f" ORDER BY {order_by} LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    workflows = [WorkflowSnapshot.model_validate(orjson.loads(row["snapshot"])) for row in rows]
    links = await linked(state, principal, workflows)
    results = []
    for row, w in zip(rows, workflows, strict=True):
        view = to_view(w, state.settings.api_url, links=links)
        for heavy in ("nodes", "edges"):
            view.pop(heavy)
        view.update(run_counters(row["executions_total"], row["successes"], row["last_execution_at"]))
        results.append(view)
    return page_response(request, paging, count, results)


@router.get("/{workflow_id}", response_model=Workflow, response_model_exclude_unset=True)
async def get_workflow(
    workflow_id: str, state: StateDep, principal: PrincipalDep, response: Response,
    version: int | None = Query(default=None, ge=1, le=MAX_VERSION),
) -> dict[str, Any]:
    current = await load(state, principal, workflow_id)
    workflow = current
    if version is not None and version != current.version:
        raw = await state.pool.fetchval(
            "SELECT snapshot FROM workflow_versions WHERE workflow_id = $1 AND version = $2 AND workspace_id = $3",
            workflow_id, version, principal.workspace_id,
        )
        if raw is None:
            raise NotFound(f"workflow {workflow_id} has no version {version}")
        workflow = WorkflowSnapshot.model_validate(orjson.loads(raw))
    view = await _detail(state, principal, workflow)
    recent = await state.pool.fetch(
        "SELECT id, status, started_at, completed_at FROM executions WHERE workflow_id = $1"
        " AND workspace_id = $2 ORDER BY started_at DESC LIMIT 10",
        workflow_id, principal.workspace_id,
    )
    view["recent_executions"] = [dict(r) for r in recent]
    tag(response, workflow.version)
    return view


@router.delete("/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    current = await load(state, principal, workflow_id)
    await save(state, principal, current.model_copy(update={"version": current.version + 1, "deleted": True, "updated_at": now()}))
    return Response(status_code=204)


async def _transition(state: StateDep, principal: Principal, workflow_id: str, action: str) -> dict[str, Any]:
    current = await load(state, principal, workflow_id)
    target, allowed_from = _TRANSITIONS[action]
    if current.status not in allowed_from:
        raise Conflict(f"cannot {action} a workflow that is {current.status.value}")
    if target == WorkflowStatus.ACTIVE:
        problems = activation_problems(current)
        if problems:
            raise InvalidInput("the workflow cannot be activated", fields=problems)
        await check_activation(state, principal, current, "the workflow cannot be activated")
    stamp: datetime = now()
    updated = current.model_copy(update={"status": target, "version": current.version + 1, "updated_at": stamp})
    await save(state, principal, updated)
    answer: dict[str, Any] = {
        "message": f"workflow {_PAST[action]}",
        "workflow_id": workflow_id,
        "status": target.value,
        "version": updated.version,
        f"{_PAST[action]}_at": stamp,
    }
    if updated.trigger_type == TriggerType.WEBHOOK:
        answer["webhook_url"] = to_view(updated, state.settings.api_url)["trigger_config"]["webhook_url"]
    return answer


@router.post("/{workflow_id}/{action}", response_model=Transitioned, response_model_exclude_unset=True)
async def transition(workflow_id: str, action: str, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    if action not in _TRANSITIONS:
        raise NotFound(f"no action {action!r} on workflows")
    return await _transition(state, principal, workflow_id, action)


# Which transition a requested status is reached by.
_ACTION_FOR = {target: action for action, (target, _) in _TRANSITIONS.items()}


def _settings_of(value: dict[str, Any], base: WorkflowSettings | None) -> WorkflowSettings:
    merged = {**(base.model_dump() if base is not None else {}), **value}
    try:
        return WorkflowSettings.model_validate(merged)
    except ValidationError as exc:
        fields = {".".join(["settings", *(str(p) for p in e["loc"])]): e["msg"] for e in exc.errors()}
        raise InvalidInput("invalid settings", fields=fields) from None


def apply_update(current: WorkflowSnapshot, body: WorkflowPatch, *, partial: bool, stamp: datetime) -> WorkflowSnapshot:
    """The next version of a workflow with the fields of `body` applied (pure)."""
    given = body.model_fields_set
    update: dict[str, Any] = {}
    for name in ("name", "description", "delay_between_executions", "trigger_type"):
        if name in given:
            value = getattr(body, name)
            if value is None:
                raise InvalidInput(f"{name} cannot be null", fields={name: "may not be null"})
            update[name] = value
    for name in ("max_executions", "start_date", "end_date"):
        if name in given:
            update[name] = getattr(body, name)
    if "project" in given or "project_name" in given:
        # A new project id without a name forgets the old project's name.
        kept = current.project_name if "project" not in given else None
        update["project"], update["project_name"] = project_fields(
            body.project if "project" in given else current.project,
            body.project_name if "project_name" in given else kept,
        )
    if "settings" in given:
        if body.settings is None:
            raise InvalidInput("settings cannot be null", fields={"settings": "may not be null"})
        update["settings"] = _settings_of(body.settings, current.settings if partial else None)
    trigger_type = update.get("trigger_type", current.trigger_type)
    if "trigger_config" in given or trigger_type != current.trigger_type:
        if "trigger_config" in given and body.trigger_config is None:
            raise InvalidInput("trigger_config cannot be null", fields={"trigger_config": "may not be null"})
        config = dict(body.trigger_config or {}) if "trigger_config" in given else dict(current.trigger_config)
        if partial and "trigger_config" in given:
            config = {**current.trigger_config, **config}
        if trigger_type == TriggerType.WEBHOOK and not config.get("webhook_token"):
            # A webhook keeps its secret URL across edits unless a new token is given.
            config["webhook_token"] = current.trigger_config.get("webhook_token") or secrets.token_urlsafe(24)
        update["trigger_config"] = config
    if "nodes" in given:
        if body.nodes is None:
            raise InvalidInput("nodes cannot be null", fields={"nodes": "may not be null"})
        update["nodes"] = tuple(new_node(n, stamp, current.node(n.id) if n.id else None) for n in body.nodes)
    if "edges" in given:
        if body.edges is None:
            raise InvalidInput("edges cannot be null", fields={"edges": "may not be null"})
        old = {e.id: e for e in current.edges}
        update["edges"] = tuple(
            new_edge(e, old[e.id].created_at if e.id in old else stamp) for e in body.edges
        )
    if "status" in given and body.status is not None and body.status != current.status:
        action = _ACTION_FOR.get(body.status)
        if action is None:
            raise InvalidInput(f"status {body.status.value} is not reached by an edit",
                               fields={"status": f"one of {', '.join(sorted(s.value for s in _ACTION_FOR))}"})
        if current.status not in _TRANSITIONS[action][1]:
            raise Conflict(f"cannot {action} a workflow that is {current.status.value}")
        update["status"] = body.status
    elif "status" in given and body.status is None:
        raise InvalidInput("status cannot be null", fields={"status": "may not be null"})
    candidate = current.model_copy(update=update)
    if candidate == current:
        return current
    try:
        # model_copy does not validate: a full round trip does (dates, ranges).
        return WorkflowSnapshot.model_validate(
            {**candidate.model_dump(), "version": current.version + 1, "updated_at": stamp}
        )
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
        raise InvalidInput("the workflow definition is invalid", fields=fields) from None


async def _update(
    state: StateDep, principal: Principal, workflow_id: str, body: WorkflowPatch, response: Response, *, partial: bool
) -> dict[str, Any]:
    current = await load(state, principal, workflow_id)
    updated = await commit(state, principal, current, apply_update(current, body, partial=partial, stamp=now()))
    tag(response, updated.version)
    return await _detail(state, principal, updated)


@router.put("/{workflow_id}", response_model=Workflow, response_model_exclude_unset=True)
async def replace_workflow(
    workflow_id: str, body: WorkflowPut, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response
) -> dict[str, Any]:
    return await _update(state, principal, workflow_id, body, response, partial=False)


@router.patch("/{workflow_id}", response_model=Workflow, response_model_exclude_unset=True)
async def patch_workflow(
    workflow_id: str, body: WorkflowPatch, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response
) -> dict[str, Any]:
    return await _update(state, principal, workflow_id, body, response, partial=True)
