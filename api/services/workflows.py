"""Workflows: load and save a snapshot, build nodes and edges, and the checks a change must pass.

Each change is a full snapshot on the definitions topic, read back from the projection.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson

from api import definitions
from api.security import Principal
from api.state import AppState
from processors.checks.workflow import IntegrationRef, Report, validate_workflow
from processors.expressions.conditions import validate_condition
from processors.expressions.cron import CronError, schedule_of, validate_schedule
from processors.matching.condition_refs import pin_conditions, referenced_ids
from schemas.api import EdgeIn, NodeIn
from schemas.envelope import make_envelope
from schemas.errors import InvalidInput, NotFound
from schemas.outputs import Output
from schemas.records import ConditionDefined, WorkflowDefined
from schemas.topics import DEFINITIONS
from schemas.workflow import Edge, Node, TriggerType, WorkflowSnapshot, WorkflowStatus


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


def new_node(n: NodeIn, stamp: datetime | None = None, existing: Node | None = None) -> Node:
    return Node(
        id=n.id or f"node-{uuid.uuid4().hex[:12]}",
        name=n.name,
        node_type=n.node_type,
        position=n.position,
        config=n.config,
        inputs=tuple(n.inputs),
        outputs=tuple(n.outputs),
        created_at=existing.created_at if existing is not None else stamp,
        updated_at=stamp,
    )


def new_edge(e: EdgeIn, stamp: datetime | None = None) -> Edge:
    return Edge(
        id=e.id or f"edge-{uuid.uuid4().hex[:12]}",
        source_node=e.source_node,
        target_node=e.target_node,
        condition=e.condition,
        condition_id=e.condition_id,
        label=e.label,
        style=e.style,
        created_at=stamp,
    )


async def integrations_of(state: AppState, workspace_id: str) -> list[IntegrationRef]:
    # Newest first: a node naming no integration gets the newest one of its type, as in the worker.
    rows = await state.pool.fetch(
        "SELECT id, name, type, provider, is_active, test_mode, config FROM integrations WHERE workspace_id = $1"
        " ORDER BY updated_at DESC, id", workspace_id,
    )
    return [
        IntegrationRef(r["id"], r["name"], r["type"], r["provider"], r["is_active"], r["test_mode"], _template_names(r["config"]))
        for r in rows
    ]


def _template_names(raw: object) -> frozenset[str]:
    config = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    templates = config.get("templates") if isinstance(config, dict) else None
    return frozenset(str(k) for k in templates) if isinstance(templates, dict) else frozenset()


async def conditions_of(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> dict[str, ConditionDefined]:
    """The reusable conditions the workflow references (those that exist in this workspace)."""
    ids = referenced_ids(workflow)
    return await definitions.load_many(state, principal, "condition", ConditionDefined, ids) if ids else {}


async def validation_report(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> Report:
    return validate_workflow(
        workflow, await integrations_of(state, principal.workspace_id), await conditions_of(state, principal, workflow))


async def check_activation(state: AppState, principal: Principal, workflow: WorkflowSnapshot, message: str) -> None:
    """An active workflow must pass every check of GET /validate: refused with 422 otherwise."""
    _refuse(activation_problems(workflow), await validation_report(state, principal, workflow), message)


async def check_runnable(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> Report:
    """A run (execute, dry-run test) of what GET /validate calls invalid (`can_execute`
    false) is refused with 422 and the same issues: a draft with a cycle ran only its
    trigger and ended `completed`. Returns the report (its warnings) when it may run."""
    report = await validation_report(state, principal, workflow)
    _refuse(graph_problems(workflow), report, "the workflow cannot run")
    return report


def _refuse(problems: dict[str, str], report: Report, message: str) -> None:
    fields = {**problems, **report.fields()}
    if fields:
        error = InvalidInput(f"{message}: " + "; ".join(i.message for i in report.issues[:10]) if report.issues else message, fields=fields)
        error.code = report.code or error.code
        raise error


async def load(state: AppState, principal: Principal, workflow_id: str) -> WorkflowSnapshot:
    # Scoped by workspace: another workspace's id is simply not found.
    raw = await state.pool.fetchval(
        "SELECT snapshot FROM workflows WHERE id = $1 AND workspace_id = $2",
        workflow_id, principal.workspace_id,
    )
    if raw is None:
        raise NotFound(f"workflow {workflow_id} not found")
    return WorkflowSnapshot.model_validate(orjson.loads(raw))


async def save(state: AppState, principal: Principal, workflow: WorkflowSnapshot) -> WorkflowSnapshot:
    """Write a workflow version; returns it as written: the reusable conditions it
    references pinned as they are now (processors/matching/condition_refs.py)."""
    if referenced_ids(workflow):
        workflow = pin_conditions(workflow, await conditions_of(state, principal, workflow))
    envelope = make_envelope(
        WorkflowDefined(workflow=workflow),
        source="api/workflows",
        workspace_id=principal.workspace_id,
        subject=workflow.id,
    )
    key = f"{principal.workspace_id}:workflow:{workflow.id}"
    topic, partition, offset = await state.publish(Output.of(DEFINITIONS, key, envelope))
    await state.wait_projected(topic, partition, offset)
    return workflow


async def commit(state: AppState, principal: Principal, current: WorkflowSnapshot, updated: WorkflowSnapshot) -> WorkflowSnapshot:
    """Check and save a new version; nothing is written when a check fails."""
    if updated is current:
        return current
    if updated.start_date and updated.end_date and updated.end_date < updated.start_date:
        raise InvalidInput("end_date is before start_date", fields={"end_date": "must not be before start_date"})
    problems = graph_problems(updated)
    if problems:
        raise InvalidInput("the workflow definition is invalid", fields=problems)
    if updated.status == WorkflowStatus.ACTIVE:
        await check_activation(state, principal, updated, "an active workflow must stay valid")
    return await save(state, principal, updated)
