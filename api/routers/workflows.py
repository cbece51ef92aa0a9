"""Workflows: each change is a full snapshot on the definitions topic, read back from the projection."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from api.deps import PrincipalDep, StateDep, WriterDep
from api.pagination import MAX_PAGE_SIZE, page_response
from api.security import Principal
from infra.kafka_io import Output
from processors.conditions import validate_condition
from processors.cron import CronError, schedule_of, validate_schedule
from schemas.api import WorkflowCreate
from schemas.envelope import make_envelope, now
from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.records import WorkflowDefined
from schemas.topics import DEFINITIONS
from schemas.workflow import Edge, Node, TriggerType, WorkflowSnapshot, WorkflowStatus

router = APIRouter(prefix="/workflows", tags=["workflows"])

# Which status each transition may start from.
_TRANSITIONS: dict[str, tuple[WorkflowStatus, set[WorkflowStatus]]] = {
    "activate": (WorkflowStatus.ACTIVE, {WorkflowStatus.DRAFT, WorkflowStatus.PAUSED, WorkflowStatus.INACTIVE, WorkflowStatus.SCHEDULED}),
    "deactivate": (WorkflowStatus.INACTIVE, {WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, WorkflowStatus.SCHEDULED}),
    "pause": (WorkflowStatus.PAUSED, {WorkflowStatus.ACTIVE, WorkflowStatus.SCHEDULED}),
    "archive": (WorkflowStatus.ARCHIVED, {WorkflowStatus.DRAFT, WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, WorkflowStatus.INACTIVE, WorkflowStatus.SCHEDULED}),
    "reset": (WorkflowStatus.DRAFT, {WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, WorkflowStatus.INACTIVE, WorkflowStatus.SCHEDULED, WorkflowStatus.ARCHIVED}),
}
_PAST = {"activate": "activated", "deactivate": "deactivated", "pause": "paused", "archive": "archived", "reset": "reset"}


def graph_problems(workflow: WorkflowSnapshot) -> dict[str, str]:
    """Structural problems that make a graph unrunnable, keyed by the field at fault."""
    problems: dict[str, str] = {}
    ids = [n.id for n in workflow.nodes]
    seen: set[str] = set()
    for i, node_id in enumerate(ids):
        if node_id in seen:
            problems[f"nodes.{i}.id"] = f"duplicate node id {node_id}"
        seen.add(node_id)
    for i, edge in enumerate(workflow.edges):
        for end in ("source_node", "target_node"):
            if getattr(edge, end) not in seen:
                problems[f"edges.{i}.{end}"] = f"no node {getattr(edge, end)!r} in this workflow"
        if edge.condition:
            for error in validate_condition(edge.condition):
                problems[f"edges.{i}.condition"] = str(error)
    for i, node in enumerate(workflow.nodes):
        spec = node.config.get("condition")
        if spec is not None:
            for error in validate_condition(spec):
                problems[f"nodes.{i}.config.condition"] = str(error)
    filters = workflow.trigger_config.get("filters")
    if filters:
        for error in validate_condition(filters):
            problems["trigger_config.filters"] = str(error)
    return problems


def activation_problems(workflow: WorkflowSnapshot) -> dict[str, str]:
    problems = graph_problems(workflow)
    if not workflow.nodes and not workflow.actions:
        problems["nodes"] = "a workflow needs at least one node (or attached action) to run"
    if workflow.trigger_type == TriggerType.EVENT and not workflow.event_type and not workflow.triggers:
        problems["trigger_config.event_type"] = "an event-triggered workflow needs an event_type"
    if workflow.trigger_type == TriggerType.CRON:
        schedule = schedule_of(workflow.trigger_config)
        if schedule is None:
            problems["trigger_config.schedule"] = "a cron-triggered workflow needs a schedule (cron expression)"
        else:
            try:
                validate_schedule(schedule, workflow.trigger_config.get("timezone"))
            except CronError as exc:
                problems["trigger_config.schedule"] = str(exc)
    return problems


def _nodes(body: WorkflowCreate) -> tuple[tuple[Node, ...], tuple[Edge, ...]]:
    nodes = tuple(
        Node(
            id=n.id or f"node-{uuid.uuid4().hex[:12]}",
            name=n.name,
            node_type=n.node_type,
            position=n.position,
            config=n.config,
            inputs=tuple(n.inputs),
            outputs=tuple(n.outputs),
        )
        for n in body.nodes
    )
    edges = tuple(
        Edge(
            id=e.id or f"edge-{uuid.uuid4().hex[:12]}",
            source_node=e.source_node,
            target_node=e.target_node,
            condition=e.condition,
            label=e.label,
            style=e.style,
        )
        for e in body.edges
    )
    return nodes, edges


def to_view(w: WorkflowSnapshot, base_url: str, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    trigger_config = dict(w.trigger_config)
    if w.trigger_type == TriggerType.WEBHOOK:
        token = trigger_config.get("webhook_token", "")
        trigger_config["webhook_url"] = f"{base_url}/api/v1/workflows/{w.id}/trigger?token={token}"
    view = w.model_dump(mode="json", exclude={"deleted", "trigger_config"})
    view.update(
        tracking_id=w.id,
        trigger_config=trigger_config,
        nodes_count=len(w.nodes),
        edges_count=len(w.edges),
    )
    if stats is not None:
        view["statistics"] = stats
    return view


async def load(state: StateDep, principal: Principal, workflow_id: str) -> WorkflowSnapshot:
    # Scoped by workspace: another workspace's id is simply not found.
    raw = await state.pool.fetchval(
        "SELECT snapshot FROM workflows WHERE id = $1 AND workspace_id = $2",
        workflow_id, principal.workspace_id,
    )
    if raw is None:
        raise NotFound(f"workflow {workflow_id} not found")
    return WorkflowSnapshot.model_validate(orjson.loads(raw))


async def save(state: StateDep, principal: Principal, workflow: WorkflowSnapshot) -> None:
    envelope = make_envelope(
        WorkflowDefined(workflow=workflow),
        source="api/workflows",
        workspace_id=principal.workspace_id,
        subject=workflow.id,
    )
    key = f"{principal.workspace_id}:workflow:{workflow.id}"
    topic, partition, offset = await state.publish(Output.of(DEFINITIONS, key, envelope))
    await state.wait_projected(topic, partition, offset)


async def _stats(state: StateDep, workflow_id: str) -> dict[str, Any]:
    row = await state.pool.fetchrow("SELECT * FROM workflow_stats WHERE workflow_id = $1", workflow_id)
    if row is None:
        return {"executions_total": 0, "success_rate": 0.0, "average_execution_time_seconds": 0.0,
                "last_execution_status": None, "last_execution_at": None}
    total = row["executions_total"]
    return {
        "executions_total": total,
        "success_rate": row["successes"] / total if total else 0.0,
        "error_rate": row["failures"] / total if total else 0.0,
        "average_execution_time_seconds": float(row["total_duration_ms"]) / total / 1000 if total else 0.0,
        "last_execution_status": row["last_status"],
        "last_execution_at": row["last_execution_at"],
    }


@router.post("", status_code=201)
async def create_workflow(body: WorkflowCreate, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    nodes, edges = _nodes(body)
    stamp = now()
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
        project=body.project,
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
    if workflow.status == WorkflowStatus.ACTIVE:
        problems.update(activation_problems(workflow))
    if problems:
        raise InvalidInput("the workflow definition is invalid", fields=problems)
    await save(state, principal, workflow)
    return to_view(workflow, state.settings.api_url)


@router.get("")
async def list_workflows(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    status: str | None = Query(default=None, max_length=20),
    trigger_type: str | None = Query(default=None, max_length=20),
    project: str | None = Query(default=None, max_length=100),
    search: str | None = Query(default=None, max_length=200),
    page: int = Query(default=1, ge=1, le=100000),
    page_size: int = Query(default=20, ge=1, le=MAX_PAGE_SIZE),
) -> dict[str, Any]:
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
    args.extend([page_size, (page - 1) * page_size])
    rows = await state.pool.fetch(
        f"SELECT w.snapshot, s.executions_total, s.successes, s.last_execution_at FROM workflows w"
        f" LEFT JOIN workflow_stats s ON s.workflow_id = w.id WHERE {clause}"
        f" ORDER BY w.updated_at DESC, w.id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    results = []
    for row in rows:
        w = WorkflowSnapshot.model_validate(orjson.loads(row["snapshot"]))
        total = row["executions_total"] or 0
        view = to_view(w, state.settings.api_url)
        for heavy in ("nodes", "edges"):
            view.pop(heavy)
        view.update(
            executions_count=total,
            success_rate=(row["successes"] / total) if total else 0.0,
            last_executed=row["last_execution_at"],
        )
        results.append(view)
    return page_response(request, count, page, page_size, results)


@router.get("/{workflow_id}")
async def get_workflow(
    workflow_id: str, state: StateDep, principal: PrincipalDep,
    version: int | None = Query(default=None, ge=1),
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
    view = to_view(workflow, state.settings.api_url, await _stats(state, workflow_id))
    recent = await state.pool.fetch(
        "SELECT id, status, started_at, completed_at FROM executions WHERE workflow_id = $1"
        " AND workspace_id = $2 ORDER BY started_at DESC LIMIT 10",
        workflow_id, principal.workspace_id,
    )
    view["recent_executions"] = [dict(r) for r in recent]
    return view


@router.delete("/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: str, state: StateDep, principal: WriterDep) -> Response:
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


@router.post("/{workflow_id}/{action}")
async def transition(workflow_id: str, action: str, state: StateDep, principal: WriterDep) -> dict[str, Any]:
    if action not in _TRANSITIONS:
        raise NotFound(f"no action {action!r} on workflows")
    return await _transition(state, principal, workflow_id, action)
