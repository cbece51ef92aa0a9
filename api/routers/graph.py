"""A workflow's graph: its nodes and edges one by one, the whole graph, its validation.

Every change writes the next full snapshot of the workflow (a new version) like
any other edit, and refuses (4xx, nothing written) a change that would leave a
dangling reference, a duplicate, or an active workflow that no longer validates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi import Query as QueryParam

from api.deps import PrincipalDep, StateDep, WriterDep
from api.pagination import MAX_VERSION, listing
from api.preconditions import IfMatchDep, tag
from api.security import Principal
from api.services.workflows import commit, load, new_edge, new_node, validation_report
from processors.checks.workflow import complexity_score, execution_paths, layout
from schemas.answers.common import Page
from schemas.answers.workflows import Graph, GraphEdge, GraphNode, Validation
from schemas.api import EdgeIn, NodeIn, NodePatch, NodePut
from schemas.envelope import now
from schemas.errors import InvalidInput, NotFound
from schemas.workflow import Edge, Node, WorkflowSnapshot

router = APIRouter(prefix="/workflows", tags=["graph"])
# The bounds of a workflow created in one request (schemas.api.WorkflowCreate).
MAX_NODES = 500
MAX_EDGES = 2000


def node_view(w: WorkflowSnapshot, node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "tracking_id": node.id,
        "workflow": w.id,
        "name": node.name,
        "node_type": node.node_type.value,
        "position": node.position.model_dump(),
        "config": node.config,
        "inputs": [p.model_dump() for p in node.inputs],
        "outputs": [p.model_dump() for p in node.outputs],
        "created_at": node.created_at or w.created_at,
        "updated_at": node.updated_at or node.created_at or w.created_at,
    }


def edge_view(w: WorkflowSnapshot, edge: Edge) -> dict[str, Any]:
    return {
        "id": edge.id,
        "tracking_id": edge.id,
        "workflow": w.id,
        "source_node": edge.source_node,
        "target_node": edge.target_node,
        "condition": edge.condition,
        "condition_id": edge.condition_id,
        "label": edge.label,
        "style": edge.style,
        "created_at": edge.created_at or w.created_at,
    }


_EMPTY_STATS = {"executions_count": 0, "success_count": 0, "failure_count": 0, "average_execution_time_ms": 0.0, "last_executed": None}


async def node_statistics(state: StateDep, workspace_id: str, workflow_id: str, node_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per-node counters the projection keeps in node_stats (every finished attempt)."""
    rows = await state.pool.fetch(
        "SELECT node_id, executions, successes, failures, duration_ms, last_executed_at FROM node_stats"
        " WHERE workflow_id = $1 AND workspace_id = $2 AND node_id = ANY($3::text[])",
        workflow_id, workspace_id, node_ids,
    )
    stats = {node_id: dict(_EMPTY_STATS) for node_id in node_ids}
    for r in rows:
        stats[r["node_id"]] = {
            "executions_count": r["executions"],
            "success_count": r["successes"],
            "failure_count": r["failures"],
            "average_execution_time_ms": round(float(r["duration_ms"]) / r["executions"], 3) if r["executions"] else 0.0,
            "last_executed": r["last_executed_at"],
        }
    return stats


def _node_of(w: WorkflowSnapshot, node_id: str) -> Node:
    node = w.node(node_id)
    if node is None:
        raise NotFound(f"workflow {w.id} has no node {node_id}")
    return node


# -- nodes ----------------------------------------------------------------------------------
@router.get("/{workflow_id}/nodes", response_model=Page[GraphNode], response_model_exclude_unset=True)
async def list_nodes(
    request: Request, workflow_id: str, state: StateDep, principal: PrincipalDep, response: Response,
    node_type: str | None = QueryParam(default=None, max_length=30),
) -> dict[str, Any]:
    w = await load(state, principal, workflow_id)
    tag(response, w.version)
    nodes = [n for n in w.nodes if node_type is None or n.node_type.value == node_type]
    results = [node_view(w, n) for n in nodes]
    return listing(results)


@router.post("/{workflow_id}/nodes", status_code=201, response_model=GraphNode, response_model_exclude_unset=True)
async def create_node(
    workflow_id: str, body: NodeIn, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response
) -> dict[str, Any]:
    current = await load(state, principal, workflow_id)
    if body.id is not None and current.node(body.id) is not None:
        raise InvalidInput(f"node {body.id} already exists", fields={"id": f"workflow already has a node {body.id}"})
    if len(current.nodes) >= MAX_NODES:
        raise InvalidInput(f"a workflow has at most {MAX_NODES} nodes", fields={"nodes": f"at most {MAX_NODES}"})
    stamp = now()
    node = new_node(body, stamp)
    updated = _next(current, stamp, nodes=(*current.nodes, node))
    saved = await commit(state, principal, current, updated)
    tag(response, saved.version)
    return {**node_view(saved, node), "workflow_version": saved.version}


