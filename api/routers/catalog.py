"""Catalogs and single-node tools: node templates, categories, trigger kinds, config
schemas, event types, action templates; validate or dry-run one node.

Seed 002 spells these under /workflows/nodes/...: served there too. This router
is included before the workflows router, whose /workflows/{id}/{action} would
otherwise catch POST /workflows/nodes/validate.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter

from api.deps import PrincipalDep
from api.pagination import listing
from processors.checks.node_config import config_problems
from processors.engine.simulate import simulate
from schemas.answers.catalog import (
    ActionTemplate,
    ConfigSchema,
    EventType,
    NodeCategory,
    NodeTemplate,
    NodeTestResult,
    NodeValidation,
    TriggerKind,
)
from schemas.answers.common import Page
from schemas.api import NodeCheck
from schemas.catalog import ACTION_TEMPLATES, CATEGORIES, TRIGGERS, event_types, node_templates
from schemas.envelope import now
from schemas.errors import InvalidInput, NotFound
from schemas.node_configs import ACTION_CONFIGS, config_schema
from schemas.records import ExecutionFailed, ExecutionStarted, NodeFailed, NodeSucceeded
from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

router = APIRouter(tags=["catalog"])


@router.get("/nodes/templates", response_model=Page[NodeTemplate])
@router.get("/workflows/nodes/templates", response_model=Page[NodeTemplate])
async def list_node_templates(_: PrincipalDep, category: str | None = None, node_type: str | None = None) -> dict[str, Any]:
    found = [
        t for t in node_templates()
        if (category is None or t["category"].lower() == category.lower()) and (node_type is None or t["node_type"] == node_type)
    ]
    return listing(found)


@router.get("/nodes/categories", response_model=Page[NodeCategory])
@router.get("/workflows/nodes/categories", response_model=Page[NodeCategory])
async def list_categories(_: PrincipalDep) -> dict[str, Any]:
    templates = node_templates()
    return listing([
        {**c, "templates_count": sum(1 for t in templates if t["category"] == c["name"])} for c in CATEGORIES
    ])


@router.get("/nodes/triggers", response_model=Page[TriggerKind])
@router.get("/workflows/nodes/triggers", response_model=Page[TriggerKind])
async def list_triggers(_: PrincipalDep) -> dict[str, Any]:
    return listing(list(TRIGGERS))


@router.get("/nodes/config-schema/{node_type}", response_model=ConfigSchema)
@router.get("/workflows/nodes/config-schema/{node_type}", response_model=ConfigSchema)
async def get_config_schema(node_type: str, _: PrincipalDep) -> dict[str, Any]:
    schema = config_schema(node_type)
    if schema is None:
        names = sorted({t.value for t in NodeType} | set(ACTION_CONFIGS))
        raise NotFound(f"no node or action type {node_type!r}; one of {', '.join(names)}")
    kind = "node_type" if node_type in {t.value for t in NodeType} else "action_type"
    return {"node_type": node_type, "kind": kind, "schema": schema}


def _errors(body: NodeCheck) -> list[dict[str, str]]:
    return [{"field": k, "message": v} for k, v in config_problems(body.node_type, body.config).items()]


@router.post("/nodes/validate", response_model=NodeValidation)
@router.post("/workflows/nodes/validate", response_model=NodeValidation)
async def validate_node(body: NodeCheck, _: PrincipalDep) -> dict[str, Any]:
    errors = _errors(body)
    return {"node_type": body.node_type.value, "is_valid": not errors, "errors": errors}


@router.post("/nodes/test", response_model=NodeTestResult)
@router.post("/workflows/nodes/test", response_model=NodeTestResult)
async def test_node(body: NodeCheck, principal: PrincipalDep) -> dict[str, Any]:
    """Dry-run one node after a trigger carrying `input_data`, on the real state machine."""
    errors = _errors(body)
    if errors:
        raise InvalidInput("the node config is invalid", fields={e["field"]: e["message"] for e in errors})
    stamp = now()
    node = Node(id="node", name=body.name, node_type=body.node_type, config=body.config,
                inputs=tuple(body.inputs), outputs=tuple(body.outputs))
    nodes = (node,) if body.node_type == NodeType.TRIGGER else (Node(id="trigger", node_type=NodeType.TRIGGER), node)
    edges = () if len(nodes) == 1 else (Edge(id="trigger-node", source_node="trigger", target_node="node"),)
    workflow = WorkflowSnapshot(
        id="node-test", workspace_id=principal.workspace_id, version=1, name="node test", nodes=nodes, edges=edges,
        created_at=stamp, updated_at=stamp,
    )
    execution_id = f"node-test-{uuid.uuid4()}"
    data = body.input_data
    context = {
        "event": {"id": execution_id, "type": "test", "data": data, "timestamp": stamp.isoformat()},
        "user": body.user or {}, "conversation": {}, "input_data": data,
    }
    started = ExecutionStarted(execution_id=execution_id, workflow=workflow, trigger_type="test", context=context, performed_by=principal.email)
    clock = time.perf_counter()
    sim = simulate(started, workspace_id=principal.workspace_id, now=stamp)
    elapsed = time.perf_counter() - clock
    results = [r for r in sim.records if isinstance(r, NodeSucceeded | NodeFailed) and r.node_id == "node"]
    last = results[-1] if results else None
    failed = next((r for r in sim.records if isinstance(r, ExecutionFailed)), None)
    return {
        "success": isinstance(last, NodeSucceeded) and sim.status == "completed",
        "status": sim.status,
        "dry_run": True,
        "node_type": body.node_type.value,
        "input_data": last.input if last is not None else None,
        "output": last.output if isinstance(last, NodeSucceeded) else None,
        "error": last.error.model_dump(mode="json") if isinstance(last, NodeFailed)
        else ({"code": failed.error.code, "message": failed.error.message} if failed else None),
        "simulated_duration_seconds": (sim.clock - stamp).total_seconds() if sim.clock else 0.0,
        "execution_time_seconds": elapsed,
    }


@router.get("/action-templates", response_model=Page[ActionTemplate])
async def list_action_templates(_: PrincipalDep, category: str | None = None) -> dict[str, Any]:
    return listing([t for t in ACTION_TEMPLATES if category is None or t["category"] == category])


@router.get("/event-types", response_model=Page[EventType])
async def list_event_types(_: PrincipalDep, category: str | None = None) -> dict[str, Any]:
    return listing([e for e in event_types() if category is None or e["category"] == category])
