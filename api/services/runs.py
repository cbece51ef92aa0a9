"""Starting executions from the API: every start is an `execution.started` record the executor acts on.

Also what a run's answers say: a dry run's records summed up as the test answer, and how
far a cancelled execution got.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

from api.security import Principal
from api.services.links import pin_actions
from api.state import AppState
from processors.engine.simulate import Simulation
from processors.matching.webhooks import webhook_context
from schemas.envelope import deterministic_id, make_envelope, now
from schemas.outputs import Output
from schemas.records import (
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionConverted,
    ExecutionFailed,
    ExecutionStarted,
    NodeFailed,
    NodeSucceeded,
)
from schemas.topics import EXECUTIONS
from schemas.workflow import WorkflowSnapshot


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def manual_context(
    execution_id: str, input_data: dict[str, Any], extra: dict[str, Any], seed_context: dict[str, Any] | None, at: str,
) -> dict[str, Any]:
    """What a manual run's templates and conditions see.

    Seed 004 sends `input_data` (and `execution_context`); seed 003 sends
    `{"context": {"user": {...}, "event": {"type", "data"}, "conversation": {...}}}`, which
    runs as that user and that event: `{{user.first_name}}` renders, `send_email` finds
    `{{user.email}}`, `add_tag` has a contact, `?user=` lists the run, custom code sees
    `context['user']`. `execution_context`'s user, if any, wins over the seed-003 one.
    """
    given = _mapping(seed_context)
    event = _mapping(given.get("event"))
    user = _mapping(extra.get("user")) or _mapping(given.get("user"))
    conversation = _mapping(extra.get("conversation")) or _mapping(given.get("conversation"))
    event_type = event.get("type") or event.get("event_type")
    return {
        "event": {
            "id": execution_id,
            "type": str(event_type) if event_type else "manual",
            "data": _mapping(event.get("data")) if event else input_data,
            "timestamp": at,
        },
        "user": user,
        "conversation": conversation,
        "input_data": input_data,
        "execution_context": extra,
    }


async def start_run(state: AppState, principal: Principal, started: ExecutionStarted) -> datetime:
    """Write the execution's start; returns its start time (the execution's `started_at`)
    once the projection lists it."""
    envelope = make_envelope(
        started,
        source="api/runs",
        workspace_id=principal.workspace_id,
        subject=started.subject,
        execution_id=started.execution_id,
        correlation_id=started.retry_of or started.execution_id,
        depth=1,
    )
    topic, partition, offset = await state.publish(Output.of(EXECUTIONS, started.execution_id, envelope))
    # Read-your-writes: the execution is listed as soon as we answer.
    await state.wait_projected(topic, partition, offset)
    return envelope.time


async def start_by_webhook(
    state: AppState,
    workflow: WorkflowSnapshot,
    data: dict[str, Any],
    *,
    idempotency: tuple[str, ...],
    idempotency_key: str | None,
    webhook: dict[str, Any],
) -> str:
    """Start `workflow` for an inbound webhook call; returns the execution id once it is listed.

    A caller's Idempotency-Key makes re-sending the same hook start nothing new:
    the execution id is derived from `idempotency` + the key, and the executor
    ignores a second start of an execution it knows.
    """
    key = idempotency_key
    execution_id = deterministic_id("webhook", *idempotency, key[:200]) if key else str(uuid.uuid4())
    received = now()
    context = webhook_context(execution_id, data, received, webhook, workflow)
    principal = Principal(user_id="webhook", workspace_id=workflow.workspace_id, role="webhook", email="webhook")
    workflow = await pin_actions(state, principal, workflow)
    started = ExecutionStarted(execution_id=execution_id, workflow=workflow, trigger_type="webhook", context=context, performed_by="webhook")
    await start_run(state, principal, started)
    return execution_id


def dry_run_answer(
    sim: Simulation, *, execution_id: str, started_at: datetime, elapsed_seconds: float, capture_outputs: bool,
) -> dict[str, Any]:
    """POST /workflows/{id}/test's answer from a dry run's records: today's fields and seed
    004's `test_execution_id` / `test_results`. Counted as the projection counts a real
    execution (every node result until the execution ends), so a dry run and a run agree."""
    steps: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    error: dict[str, Any] | None = None
    end: ExecutionCompleted | ExecutionFailed | ExecutionCancelled | None = None
    counts = {"executed": 0, "success": 0, "failed": 0}
    converted_at: datetime | None = None
    for record in sim.records:
        if isinstance(record, NodeSucceeded | NodeFailed):
            ok = isinstance(record, NodeSucceeded)
            step: dict[str, Any] = {
                "node_id": record.node_id,
                "node_type": record.node_type.value,
                "attempt": record.attempt,
                "iteration": record.iteration,
                "status": "completed" if ok else "failed",
                "input_data": record.input,
                "error": None if isinstance(record, NodeSucceeded) else record.error.model_dump(mode="json"),
            }
            if capture_outputs:
                step["output_data"] = record.output if isinstance(record, NodeSucceeded) else None
            steps.append(step)
            if isinstance(record, NodeSucceeded):
                results[record.node_id] = record.output
            if end is None:  # a failure notification after the end is not a node of the run
                counts["executed"] += 1
                counts["success" if ok else "failed"] += 1
        elif isinstance(record, ExecutionConverted):
            converted_at = converted_at or record.converted_at
        elif isinstance(record, ExecutionCompleted | ExecutionFailed | ExecutionCancelled):
            end = end or record
            if isinstance(record, ExecutionFailed):
                error = {"code": record.error.code, "message": record.error.message, "failed_node": record.failed_node}
    path = list(end.execution_path) if end is not None else list(sim.state["path"]) if sim.state else []
    simulated = (sim.clock - started_at).total_seconds() if sim.clock else 0.0
    test_results: dict[str, Any] = {
        "nodes_executed": counts["executed"],
        "nodes_success": counts["success"],
        "nodes_failed": counts["failed"],
        "execution_path": path,
        "performance": {"duration_seconds": simulated, "execution_time_seconds": elapsed_seconds},
    }
    answer: dict[str, Any] = {
        "test_execution_id": execution_id,
        "success": sim.status == "completed",
        "status": sim.status,
        "dry_run": True,
        "execution_path": path,
        "node_results": steps,
        "test_results": test_results,
        "error": error,
        "simulated_duration_seconds": simulated,
        "execution_time_seconds": elapsed_seconds,
        # Journeys: why an exit rule ended it, and whether (when) the goal was reached.
        "cancel_reason": end.reason if isinstance(end, ExecutionCancelled) else None,
        "converted_at": converted_at,
    }
    if capture_outputs:
        answer["results"] = results
        test_results["outputs"] = end.output if isinstance(end, ExecutionCompleted) else None
    return answer


async def progress(state: AppState, execution_id: str, nodes: Any) -> tuple[int, int]:
    """(nodes completed, nodes remaining) of an execution: its workflow's nodes (the
    execution row's `nodes`) with a completed step, and the others."""
    known = set(_loads(nodes) or {})
    done = {
        r["node_id"] for r in await state.pool.fetch(
            "SELECT DISTINCT node_id FROM execution_steps WHERE execution_id = $1 AND status = 'completed'", execution_id,
        )
    } & known
    return len(done), len(known) - len(done)


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value
