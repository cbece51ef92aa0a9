"""Running workflows from the API: manual execute, dry-run test, cancel, retry-from-node.

Every write here is a record on the executions topic; the executor acts on
it like on any other. Only the dry run stays in memory: it drives the same
state machine on a virtual clock with connectors that do nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import ORJSONResponse

from api.audit import note_audit
from api.deps import StateDep, WriterDep
from api.query import takes_any_query
from api.security import Principal
from api.services.links import pin_actions, run_link
from api.services.runs import dry_run_answer, manual_context, progress, start_by_webhook, start_run
from api.services.workflows import check_runnable, load
from api.state import AppState
from processors.engine.simulate import simulate
from processors.matching.condition_refs import inline_conditions
from processors.matching.linking import trigger_context
from schemas.answers.runs import CancelAnswer, RetryQueued, RunQueued, RunStarted, WorkflowTest
from schemas.api import CancelExecution, ExecuteWorkflow, TestWorkflow
from schemas.envelope import make_envelope, now
from schemas.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, Unauthenticated
from schemas.outputs import Output
from schemas.records import EventIngested, ExecutionCancelRequested, ExecutionStarted
from schemas.topics import EXECUTIONS
from schemas.workflow import TriggerType, WorkflowSnapshot, WorkflowStatus

workflows_router = APIRouter(prefix="/workflows", tags=["workflows"])
# No JWT here: the token in the workflow's webhook URL is the credential.
public_router = APIRouter(prefix="/workflows", tags=["webhooks"])
executions_router = APIRouter(prefix="/executions", tags=["executions"])
# A cancel answers 200 once the execution stopped, 202 while it is still stopping.
CANCEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": CancelAnswer, "description": "Still cancelling: the executor stops it at its next step boundary"},
}


@workflows_router.post("/{workflow_id}/execute", status_code=202, response_model=RunStarted)
async def execute_workflow(
    workflow_id: str, state: StateDep, principal: WriterDep, body: Annotated[ExecuteWorkflow | None, Body()] = None
) -> ORJSONResponse:
    body = body or ExecuteWorkflow()
    stored = await load(state, principal, workflow_id)
    if stored.status == WorkflowStatus.ARCHIVED:
        raise Conflict("an archived workflow cannot run; reset it first")
    # What GET /validate checks (the stored definition), then what runs (its actions pinned).
    await check_runnable(state, principal, stored)
    link = await run_link(state, principal, stored, body.trigger_id)
    workflow = await pin_actions(state, principal, stored)
    input_data = body.input_data if body.input_data is not None else (body.context or {})
    extra = body.execution_context or {}
    execution_id = str(uuid.uuid4())
    context = manual_context(execution_id, input_data, extra, body.context, now().isoformat())
    user: dict[str, Any] = context["user"]
    kind = "api_call" if workflow.trigger_type == TriggerType.API_CALL else "manual"
    if link is not None:
        context["trigger"] = trigger_context(link)
        kind = link.trigger.trigger_type
    started = ExecutionStarted(
        execution_id=execution_id,
        workflow=workflow,
        trigger_type=kind,
        subject=str(user.get("id")) if user.get("id") else None,
        context=context,
        performed_by=principal.email,
    )
    started_at = await start_run(state, principal, started)
    # start_run returns once the execution is listed: it is running from then on.
    return ORJSONResponse(
        {"execution_id": execution_id, "status": "running", "workflow_id": workflow_id, "workflow_version": workflow.version,
         "started_at": started_at.isoformat(), "input_data": input_data},
        status_code=202,
    )


@public_router.post("/{workflow_id}/trigger", status_code=202, response_model=RunQueued)
@takes_any_query  # besides the token, its query parameters are passed to the run as webhook.query
async def trigger_by_webhook(workflow_id: str, request: Request, state: StateDep, token: str | None = Query(default=None, max_length=200)) -> ORJSONResponse:
    raw = await state.pool.fetchval("SELECT snapshot FROM workflows WHERE id = $1", workflow_id)
    workflow = WorkflowSnapshot.model_validate(orjson.loads(raw)) if raw is not None else None
    if workflow is None or workflow.trigger_type != TriggerType.WEBHOOK:
        raise NotFound(f"no webhook-triggered workflow {workflow_id}")
    note_audit(request, workspace_id=workflow.workspace_id)
    given = token or request.headers.get("x-fluxo-token") or ""
    expected = str(workflow.trigger_config.get("webhook_token") or "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated("missing or wrong webhook token")
    if workflow.status != WorkflowStatus.ACTIVE:
        raise Conflict(f"workflow {workflow_id} is {workflow.status.value}, not active")
    body = await request.body()
    if len(body) > state.settings.max_event_bytes:
        raise PayloadTooLarge(f"body over {state.settings.max_event_bytes} bytes", fields={"body": "too large"})
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not valid JSON", fields={"body": "must be a JSON object"}) from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", fields={"body": "must be a JSON object"})
    execution_id = await start_by_webhook(
        state, workflow, data, idempotency=(workflow_id,), idempotency_key=request.headers.get("idempotency-key"),
        webhook={"query": {k: v for k, v in request.query_params.items() if k != "token"}, "content_type": request.headers.get("content-type")},
    )
    return ORJSONResponse({"execution_id": execution_id, "status": "queued", "workflow_id": workflow_id}, status_code=202)


# A dry run with test events but no contact of its own: the contact they are of.
DRY_RUN_CONTACT = "dry-run-contact"


@workflows_router.post("/{workflow_id}/test", response_model=WorkflowTest, response_model_exclude_unset=True)
async def test_workflow(
    workflow_id: str, state: StateDep, principal: WriterDep, body: Annotated[TestWorkflow | None, Body()] = None
) -> dict[str, Any]:
    body = body or TestWorkflow()
    stored = await load(state, principal, workflow_id)
    report = await check_runnable(state, principal, stored)
    workflow = await pin_actions(state, principal, stored)
    passed = {c["check"]: c["status"] != "failed" for c in report.checks()}
    validation = {
        # seed 004's names; check_runnable refused any failed check, so what is left are warnings
        "all_nodes_connected": passed.get("nodes_connected", True),
        "no_circular_dependencies": passed.get("no_circular_dependencies", True),
        "all_required_inputs_provided": passed.get("required_inputs", True),
        "is_valid": report.is_valid,
        "issues": [],
        "warnings": [w.to_json() for w in report.warnings],
    }
    data = body.test_data
    user = body.user or (data.get("user") if isinstance(data.get("user"), dict) else {}) or {}
    execution_id = f"dry-run-{uuid.uuid4()}"
    started_at = now()
    context = {
        "event": {"id": execution_id, "type": body.event_type or workflow.event_type or "test", "data": data, "timestamp": started_at.isoformat()},
        "user": user,
        "conversation": {},
        "input_data": data,
    }
    subject = str(user["id"]) if isinstance(user, dict) and user.get("id") else None
    if subject is None and body.test_events:
        subject = DRY_RUN_CONTACT  # the contact the test events are of, unless they say
    started = ExecutionStarted(
        execution_id=execution_id, workflow=workflow, trigger_type="test", context=context, performed_by=principal.email,
        # Contact actions (add_tag, ...) need the contact, as in a real run.
        subject=subject,
    )
    events = [
        (started_at + timedelta(seconds=e.after_seconds),
         EventIngested(event_type=e.event_type, data=e.data, user_id=e.user_id or subject))
        for e in body.test_events
    ]
    clock = time.perf_counter()
    sim = simulate(started, workspace_id=principal.workspace_id, now=started_at, events=events)
    elapsed = time.perf_counter() - clock
    answer = dry_run_answer(sim, execution_id=execution_id, started_at=started_at, elapsed_seconds=elapsed,
                            capture_outputs=body.capture_outputs)
    return {**answer, "workflow_version": workflow.version, "validation_results": validation}


async def _execution(state: AppState, principal: Principal, execution_id: str) -> Any:
    row = await state.pool.fetchrow(
        "SELECT * FROM executions WHERE id = $1 AND workspace_id = $2", execution_id, principal.workspace_id
    )
    if row is None:
        raise NotFound(f"execution {execution_id} not found")
    return row


@executions_router.post("/{execution_id}/cancel", response_model=CancelAnswer, responses=CANCEL_RESPONSES)
async def cancel_execution(
    execution_id: str, state: StateDep, principal: WriterDep, body: Annotated[CancelExecution | None, Body()] = None
) -> ORJSONResponse:
    body = body or CancelExecution()
    row = await _execution(state, principal, execution_id)
    if row["status"] != "running":
        raise Conflict(f"execution {execution_id} is {row['status']}; only a running execution can be cancelled")
    request = ExecutionCancelRequested(
        execution_id=execution_id, requested_by=principal.email, reason=body.reason or f"cancelled by {principal.email}"
    )
    envelope = make_envelope(request, source="api/runs", workspace_id=principal.workspace_id, subject=row["subject"], execution_id=execution_id, depth=1)
    await state.publish(Output.of(EXECUTIONS, execution_id, envelope))
    # The executor stops the execution at its next step boundary; wait (bounded) to say so.
    deadline = time.monotonic() + state.settings.read_your_writes_timeout_seconds
    status = "cancelling"
    while time.monotonic() < deadline:
        current = await state.pool.fetchval("SELECT status FROM executions WHERE id = $1", execution_id)
        if current != "running":
            status = str(current)
            break
        await asyncio.sleep(0.05)
    code = 200 if status != "cancelling" else 202
    # Read after the wait: the steps are projected before the execution's end.
    ended = await _execution(state, principal, execution_id)
    completed, remaining = await progress(state, execution_id, ended["nodes"])
    cancelled = ended["status"] == "cancelled"
    message = {"cancelled": "execution cancelled", "cancelling": "cancel requested: the executor stops the execution at its next step"}.get(
        status, f"the execution ended {status} before the cancel reached it")
    return ORJSONResponse({
        "message": message, "execution_id": execution_id, "status": status, "reason": request.reason,
        "cancelled_at": ended["completed_at"].isoformat() if cancelled and ended["completed_at"] else None,
        "nodes_completed": completed, "nodes_remaining": remaining,
    }, status_code=code)


@executions_router.post("/{execution_id}/retry", status_code=202, response_model=RetryQueued)
async def retry_execution(execution_id: str, state: StateDep, principal: WriterDep) -> ORJSONResponse:
    row = await _execution(state, principal, execution_id)
    if row["status"] not in ("failed", "cancelled"):
        raise Conflict(f"execution {execution_id} is {row['status']}; only failed or cancelled executions can be retried")
    raw = await state.pool.fetchval(
        "SELECT snapshot FROM workflow_versions WHERE workflow_id = $1 AND version = $2 AND workspace_id = $3",
        row["workflow_id"], row["workflow_version"], principal.workspace_id,
    )
    if raw is None:
        raise Conflict("the workflow this execution ran has been deleted")
    # As it ran: reusable conditions inlined from the version's pins.
    workflow = inline_conditions(WorkflowSnapshot.model_validate(orjson.loads(raw)))
    path = [p for p in _json(row["execution_path"]) or [] if isinstance(p, str)]
    resume_from = row["failed_node"] if row["status"] == "failed" else None
    prior: dict[str, dict[str, Any]] = {}
    if resume_from:
        steps = await state.pool.fetch(
            "SELECT DISTINCT ON (node_id) node_id, output_data FROM execution_steps"
            " WHERE execution_id = $1 AND status = 'completed' AND iteration = -1"
            " ORDER BY node_id, attempt DESC",
            execution_id,
        )
        prior = {s["node_id"]: _json(s["output_data"]) or {} for s in steps}
    prior_path = tuple(p for p in path if p in prior and p != resume_from)
    new_id = str(uuid.uuid4())
    started = ExecutionStarted(
        execution_id=new_id,
        workflow=workflow,
        trigger_type=row["trigger_type"],
        event_id=row["event_id"],
        subject=row["subject"],
        context=_json(row["context"]) or {},
        performed_by=principal.email,
        retry_of=execution_id,
        resume_from=resume_from,
        prior_nodes={k: v for k, v in prior.items() if k in prior_path},
        prior_path=prior_path,
    )
    started_at = await start_run(state, principal, started)
    # start_run returns once the new execution is listed: it is running from then on.
    return ORJSONResponse({
        "message": f"retry started from node {resume_from}" if resume_from else "retry started from the beginning",
        "execution_id": new_id, "retry_of": execution_id, "resume_from": resume_from,
        "new_execution_id": new_id, "original_execution_id": execution_id, "retry_from_node": resume_from,
        "status": "running", "started_at": started_at.isoformat(), "workflow_version": workflow.version,
    }, status_code=202)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


# Seed 003's names for the same two calls.
history_router = APIRouter(prefix="/workflow-executions", tags=["history"])
history_router.add_api_route(
    "/{execution_id}/cancel", cancel_execution, methods=["POST"], response_model=CancelAnswer, responses=CANCEL_RESPONSES,
)
history_router.add_api_route(
    "/{execution_id}/retry", retry_execution, methods=["POST"], status_code=202, response_model=RetryQueued,
)