@router.get("/{workflow_id}/nodes/{node_id}", response_model=GraphNode, response_model_exclude_unset=True)
async def get_node(workflow_id: str, node_id: str, state: StateDep, principal: PrincipalDep, response: Response) -> dict[str, Any]:
    w = await load(state, principal, workflow_id)
    node = _node_of(w, node_id)
    tag(response, w.version)
    stats = await node_statistics(state, principal.workspace_id, w.id, [node.id])
    return {**node_view(w, node), "execution_statistics": stats[node.id]}


async def _change_node(
    state: StateDep, principal: Principal, workflow_id: str, node_id: str, body: NodePatch, response: Response, *, partial: bool
) -> dict[str, Any]:
    current = await load(state, principal, workflow_id)
    node = _node_of(current, node_id)
    given = body.model_fields_set
    update: dict[str, Any] = {}
    for name in ("name", "node_type", "position"):
        if name in given:
            value = getattr(body, name)
            if value is None:
                raise InvalidInput(f"{name} cannot be null", fields={name: "may not be null"})
            update[name] = value
    if "config" in given:
        if body.config is None:
            raise InvalidInput("config cannot be null", fields={"config": "may not be null"})
        update["config"] = {**node.config, **body.config} if partial else body.config
    for name in ("inputs", "outputs"):
        if name in given:
            update[name] = tuple(getattr(body, name) or ())
    changed = node.model_copy(update=update)
    if changed == node:
        tag(response, current.version)
        return {**node_view(current, node), "workflow_version": current.version}
    stamp = now()
    changed = changed.model_copy(update={"updated_at": stamp})
    updated = _next(current, stamp, nodes=tuple(changed if n.id == node_id else n for n in current.nodes))
    saved = await commit(state, principal, current, updated)
    tag(response, saved.version)
    return {**node_view(saved, changed), "workflow_version": saved.version}


@router.put("/{workflow_id}/nodes/{node_id}", response_model=GraphNode, response_model_exclude_unset=True)
async def replace_node(
    workflow_id: str, node_id: str, body: NodePut, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response
) -> dict[str, Any]:
    return await _change_node(state, principal, workflow_id, node_id, body, response, partial=False)


@router.patch("/{workflow_id}/nodes/{node_id}", response_model=GraphNode, response_model_exclude_unset=True)
async def patch_node(
    workflow_id: str, node_id: str, body: NodePatch, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response
) -> dict[str, Any]:
    return await _change_node(state, principal, workflow_id, node_id, body, response, partial=True)


