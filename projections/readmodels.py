"""How each record type changes the read models. Called inside the batch transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from asyncpg import Connection

from projections.audit import api_call_audited
from projections.fold import METRIC_BUCKETS
from projections.people import api_key_defined, invitation_defined, user_defined
from projections.steps import expand
from projections.webhooks import webhook_called, webhook_defined
from schemas.envelope import Envelope, RecordData
from schemas.records import (
    ActionDefined,
    ApiCallAudited,
    ApiKeyDefined,
    ConditionDefined,
    DataRecordCreated,
    ExecutionCancelled,
    ExecutionCancelRequested,
    ExecutionCompleted,
    ExecutionConverted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionSteps,
    FailureNotified,
    IntegrationDefined,
    InvitationDefined,
    NodeFailed,
    NodeRetryScheduled,
    NodeScheduled,
    NodeSucceeded,
    StartDecided,
    TriggerDefined,
    TriggerEvaluated,
    UserDefined,
    WebhookCalled,
    WebhookDefined,
    WorkflowDefined,
    WorkspaceDefined,
)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _hour(moment: datetime) -> datetime:
    """The UTC hour an execution is counted in (computed here: SQL's date_trunc follows the session zone)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _exact(milliseconds: float) -> Decimal:
    # Exact sums: the same whatever order a replay applies records in.
    return Decimal(repr(milliseconds))


async def _count_hour(
    conn: Connection, workflow_id: str, workspace_id: str, started_at: datetime, column: str, duration_ms: float = 0.0
) -> None:
    assert column in ("started", "completed", "failed", "cancelled", "converted")
    await conn.execute(
        f"INSERT INTO execution_hourly_stats AS s (workflow_id, hour, workspace_id, {column}, duration_ms)"
        f" VALUES ($1, $2, $3, 1, $4) ON CONFLICT (workflow_id, hour) DO UPDATE SET"
        f" {column} = s.{column} + 1, duration_ms = s.duration_ms + EXCLUDED.duration_ms"
        # Counters are per workspace: a colliding workflow id of another workspace is left alone.
        f" WHERE s.workspace_id = EXCLUDED.workspace_id",
        workflow_id, _hour(started_at), workspace_id, _exact(duration_ms),
    )


def handles(data: RecordData) -> bool:
    """Whether any read model changes for this record (the others only advance the offsets)."""
    return type(data) in _HANDLERS or type(data) is ExecutionSteps


async def apply(conn: Connection, envelope: Envelope, data: RecordData, offset: int) -> None:
    """One consumed record (an ExecutionSteps as its steps, one by one) at its offset."""
    for env, d, seq in expand(envelope, data, offset):
        await apply_at(conn, env, d, seq)


async def apply_at(conn: Connection, envelope: Envelope, data: RecordData, seq: int) -> None:
    """One record, expanded (projections/steps.py), at its position in the execution's steps."""
    handler = _HANDLERS.get(type(data))
    if handler is not None:
        await handler(conn, envelope, data, seq)


async def _workspace(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "INSERT INTO workspaces (id, name, plan, created_at, allowed_hosts, created_by) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, plan = EXCLUDED.plan,"
        " allowed_hosts = EXCLUDED.allowed_hosts, created_by = COALESCE(workspaces.created_by, EXCLUDED.created_by)",
        d.id, d.name, d.plan, d.created_at, list(d.allowed_hosts), d.created_by,
    )


async def _workflow(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    w = d.workflow
    if w.deleted:
        await _workflow_deleted(conn, w.id, w.workspace_id, w.version, w.updated_at)
        return
    snapshot = _json(w.model_dump(mode="json"))
    await conn.execute(
        "INSERT INTO workflows (id, workspace_id, version, name, description, status, trigger_type,"
        " project, snapshot, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10, $11)"
        " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,"
        " description = EXCLUDED.description, status = EXCLUDED.status,"
        " trigger_type = EXCLUDED.trigger_type, project = EXCLUDED.project,"
        " snapshot = EXCLUDED.snapshot, updated_at = EXCLUDED.updated_at"
        " WHERE workflows.version <= EXCLUDED.version AND workflows.workspace_id = EXCLUDED.workspace_id",
        w.id, w.workspace_id, w.version, w.name, w.description, w.status.value,
        w.trigger_type.value, w.project, snapshot, w.created_at, w.updated_at,
    )
    await conn.execute(
        "INSERT INTO workflow_versions (workflow_id, version, workspace_id, snapshot)"
        " VALUES ($1, $2, $3, $4::json) ON CONFLICT DO NOTHING",
        w.id, w.version, w.workspace_id, snapshot,
    )


async def _workflow_deleted(conn: Connection, workflow_id: str, workspace_id: str, version: int, at: datetime) -> None:
    """Deleting a workflow removes its views (the Kafka history stays) and is kept as a fact.

    The definitions and executions topics interleave in no fixed order (a replay reads
    them otherwise than the live projection did), so records of this workflow's
    executions may come before or after this one. Both ways they end up nowhere: the
    rows already made go here, and `deleted_workflows` keeps every later start of an
    execution that pinned a version up to the deleted one out (`_started`, and the fold);
    the records after a start find no execution row and change nothing.
    Only this workspace's rows: another workspace's rows under the same id stay.
    """
    await conn.execute(
        "INSERT INTO deleted_workflows AS d (workflow_id, workspace_id, version, deleted_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (workflow_id, workspace_id) DO UPDATE SET version = GREATEST(d.version, EXCLUDED.version),"
        " deleted_at = CASE WHEN EXCLUDED.version > d.version THEN EXCLUDED.deleted_at ELSE d.deleted_at END",
        workflow_id, workspace_id, version, at,
    )
    await conn.execute(
        "DELETE FROM workflows WHERE id = $1 AND workspace_id = $2 AND version <= $3", workflow_id, workspace_id, version
    )
    await conn.execute(
        "DELETE FROM workflow_versions WHERE workflow_id = $1 AND workspace_id = $2 AND version <= $3",
        workflow_id, workspace_id, version,
    )
    # Counters are per workflow id, not per version: they all go (see README, "Replaying the log").
    for table in ("workflow_stats", "execution_hourly_stats", "node_stats", "connector_metrics", "flow_decisions"):
        await conn.execute(f"DELETE FROM {table} WHERE workflow_id = $1 AND workspace_id = $2", workflow_id, workspace_id)
    await conn.execute(
        "DELETE FROM execution_steps WHERE execution_id IN (SELECT id FROM executions"
        " WHERE workflow_id = $1 AND workspace_id = $2 AND workflow_version <= $3)",
        workflow_id, workspace_id, version,
    )
    await conn.execute(
        "DELETE FROM executions WHERE workflow_id = $1 AND workspace_id = $2 AND workflow_version <= $3",
        workflow_id, workspace_id, version,
    )


async def _integration(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    if d.deleted:
        await conn.execute("DELETE FROM integrations WHERE id = $1 AND workspace_id = $2", d.id, d.workspace_id)
        return
    await conn.execute(
        "INSERT INTO integrations (id, workspace_id, version, name, type, provider, description, config,"
        " settings, secret_fields, sealed, is_active, test_mode, created_by, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9::jsonb, $10, $11, $12, $13, $14, $15, $16)"
        " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,"
        " description = EXCLUDED.description, config = EXCLUDED.config, settings = EXCLUDED.settings,"
        " secret_fields = EXCLUDED.secret_fields, sealed = EXCLUDED.sealed, is_active = EXCLUDED.is_active,"
        " test_mode = EXCLUDED.test_mode, updated_at = EXCLUDED.updated_at"
        " WHERE integrations.version <= EXCLUDED.version AND integrations.workspace_id = EXCLUDED.workspace_id",
        d.id, d.workspace_id, d.version, d.name, d.integration_type, d.provider, d.description,
        _json(d.config), _json(d.settings), list(d.secret_fields), d.secrets_sealed, d.is_active,
        d.test_mode, d.created_by, d.created_at, d.updated_at,
    )


async def _trigger_evaluated(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    evaluations = [e.model_dump(mode="json") for e in d.evaluations]
    await conn.execute(
        "INSERT INTO event_logs (id, workspace_id, event_type, user_id, conversation_id, data,"
        " matched_workflows, evaluations, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9) ON CONFLICT DO NOTHING",
        d.event_id, env.workspaceid, d.event_type, d.user_id, d.conversation_id,
        _json(d.event_data), sum(1 for e in d.evaluations if e.matched), _json(evaluations), env.time,
    )
    if d.profile is not None and env.subject and (d.user_id or d.conversation_id):
        p = d.profile
        tags = [t for t in p.get("tags", []) if isinstance(t, str)]
        await conn.execute(
            "INSERT INTO contacts AS c (workspace_id, id, email, first_name, last_name, tags,"
            " conversation_status, profile, events_count, last_event_type, last_event_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 1, $9, $10)"
            " ON CONFLICT (workspace_id, id) DO UPDATE SET email = EXCLUDED.email,"
            " first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, tags = EXCLUDED.tags,"
            " conversation_status = EXCLUDED.conversation_status, profile = EXCLUDED.profile,"
            " events_count = c.events_count + 1, last_event_type = EXCLUDED.last_event_type,"
            " last_event_at = EXCLUDED.last_event_at",
            env.workspaceid, env.subject, _str(p.get("email")), _str(p.get("first_name")), _str(p.get("last_name")),
            tags, _str(p.get("conversation_status")), _json(p), d.event_type, env.time,
        )


async def _started(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    w = d.workflow
    nodes = {n.id: {"name": n.name, "type": n.node_type.value} for n in w.nodes}
    inserted = await conn.fetchval(
        "INSERT INTO executions (id, workspace_id, workflow_id, workflow_version, workflow_name,"
        " status, trigger_type, event_id, subject, performed_by, nodes, input_data, started_at,"
        " context, retry_of, resume_from)"
        " SELECT $1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12,"
        " $13::jsonb, $14, $15"
        # An execution of a deleted workflow (a version up to the deleted one) is stored nowhere.
        " WHERE NOT EXISTS (SELECT 1 FROM deleted_workflows d WHERE d.workflow_id = $3"
        " AND d.workspace_id = $2 AND d.version >= $4)"
        " ON CONFLICT DO NOTHING RETURNING true",
        d.execution_id, env.workspaceid, w.id, w.version, w.name, d.trigger_type, d.event_id,
        d.subject, d.performed_by, _json(nodes), _json(d.context.get("input_data") or {}), env.time,
        _json(d.context), d.retry_of, d.resume_from,
    )
    if inserted:
        await _count_hour(conn, w.id, env.workspaceid, env.time, "started")
        await conn.execute(
            "INSERT INTO workflow_stats AS s (workflow_id, workspace_id, started) VALUES ($1, $2, 1)"
            " ON CONFLICT (workflow_id) DO UPDATE SET started = s.started + 1 WHERE s.workspace_id = EXCLUDED.workspace_id",
            w.id, env.workspaceid,
        )


def _iteration(d: Any) -> int:
    return -1 if d.iteration is None else int(d.iteration)


async def _scheduled(conn: Connection, env: Envelope, d: Any, offset: int) -> None:
    await conn.execute(
        "INSERT INTO execution_steps (execution_id, node_id, attempt, iteration, workspace_id, node_type,"
        " status, input_data, seq, scheduled_at) SELECT $1, $2, $3, $4, $5, $6, 'running', $7::jsonb, $8, $9"
        # No execution row (its workflow was deleted): the step is stored nowhere either.
        " WHERE EXISTS (SELECT 1 FROM executions WHERE id = $1) ON CONFLICT DO NOTHING",
        d.execution_id, d.node_id, d.attempt, _iteration(d), env.workspaceid, d.node_type.value,
        _json(d.input), offset, env.time,
    )


async def _node_done(conn: Connection, env: Envelope, d: Any, offset: int) -> None:
    ok = isinstance(d, NodeSucceeded)
    duration_ms = (d.completed_at - d.started_at).total_seconds() * 1000
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM executions WHERE id = $1)", d.execution_id):
        # An execution of a deleted workflow: no step, no node or connector counter. The
        # integration's own usage counts the call it made, deleted workflow or not.
        await _integration_usage(conn, d, ok, env.workspaceid)
        return
    fresh = await conn.fetchval(
        "INSERT INTO execution_steps (execution_id, node_id, attempt, iteration, workspace_id, node_type,"
        " status, input_data, output_data, error, seq, scheduled_at, started_at, completed_at, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12, $12, $13, $14)"
        " ON CONFLICT (execution_id, node_id, attempt, iteration) DO UPDATE SET status = EXCLUDED.status,"
        " output_data = EXCLUDED.output_data, error = EXCLUDED.error,"
        " started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at,"
        " duration_ms = EXCLUDED.duration_ms"
        # A second result for the same attempt (a node worker that died after writing
        # it runs the order again) changes nothing and counts nothing.
        " WHERE execution_steps.status NOT IN ('completed', 'failed') RETURNING true",
        d.execution_id, d.node_id, d.attempt, _iteration(d), env.workspaceid, d.node_type.value,
        "completed" if ok else "failed", _json(d.input),
        _json(d.output) if ok else None, None if ok else _json(d.error.model_dump(mode="json")),
        offset, d.started_at, d.completed_at, duration_ms,
    )
    if not fresh:
        return
    # Counters only while the execution runs: a late side-channel result (the
    # failure notification) is a step, not a node of the execution.
    await conn.execute(
        "UPDATE executions SET nodes_executed = nodes_executed + 1,"
        " nodes_success = nodes_success + $2, nodes_failed = nodes_failed + $3 WHERE id = $1"
        " AND status = 'running'",
        d.execution_id, 1 if ok else 0, 0 if ok else 1,
    )
    await _integration_usage(conn, d, ok, env.workspaceid)
    await _connector_metrics(conn, env, d, ok)
    await _node_stats(conn, env, d, ok, duration_ms)


async def _node_stats(conn: Connection, env: Envelope, d: Any, ok: bool, duration_ms: float) -> None:
    if d.node_id.startswith("__"):
        return  # side-channel steps (the failure notification) are not nodes of the workflow
    await conn.execute(
        "INSERT INTO node_stats AS n (workflow_id, node_id, workspace_id, node_type, executions, successes,"
        " failures, duration_ms, fastest_ms, slowest_ms, last_executed_at)"
        " SELECT e.workflow_id, $2, $3, $4, 1, $5, $6, $7, $8, $8, $9 FROM executions e WHERE e.id = $1"
        " ON CONFLICT (workflow_id, node_id) DO UPDATE SET executions = n.executions + 1,"
        " successes = n.successes + EXCLUDED.successes, failures = n.failures + EXCLUDED.failures,"
        " duration_ms = n.duration_ms + EXCLUDED.duration_ms, node_type = EXCLUDED.node_type,"
        " fastest_ms = LEAST(n.fastest_ms, EXCLUDED.fastest_ms), slowest_ms = GREATEST(n.slowest_ms, EXCLUDED.slowest_ms),"
        " last_executed_at = GREATEST(n.last_executed_at, EXCLUDED.last_executed_at)"
        " WHERE n.workspace_id = EXCLUDED.workspace_id",
        d.execution_id, d.node_id, env.workspaceid, d.node_type.value, 1 if ok else 0, 0 if ok else 1,
        _exact(duration_ms), duration_ms, d.completed_at,
    )



async def _connector_metrics(conn: Connection, env: Envelope, d: Any, ok: bool) -> None:
    if d.node_type.value not in ("action", "http_request", "database_query") or d.node_id.startswith("__"):
        return  # inline steps (trigger, condition, ...) are not connector calls
    seconds = (d.completed_at - d.started_at).total_seconds()
    connector = str(d.input.get("action_type") or d.node_type.value)
    increments = [1 if seconds <= bound else 0 for bound in METRIC_BUCKETS]
    await conn.execute(
        "INSERT INTO connector_metrics AS m (workspace_id, connector_type, status, workflow_id, count, duration_sum, buckets)"
        " SELECT $1, $2, $3, e.workflow_id, 1, $5, $6 FROM executions e WHERE e.id = $4"
        " ON CONFLICT (workspace_id, connector_type, status, workflow_id) DO UPDATE SET count = m.count + 1,"
        " duration_sum = m.duration_sum + EXCLUDED.duration_sum,"
        " buckets = (SELECT array_agg(a + b ORDER BY i) FROM unnest(m.buckets, EXCLUDED.buckets) WITH ORDINALITY AS u(a, b, i))",
        env.workspaceid, connector, "success" if ok else "failure", d.execution_id, Decimal(repr(seconds)), increments,
    )


async def _integration_usage(conn: Connection, d: Any, ok: bool, workspace_id: str) -> None:
    integration_id = d.output.get("integration_id") if ok else d.error.integration_id
    if not isinstance(integration_id, str):
        return
    await conn.execute(
        "UPDATE integrations SET calls_total = calls_total + 1, calls_failed = calls_failed + $2,"
        " last_used_at = GREATEST(last_used_at, $3), last_error = CASE WHEN $2 = 1 THEN $4 ELSE last_error END"
        " WHERE id = $1 AND workspace_id = $5",
        integration_id, 0 if ok else 1, d.completed_at, None if ok else f"{d.error.code}: {d.error.message}"[:500],
        workspace_id,
    )


async def _retry_scheduled(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "UPDATE execution_steps SET retry_at = $5 WHERE execution_id = $1 AND node_id = $2"
        " AND attempt = $3 AND iteration = $4",
        d.execution_id, d.node_id, d.attempt, _iteration(d), d.retry_at,
    )


async def _cancel_requested(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "UPDATE executions SET cancel_requested_at = COALESCE(cancel_requested_at, $2),"
        " cancel_reason = COALESCE(cancel_reason, $3) WHERE id = $1",
        d.execution_id, env.time, d.reason,
    )


async def _cancelled(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    duration_ms = (d.completed_at - d.started_at).total_seconds() * 1000
    row = await conn.fetchrow(
        "UPDATE executions SET status = 'cancelled', error_message = $2, execution_path = $3::jsonb,"
        " completed_at = $4, duration_ms = $5, cancel_reason = $2"
        " WHERE id = $1 AND status = 'running' RETURNING workspace_id, started_at",
        d.execution_id, d.reason, _json(list(d.execution_path)), d.completed_at, duration_ms,
    )
    if row is not None:
        # A step still open (a wait, a work order not answered) ends with the execution; a
        # worker's result that arrives later still records what really happened to it.
        await conn.execute(
            "UPDATE execution_steps SET status = 'cancelled', completed_at = $2,"
            " duration_ms = EXTRACT(EPOCH FROM ($2 - COALESCE(started_at, scheduled_at, $2))) * 1000"
            " WHERE execution_id = $1 AND status = 'running'",
            d.execution_id, d.completed_at,
        )
        await _count_hour(conn, d.workflow_id, row["workspace_id"], row["started_at"], "cancelled")
        await conn.execute(
            "INSERT INTO workflow_stats AS s (workflow_id, workspace_id, cancellations)"
            " VALUES ($1, $2, 1) ON CONFLICT (workflow_id) DO UPDATE SET cancellations = s.cancellations + 1"
            " WHERE s.workspace_id = EXCLUDED.workspace_id",
            d.workflow_id, row["workspace_id"],
        )


async def _converted(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    """The goal reached: once per execution (the row says so), counted on the day it started."""
    row = await conn.fetchrow(
        "UPDATE executions SET converted_at = $2 WHERE id = $1 AND converted_at IS NULL"
        " RETURNING workspace_id, workflow_id, started_at",
        d.execution_id, d.converted_at,
    )
    if row is None:
        return  # already counted, or an execution stored nowhere (its workflow deleted, pruned)
    await _count_hour(conn, row["workflow_id"], row["workspace_id"], row["started_at"], "converted")
    await conn.execute(
        "INSERT INTO workflow_stats AS s (workflow_id, workspace_id, conversions) VALUES ($1, $2, 1)"
        " ON CONFLICT (workflow_id) DO UPDATE SET conversions = s.conversions + 1 WHERE s.workspace_id = EXCLUDED.workspace_id",
        row["workflow_id"], row["workspace_id"],
    )


async def _start_decided(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    """Flow control's decision on a start, once (keyed by execution and decision); the
    workflow's waiting count goes up when a start is queued and down when it starts."""
    inserted = await conn.fetchval(
        "INSERT INTO flow_decisions (execution_id, decision, workspace_id, workflow_id, event_id, flow_key, reason, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING true",
        d.execution_id, d.decision, env.workspaceid, d.workflow_id, d.event_id, d.flow_key, d.reason, env.time,
    )
    change = 1 if d.decision == "queued" else -1 if d.from_queue else 0
    if inserted and change:
        await conn.execute(
            "INSERT INTO workflow_stats AS s (workflow_id, workspace_id, waiting) VALUES ($1, $2, GREATEST($3, 0))"
            " ON CONFLICT (workflow_id) DO UPDATE SET waiting = GREATEST(s.waiting + $3, 0)"
            " WHERE s.workspace_id = EXCLUDED.workspace_id",
            d.workflow_id, env.workspaceid, change,
        )


async def _record_created(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "INSERT INTO data_records (workspace_id, table_name, id, data, execution_id, node_id, created_at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) ON CONFLICT DO NOTHING",
        env.workspaceid, d.table, d.record_id, _json(d.data), d.execution_id, d.node_id, env.time,
    )


async def _failure_notified(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "UPDATE executions SET failure_notified = $2 WHERE id = $1", d.execution_id, f"{d.channel}:{d.target}"
    )


async def _ended(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    ok = isinstance(d, ExecutionCompleted)
    status = "completed" if ok else "failed"
    duration_ms = (d.completed_at - d.started_at).total_seconds() * 1000
    row = await conn.fetchrow(
        "UPDATE executions SET status = $2, output_data = $3::jsonb, error_message = $4,"
        " failed_node = $5, execution_path = $6::jsonb, completed_at = $7, duration_ms = $8"
        " WHERE id = $1 AND status = 'running' RETURNING workspace_id, started_at",
        d.execution_id, status, _json(d.output) if ok else None,
        None if ok else d.error.message, None if ok else d.failed_node,
        _json(list(d.execution_path)), d.completed_at, duration_ms,
    )
    if row is None:
        return
    success, failure = (1, 0) if ok else (0, 1)
    await conn.execute(
        "INSERT INTO workflow_stats AS s (workflow_id, workspace_id, executions_total, successes,"
        " failures, total_duration_ms, fastest_ms, slowest_ms, last_status, last_execution_at)"
        " VALUES ($1, $2, 1, $3, $4, $8, $5, $5, $6, $7)"
        " ON CONFLICT (workflow_id) DO UPDATE SET executions_total = s.executions_total + 1,"
        " successes = s.successes + $3, failures = s.failures + $4,"
        " total_duration_ms = s.total_duration_ms + $8,"
        " fastest_ms = LEAST(s.fastest_ms, $5), slowest_ms = GREATEST(s.slowest_ms, $5),"
        " last_status = CASE WHEN s.last_execution_at IS NULL OR s.last_execution_at <= $7"
        "   THEN $6 ELSE s.last_status END,"
        " last_execution_at = GREATEST(s.last_execution_at, $7)"
        " WHERE s.workspace_id = EXCLUDED.workspace_id",
        d.workflow_id, row["workspace_id"], success, failure, duration_ms, status, d.completed_at,
        _exact(duration_ms),
    )
    await _count_hour(conn, d.workflow_id, row["workspace_id"], row["started_at"], status, duration_ms)


# Seed 003's reusable definitions: the latest snapshot per id, a deletion removes the row.
async def _definition(conn: Connection, table: str, d: Any, columns: dict[str, Any]) -> None:
    if d.deleted:
        await conn.execute(f"DELETE FROM {table} WHERE id = $1 AND workspace_id = $2", d.id, d.workspace_id)
        return
    values = {
        "id": d.id, "workspace_id": d.workspace_id, "version": d.version, "name": d.name,
        "description": d.description, "is_active": d.is_active, **columns,
        "snapshot": _json(d.model_dump(mode="json")), "created_at": d.created_at, "updated_at": d.updated_at,
    }
    names = list(values)
    marks = [f"${i}::json" if n == "snapshot" else f"${i}" for i, n in enumerate(names, 1)]
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n not in ("id", "workspace_id", "created_at"))
    await conn.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(marks)})"
        f" ON CONFLICT (id) DO UPDATE SET {updates} WHERE {table}.version <= EXCLUDED.version"
        f" AND {table}.workspace_id = EXCLUDED.workspace_id",
        *values.values(),
    )


async def _trigger(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await _definition(conn, "triggers", d, {"trigger_type": d.trigger_type})


async def _action(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await _definition(conn, "actions", d, {"action_type": d.action_type, "workflow_id": d.workflow_id, "sort_order": d.order})


async def _condition(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await _definition(conn, "conditions", d, {"use_custom_code": d.use_custom_code})


_HANDLERS: dict[type[RecordData], Any] = {
    WorkspaceDefined: _workspace,
    UserDefined: user_defined,
    ApiKeyDefined: api_key_defined,
    InvitationDefined: invitation_defined,
    WorkflowDefined: _workflow,
    IntegrationDefined: _integration,
    TriggerDefined: _trigger,
    ActionDefined: _action,
    ConditionDefined: _condition,
    TriggerEvaluated: _trigger_evaluated,
    ExecutionStarted: _started,
    NodeScheduled: _scheduled,
    NodeSucceeded: _node_done,
    NodeFailed: _node_done,
    ExecutionCompleted: _ended,
    ExecutionFailed: _ended,
    NodeRetryScheduled: _retry_scheduled,
    ExecutionCancelRequested: _cancel_requested,
    ExecutionCancelled: _cancelled,
    ExecutionConverted: _converted,
    StartDecided: _start_decided,
    FailureNotified: _failure_notified,
    DataRecordCreated: _record_created,
    WebhookDefined: webhook_defined,
    WebhookCalled: webhook_called,
    ApiCallAudited: api_call_audited,
}
