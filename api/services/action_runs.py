"""`POST /actions/{id}/test` with `live: true`: the action really runs, once.

A live test is an ordinary execution of a one-node workflow (trigger -> the action), like
seed 001's connector endpoints (api/routers/automation.py): the node worker runs it
through the same connector code as any workflow's node, against the workspace's
integration, and the run is listed with the others (workflow id: a label of this action,
`live_test_workflow_id`). It runs once: no retries, and the action's own `delay` is not
waited. The answer waits (bounded by LIVE_WAIT_SECONDS) for the node's result.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Final

import orjson

from api.security import Principal
from api.services.runs import start_run
from api.state import AppState
from processors.matching.linking import TRIGGER_NODE_ID, action_node
from schemas.envelope import deterministic_id, now
from schemas.records import ActionDefined, ExecutionStarted
from schemas.workflow import Edge, Node, NodeType, TriggerType, WorkflowSnapshot, WorkflowStatus

# A live test answers once its action ran; a slower one (a long wait) answers `running`
# with the execution id to follow.
LIVE_WAIT_SECONDS: Final = 30.0
_POLL_SECONDS: Final = 0.05


def live_test_workflow_id(workspace_id: str, action_id: str) -> str:
    """The workflow id live tests of an action are listed under (no workflow has it)."""
    return deterministic_id("action-live-test", workspace_id, action_id)


def live_workflow(action: ActionDefined, workspace_id: str) -> WorkflowSnapshot:
    node = action_node(action, action.order)
    config = {k: v for k, v in node.config.items() if k not in ("delay", "retry")}
    config["max_retries"] = 0  # once: a failed call is the answer, not retried
    stamp = now()
    return WorkflowSnapshot(
        id=live_test_workflow_id(workspace_id, action.id), workspace_id=workspace_id, version=action.version,
        name=f"live test of {action.name}", status=WorkflowStatus.ACTIVE, trigger_type=TriggerType.MANUAL,
        nodes=(Node(id=TRIGGER_NODE_ID, node_type=NodeType.TRIGGER), node.model_copy(update={"config": config})),
        edges=(Edge(id=f"{TRIGGER_NODE_ID}->{node.id}", source_node=TRIGGER_NODE_ID, target_node=node.id),),
        created_at=stamp, updated_at=stamp,
    )


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def run_live(state: AppState, principal: Principal, action: ActionDefined, context: dict[str, Any]) -> dict[str, Any]:
    """Start the live run, wait (bounded) for it, and answer like the dry run does."""
    workflow = live_workflow(action, principal.workspace_id)
    node_id = workflow.nodes[1].id
    raw_user = context.get("user")
    user: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
    execution_id = str(uuid.uuid4())
    started = ExecutionStarted(
        execution_id=execution_id, workflow=workflow, trigger_type="manual",
        subject=str(user["id"]) if user.get("id") else None,
        context={**context, "trigger": {"type": "action_test", "action_id": action.id}},
        performed_by=principal.email,
    )
    await start_run(state, principal, started)
    deadline = time.monotonic() + LIVE_WAIT_SECONDS
    status = "running"
    while time.monotonic() < deadline:
        status = str(await state.pool.fetchval("SELECT status FROM executions WHERE id = $1", execution_id) or "running")
        if status != "running":
            break
        await asyncio.sleep(_POLL_SECONDS)
    step = await state.pool.fetchrow(
        "SELECT status, input_data, output_data, error FROM execution_steps WHERE execution_id = $1 AND node_id = $2"
        " ORDER BY attempt DESC LIMIT 1",
        execution_id, node_id,
    )
    error = _loads(step["error"]) if step is not None else None
    if error is None and status not in ("completed", "running"):
        # The execution ended before the node's own result (cancelled, timed out).
        message = await state.pool.fetchval("SELECT error_message FROM executions WHERE id = $1", execution_id)
        error = {"code": f"EXECUTION_{status.upper()}", "message": message or f"the execution ended {status}"}
    ok = status == "completed" and step is not None and step["status"] == "completed"
    rendered = _loads(step["input_data"]) if step is not None else None
    return {
        "action_id": action.id,
        "action_type": action.action_type,
        "dry_run": False,
        "execution_id": execution_id,
        "success": ok,
        "status": status,
        "rendered_configuration": {k: v for k, v in rendered.items() if k != "context"} if isinstance(rendered, dict) else None,
        "output": _loads(step["output_data"]) if ok and step is not None else None,
        "error": error if not ok else None,
        "events": [],
        "simulated_delay_seconds": 0.0,
    }