@router.delete("/{workflow_id}/nodes/{node_id}", status_code=204)
async def delete_node(workflow_id: str, node_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    current = await load(state, principal, workflow_id)
    _node_of(current, node_id)
    updated = _next(
        current, now(),
        nodes=tuple(n for n in current.nodes if n.id != node_id),
        # Its edges go with it (seed 004).
        edges=tuple(e for e in current.edges if node_id not in (e.source_node, e.target_node)),
    )
    await commit(state, principal, current, updated)
    return Response(status_code=204)


# -- edges ----------------------------------------------------------------------------------
@router.get("/{workflow_id}/edges", response_model=Page[GraphEdge], response_model_exclude_unset=True)
async def list_edges(
    request: Request, workflow_id: str, state: StateDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    w = await load(state, principal, workflow_id)
    tag(response, w.version)
    results = [edge_view(w, e) for e in w.edges]
    return listing(results)


@router.post("/{workflow_id}/edges", status_code=201, response_model=GraphEdge, response_model_exclude_unset=True)
async def create_edge(
    workflow_id: str, body: EdgeIn, state: StateDep, principal: WriterDep, guard: IfMatchDep, response: Response
) -> dict[str, Any]:
    current = await load(state, principal, workflow_id)
    problems: dict[str, str] = {}
    for end in ("source_node", "target_node"):
        if current.node(getattr(body, end)) is None:
            problems[end] = f"no node {getattr(body, end)!r} in this workflow"
    if body.id is not None and any(e.id == body.id for e in current.edges):
        problems["id"] = f"workflow already has an edge {body.id}"
    if not problems and body.source_node == body.target_node:
        problems["target_node"] = "an edge cannot join a node to itself"
    if not problems and any(
        e.source_node == body.source_node and e.target_node == body.target_node
        and (e.label or "") == (body.label or "") and (e.condition or "") == (body.condition or "")
        and (e.condition_id or "") == (body.condition_id or "")
        for e in current.edges
    ):
        problems["target_node"] = f"an edge {body.source_node} -> {body.target_node} with this label and condition already exists"
    if len(current.edges) >= MAX_EDGES:
        problems["edges"] = f"a workflow has at most {MAX_EDGES} edges"
    if problems:
        raise InvalidInput("invalid edge", fields=problems)
    stamp = now()
    edge = new_edge(body, stamp)
    saved = await commit(state, principal, current, _next(current, stamp, edges=(*current.edges, edge)))
    tag(response, saved.version)
    return {**edge_view(saved, edge), "workflow_version": saved.version}


@router.delete("/{workflow_id}/edges/{edge_id}", status_code=204)
async def delete_edge(workflow_id: str, edge_id: str, state: StateDep, principal: WriterDep, guard: IfMatchDep) -> Response:
    current = await load(state, principal, workflow_id)
    if not any(e.id == edge_id for e in current.edges):
        raise NotFound(f"workflow {workflow_id} has no edge {edge_id}")
    await commit(state, principal, current, _next(current, now(), edges=tuple(e for e in current.edges if e.id != edge_id)))
    return Response(status_code=204)


# -- the whole graph --------------------------------------------------------------------------
@router.get("/{workflow_id}/graph", response_model=Graph)
async def get_graph(
    workflow_id: str, state: StateDep, principal: PrincipalDep, response: Response,
    version: int | None = QueryParam(default=None, ge=1, le=MAX_VERSION),
) -> dict[str, Any]:
    w = await _version(state, principal, workflow_id, version)
    tag(response, w.version)
    algorithm, positions = layout(w)
    return {
        "workflow": {"id": w.id, "name": w.name, "status": w.status.value, "version": w.version},
        "nodes": [
            {"id": n.id, "name": n.name, "type": n.node_type.value, "position": positions[n.id].model_dump(),
             "config": n.config, "inputs": [p.model_dump() for p in n.inputs], "outputs": [p.model_dump() for p in n.outputs]}
            for n in w.nodes
        ],
        "edges": [
            {"id": e.id, "source": e.source_node, "target": e.target_node, "condition": e.condition, "label": e.label, "style": e.style}
            for e in w.edges
        ],
        "layout": {
            "direction": "horizontal",
            "spacing": 50,
            "algorithm": algorithm,
            "positions": {k: p.model_dump() for k, p in positions.items()},
        },
        "metadata": {
            "total_nodes": len(w.nodes),
            "total_edges": len(w.edges),
            "execution_paths": execution_paths(w),
            "complexity_score": complexity_score(w),
            "complexity_formula": "E - N + 2P (cyclomatic; P = connected components)",
        },
    }


@router.get("/{workflow_id}/validate", response_model=Validation)
async def validate(
    workflow_id: str, state: StateDep, principal: PrincipalDep, version: int | None = QueryParam(default=None, ge=1, le=MAX_VERSION),
) -> dict[str, Any]:
    w = await _version(state, principal, workflow_id, version)
    report = await validation_report(state, principal, w)
    status = "invalid" if report.issues else ("valid_with_warnings" if report.warnings else "valid")
    return {
        "workflow_id": w.id,
        "version": w.version,
        "validation_status": status,
        "is_valid": report.is_valid,
        "can_execute": report.is_valid,
        "checks": report.checks(),
        "issues": [i.to_json() for i in report.issues],
        "warnings": [{"type": _warning_type(w_.message), **w_.to_json()} for w_ in report.warnings],
    }


def _warning_type(message: str) -> str:
    if "test mode" in message:
        return "integration_test_mode"
    if "integration" in message:
        return "integration_missing"
    return "duplicate_edge"


async def _version(state: StateDep, principal: Principal, workflow_id: str, version: int | None) -> WorkflowSnapshot:
    current = await load(state, principal, workflow_id)
    if version is None or version == current.version:
        return current
    raw = await state.pool.fetchval(
        "SELECT snapshot FROM workflow_versions WHERE workflow_id = $1 AND version = $2 AND workspace_id = $3",
        workflow_id, version, principal.workspace_id,
    )
    if raw is None:
        raise NotFound(f"workflow {workflow_id} has no version {version}")
    return WorkflowSnapshot.model_validate(orjson.loads(raw))


def _next(current: WorkflowSnapshot, stamp: datetime, **update: Any) -> WorkflowSnapshot:
    return current.model_copy(update={**update, "version": current.version + 1, "updated_at": stamp})
