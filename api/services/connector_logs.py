"""Seed 001's view of connector runs (`/automation/execution/{id}/status`,
`/automation/workflow/{id}/logs`), read from the execution projection.

A log is one run of a node: its last attempt, with the fields of seed 001's
`execution_logs` table (`retry_count`, `max_retries`, `start_time`, `end_time`,
`duration_ms`, `error_details`, `output_data`, `connector_type`). Seed 001 keeps one row per
run and counts its retries in it, so a run retried once is one log with `retry_count` 1, not
a failed log and a succeeded one; every attempt stays in `/executions/{id}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from api.pagination import Paging
from api.services.executions import execution_detail
from api.state import AppState
from processors.connectors.checks import ACTION_TYPES
from processors.engine.policies import retry_policy
from schemas.workflow import Node, NodeType, WorkflowSettings

# Seed 001 names four connectors; ours come in families of action types (checks.ACTION_TYPES).
SEED_CONNECTOR_TYPES = {"email": "email", "whatsapp": "whatsapp", "sheets": "google_sheets", "code": "custom_code"}
_FAMILY = {action_type: family for family, types in ACTION_TYPES.items() for action_type in types}


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def connector_type(action_type: str) -> str:
    """Seed 001's name of the connector an action type runs (`send_email` -> `email`); an action
    type seed 001 does not name (`webhook`, `send_message`) is its own name."""
    return SEED_CONNECTOR_TYPES.get(_FAMILY.get(action_type, ""), action_type)


def max_retries(config: Mapping[str, Any], settings: Mapping[str, Any] | None) -> int:
    """The retries the engine allows this node (its own `retry`/`max_retries`, else its
    workflow's settings): the same rule, `policies.retry_policy`, not a copy of it."""
    node = Node(id="connector", node_type=NodeType.ACTION, config=dict(config))
    return retry_policy(node, WorkflowSettings.model_validate(settings or {})).max_retries


def log_fields(step: Mapping[str, Any], settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Seed 001's fields of one step (a row of execution_steps, or a step of the detail)."""
    config = _loads(step["input_data"]) or {}
    action_type = str(config.get("action_type") or step["node_type"])
    started, completed = step["started_at"], step["completed_at"]
    return {
        "connector_type": connector_type(action_type),
        "action_type": action_type,
        "retry_count": step["attempt"] - 1,
        "max_retries": max_retries(config, settings),
        "start_time": started,
        "end_time": completed,
        "error_details": _loads(step["error"]),
        "output_data": _loads(step["output_data"]),
    }


# The settings of the version each execution ran (workflow_versions keeps every version;
# a seed 001 run's one-node workflow is in none, and its node carries its own max_retries).
_SETTINGS = (
    "LEFT JOIN workflow_versions v ON v.workflow_id = e.workflow_id AND v.version = e.workflow_version"
    " AND v.workspace_id = e.workspace_id"
)


async def workflow_logs(
    state: AppState, workspace_id: str, workflow_key: str, workflow_id: str, paging: Paging
) -> tuple[int, list[dict[str, Any]]] | None:
    """(count, one page of logs, newest first) of the runs counted under `workflow_key`; None
    when nothing ever ran under it."""
    runs = (
        "SELECT DISTINCT ON (s.execution_id, s.node_id, s.iteration) s.*, e.subject, e.workflow_id AS run_workflow"
        " FROM execution_steps s JOIN executions e ON e.id = s.execution_id"
        " WHERE e.workflow_id = $1 AND e.workspace_id = $2 AND s.node_type <> 'trigger'"
        " ORDER BY s.execution_id, s.node_id, s.iteration, s.attempt DESC"
    )
    count = await state.pool.fetchval(f"SELECT count(*) FROM ({runs}) AS runs", workflow_key, workspace_id)
    if not count and not await state.pool.fetchval(
        "SELECT 1 FROM executions WHERE workflow_id = $1 AND workspace_id = $2 LIMIT 1", workflow_key, workspace_id
    ):
        return None
    rows = await state.pool.fetch(
        f"SELECT r.*, v.snapshot->'settings' AS settings FROM ({runs}) AS r"
        " JOIN executions e ON e.id = r.execution_id " + _SETTINGS +
        " ORDER BY r.seq DESC, r.execution_id LIMIT $3 OFFSET $4",
        workflow_key, workspace_id, paging.page_size, paging.offset,
    )
    logs = [
        {
            "execution_id": r["execution_id"],
            "workflow_id": workflow_id,
            "lead_id": r["subject"],
            "node_id": r["node_id"],
            "status": "succeeded" if r["status"] == "completed" else r["status"],
            "attempt": r["attempt"],
            "started_at": r["started_at"],
            "completed_at": r["completed_at"],
            "duration_ms": r["duration_ms"],
            "error": _loads(r["error"]),
            **log_fields(r, _loads(r["settings"])),
        }
        for r in rows
    ]
    return count, logs


async def connector_status(state: AppState, workspace_id: str, execution_id: str) -> dict[str, Any]:
    """Seed 001's status of one run: the execution, and its connector step's log fields."""
    detail = await execution_detail(state, workspace_id, execution_id)
    steps = [s for s in detail["execution_details"] if s["node_type"] != "trigger"]
    last = steps[-1] if steps else None
    settings = await state.pool.fetchval(
        "SELECT snapshot->'settings' FROM workflow_versions WHERE workflow_id = $1 AND version = $2 AND workspace_id = $3",
        detail["workflow"]["id"], detail["workflow"]["version"], workspace_id,
    )
    seconds = detail["duration_seconds"]
    fields: dict[str, Any] = {
        "connector_type": None, "action_type": None, "retry_count": 0, "max_retries": 0,
        "error_details": None, "output_data": None,
    }
    if last is not None:
        fields = {k: v for k, v in log_fields(last, _loads(settings)).items() if k not in ("start_time", "end_time")}
    return {
        "execution_id": execution_id,
        "executionId": execution_id,
        "status": detail["status"],
        "started_at": detail["started_at"],
        "completed_at": detail["completed_at"],
        # Seed 001's names for the run as a whole.
        "start_time": detail["started_at"],
        "end_time": detail["completed_at"],
        "duration_ms": None if seconds is None else round(seconds * 1000, 3),  # timestamps are to the microsecond
        "result": last["output_data"] if last else None,
        "error": last["error"] if last else None,
        "attempts": len(steps),
        **fields,
    }
