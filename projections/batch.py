"""Applies a consumed batch set-based: folded runs become one multi-row statement per table.

The batch is walked in the order the per-record projection used (partition by
partition, offset order). Consecutive records of the folded types
(`projections.fold.FOLDED`) form a run; any other record with a handler
(definitions, cancellations, retries, data rows, webhooks, ...) first writes
the pending run, then goes through its one-at-a-time handler, so every record
sees the rows exactly as it did when records were applied one by one.
Called inside the batch's transaction (the offsets commit with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncpg import Connection

from projections.fold import FOLDED, Fold, Known, iteration_of, json_text
from projections.readmodels import apply_at, handles
from projections.steps import expand_all
from schemas.envelope import Envelope, RecordData
from schemas.records import ExecutionStarted, NodeFailed, NodeSucceeded

Item = tuple[Envelope, RecordData, int]


async def apply_batch(conn: Connection, items: Sequence[Item]) -> None:
    """`items` as consumed: (envelope, data, offset). Each is applied as the records it stands
    for (an ExecutionSteps as its steps), at its position (projections/steps.py)."""
    run: list[Item] = []
    for item in expand_all(items):
        data = item[1]
        if type(data) in FOLDED:
            run.append(item)
        elif handles(data):
            await write_run(conn, run)
            run = []
            await apply_at(conn, *item)
    await write_run(conn, run)


async def write_run(conn: Connection, run: Sequence[Item]) -> None:
    """`run`: expanded items, (envelope, data, position)."""
    if not run:
        return
    ids = Fold.execution_ids(list(run))
    known: dict[str, Known | None] = dict.fromkeys(ids)
    if ids:
        for r in await conn.fetch(
            "SELECT id, workspace_id, workflow_id, status, started_at FROM executions WHERE id = ANY($1::text[])",
            list(ids),
        ):
            known[r["id"]] = Known(r["workspace_id"], r["workflow_id"], r["status"], r["started_at"])
    results = [d for _, d, _ in run if type(d) is NodeSucceeded or type(d) is NodeFailed]
    final: set[tuple[str, str, int, int]] = set()
    if results:
        for r in await conn.fetch(
            "SELECT s.execution_id, s.node_id, s.attempt, s.iteration FROM execution_steps s"
            " JOIN unnest($1::text[], $2::text[], $3::int4[], $4::int4[]) AS u(execution_id, node_id, attempt, iteration)"
            " ON s.execution_id = u.execution_id AND s.node_id = u.node_id AND s.attempt = u.attempt"
            " AND s.iteration = u.iteration WHERE s.status IN ('completed', 'failed')",
            [d.execution_id for d in results], [d.node_id for d in results],
            [d.attempt for d in results], [iteration_of(d) for d in results],
        ):
            final.add((r["execution_id"], r["node_id"], r["attempt"], r["iteration"]))
    starts = {(d.workflow.id, env.workspaceid) for env, d, _ in run if type(d) is ExecutionStarted}
    deleted: dict[tuple[str, str], int] = {}
    if starts:
        workflow_ids, workspaces = zip(*starts, strict=True)
        for r in await conn.fetch(
            "SELECT d.workflow_id, d.workspace_id, d.version FROM deleted_workflows d"
            " JOIN unnest($1::text[], $2::text[]) AS u(workflow_id, workspace_id)"
            " ON d.workflow_id = u.workflow_id AND d.workspace_id = u.workspace_id",
            list(workflow_ids), list(workspaces),
        ):
            deleted[(r["workflow_id"], r["workspace_id"])] = r["version"]
    fold = Fold(known, deleted=deleted, final_steps=final)
    for env, data, offset in run:
        fold.add(env, data, offset)
    await write_fold(conn, fold)


# -- one statement per table --------------------------------------------------
def _columns(spec: str) -> list[tuple[str, str]]:
    """"name type, ..." -> [(name, type)]; `jsonb` columns travel as text and are cast in SQL."""
    return [(part.split()[0], part.split()[1]) for part in spec.split(",")]


def _insert(table: str, spec: str, conflict: str) -> tuple[str, list[tuple[str, str]]]:
    columns = _columns(spec)
    params = ", ".join(f"${i}::{'text' if t in ('jsonb', 'json') else t}[]" for i, (_, t) in enumerate(columns, 1))
    selects = ", ".join(f"u.{n}::{t}" if t in ("jsonb", "json") else f"u.{n}" for n, t in columns)
    names = ", ".join(n for n, _ in columns)
    sql = f"INSERT INTO {table} ({names}) SELECT {selects} FROM unnest({params}) AS u({names}) {conflict}"
    return sql, columns


async def _run(conn: Connection, statement: tuple[str, list[tuple[str, str]]], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    sql, columns = statement
    await conn.execute(sql, *[[row[name] for row in rows] for name, _ in columns])


_EXECUTION_INSERT = _insert(
    "executions",
    "id text, workspace_id text, workflow_id text, workflow_version int4, workflow_name text, status text,"
    " trigger_type text, event_id text, subject text, performed_by text, nodes jsonb, input_data jsonb,"
    " started_at timestamptz, context jsonb, retry_of text, resume_from text, output_data jsonb,"
    " error_message text, failed_node text, execution_path jsonb, completed_at timestamptz,"
    " duration_ms float8, nodes_executed int4, nodes_success int4, nodes_failed int4",
    # The fold only creates rows it saw absent; a conflict here would be a concurrent writer.
    "",
)
_EXECUTION_UPDATE = (
    "UPDATE executions e SET nodes_executed = e.nodes_executed + u.executed,"
    " nodes_success = e.nodes_success + u.succeeded, nodes_failed = e.nodes_failed + u.failed,"
    " status = CASE WHEN u.ended THEN u.status ELSE e.status END,"
    " output_data = CASE WHEN u.ended THEN u.output_data::jsonb ELSE e.output_data END,"
    " error_message = CASE WHEN u.ended THEN u.error_message ELSE e.error_message END,"
    " failed_node = CASE WHEN u.ended THEN u.failed_node ELSE e.failed_node END,"
    " execution_path = CASE WHEN u.ended THEN u.execution_path::jsonb ELSE e.execution_path END,"
    " completed_at = CASE WHEN u.ended THEN u.completed_at ELSE e.completed_at END,"
    " duration_ms = CASE WHEN u.ended THEN u.duration_ms ELSE e.duration_ms END"
    " FROM unnest($1::text[], $2::int4[], $3::int4[], $4::int4[], $5::bool[], $6::text[], $7::text[],"
    " $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::float8[])"
    " AS u(id, executed, succeeded, failed, ended, status, output_data, error_message, failed_node,"
    " execution_path, completed_at, duration_ms)"
    " WHERE e.id = u.id"
)
_STEP_COLUMNS = (
    "execution_id text, node_id text, attempt int4, iteration int4, workspace_id text, node_type text,"
    " status text, input_data jsonb, output_data jsonb, error jsonb, seq int8, scheduled_at timestamptz,"
    " started_at timestamptz, completed_at timestamptz, duration_ms float8"
)
_STEP_INSERT = _insert("execution_steps", _STEP_COLUMNS, "ON CONFLICT DO NOTHING")
_STEP_UPSERT = _insert(
    "execution_steps", _STEP_COLUMNS,
    "ON CONFLICT (execution_id, node_id, attempt, iteration) DO UPDATE SET status = EXCLUDED.status,"
    " output_data = EXCLUDED.output_data, error = EXCLUDED.error, started_at = EXCLUDED.started_at,"
    " completed_at = EXCLUDED.completed_at, duration_ms = EXCLUDED.duration_ms",
)
_EVENT_LOGS = _insert(
    "event_logs",
    "id text, workspace_id text, event_type text, user_id text, conversation_id text, data jsonb,"
    " matched_workflows int4, evaluations jsonb, received_at timestamptz",
    "ON CONFLICT DO NOTHING",
)
_CONTACTS = (
    "INSERT INTO contacts AS c (workspace_id, id, email, first_name, last_name, tags, conversation_status,"
    " profile, events_count, last_event_type, last_event_at)"
    " SELECT u.workspace_id, u.id, u.email, u.first_name, u.last_name,"
    " ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), u.conversation_status, u.profile::jsonb,"
    " u.events_count, u.last_event_type, u.last_event_at"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
    " $8::text[], $9::int8[], $10::text[], $11::timestamptz[])"
    " AS u(workspace_id, id, email, first_name, last_name, tags, conversation_status, profile, events_count,"
    " last_event_type, last_event_at)"
    " ON CONFLICT (workspace_id, id) DO UPDATE SET email = EXCLUDED.email,"
    " first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, tags = EXCLUDED.tags,"
    " conversation_status = EXCLUDED.conversation_status, profile = EXCLUDED.profile,"
    " events_count = c.events_count + EXCLUDED.events_count, last_event_type = EXCLUDED.last_event_type,"
    " last_event_at = EXCLUDED.last_event_at"
)
_WORKFLOW_STATS = _insert(
    "workflow_stats AS s",
    "workflow_id text, workspace_id text, started int8, executions_total int8, successes int8, failures int8,"
    " total_duration_ms numeric, fastest_ms float8, slowest_ms float8, last_status text,"
    " last_execution_at timestamptz",
    "ON CONFLICT (workflow_id) DO UPDATE SET started = s.started + EXCLUDED.started,"
    " executions_total = s.executions_total + EXCLUDED.executions_total,"
    " successes = s.successes + EXCLUDED.successes, failures = s.failures + EXCLUDED.failures,"
    " total_duration_ms = s.total_duration_ms + EXCLUDED.total_duration_ms,"
    " fastest_ms = LEAST(s.fastest_ms, EXCLUDED.fastest_ms), slowest_ms = GREATEST(s.slowest_ms, EXCLUDED.slowest_ms),"
    " last_status = CASE WHEN EXCLUDED.last_execution_at IS NOT NULL AND (s.last_execution_at IS NULL"
    "   OR s.last_execution_at <= EXCLUDED.last_execution_at) THEN EXCLUDED.last_status ELSE s.last_status END,"
    " last_execution_at = GREATEST(s.last_execution_at, EXCLUDED.last_execution_at)",
)
_HOURLY = _insert(
    "execution_hourly_stats AS s",
    "workflow_id text, hour timestamptz, workspace_id text, started int8, completed int8, failed int8,"
    " duration_ms numeric",
    "ON CONFLICT (workflow_id, hour) DO UPDATE SET started = s.started + EXCLUDED.started,"
    " completed = s.completed + EXCLUDED.completed, failed = s.failed + EXCLUDED.failed,"
    " duration_ms = s.duration_ms + EXCLUDED.duration_ms",
)
_NODE_STATS = _insert(
    "node_stats AS n",
    "workflow_id text, node_id text, workspace_id text, node_type text, executions int8, successes int8,"
    " failures int8, duration_ms numeric, fastest_ms float8, slowest_ms float8, last_executed_at timestamptz",
    "ON CONFLICT (workflow_id, node_id) DO UPDATE SET executions = n.executions + EXCLUDED.executions,"
    " successes = n.successes + EXCLUDED.successes, failures = n.failures + EXCLUDED.failures,"
    " duration_ms = n.duration_ms + EXCLUDED.duration_ms, node_type = EXCLUDED.node_type,"
    " fastest_ms = LEAST(n.fastest_ms, EXCLUDED.fastest_ms), slowest_ms = GREATEST(n.slowest_ms, EXCLUDED.slowest_ms),"
    " last_executed_at = GREATEST(n.last_executed_at, EXCLUDED.last_executed_at)",
)
# Few rows per batch (one per connector type, status and workflow): a pipelined executemany.
_CONNECTORS = (
    "INSERT INTO connector_metrics AS m (workspace_id, connector_type, status, workflow_id, count, duration_sum, buckets)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, connector_type, status, workflow_id)"
    " DO UPDATE SET count = m.count + EXCLUDED.count, duration_sum = m.duration_sum + EXCLUDED.duration_sum,"
    " buckets = (SELECT array_agg(a + b ORDER BY i) FROM unnest(m.buckets, EXCLUDED.buckets) WITH ORDINALITY AS u(a, b, i))"
)
_INTEGRATIONS = (
    "UPDATE integrations SET calls_total = calls_total + $2, calls_failed = calls_failed + $3,"
    " last_used_at = GREATEST(last_used_at, $4), last_error = CASE WHEN $3 > 0 THEN $5 ELSE last_error END"
    " WHERE id = $1"
)


async def write_fold(conn: Connection, fold: Fold) -> None:
    created: list[dict[str, Any]] = []
    updated: list[tuple[Any, ...]] = []
    for execution_id, change in fold.executions.items():
        end = change.end or {}
        if change.created is not None:
            created.append({
                **change.created, "status": change.known.status, "output_data": end.get("output_data"),
                "error_message": end.get("error_message"), "failed_node": end.get("failed_node"),
                "execution_path": end.get("execution_path", "[]"), "completed_at": end.get("completed_at"),
                "duration_ms": end.get("duration_ms"), "nodes_executed": change.executed,
                "nodes_success": change.succeeded, "nodes_failed": change.failed,
            })
        elif change.executed or change.end is not None:
            updated.append((
                execution_id, change.executed, change.succeeded, change.failed, change.end is not None,
                end.get("status"), end.get("output_data"), end.get("error_message"), end.get("failed_node"),
                end.get("execution_path"), end.get("completed_at"), end.get("duration_ms"),
            ))
    await _run(conn, _EXECUTION_INSERT, created)
    if updated:
        await conn.execute(_EXECUTION_UPDATE, *[list(column) for column in zip(*updated, strict=True)])

    steps: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for (execution_id, node_id, attempt, iteration), step in fold.steps.items():
        steps[step.upsert].append({
            "execution_id": execution_id, "node_id": node_id, "attempt": attempt, "iteration": iteration, **step.values,
        })
    await _run(conn, _STEP_INSERT, steps[False])
    await _run(conn, _STEP_UPSERT, steps[True])

    await _run(conn, _EVENT_LOGS, list(fold.event_logs.values()))
    contacts = [
        {**c.values, "tags": json_text(c.values["tags"]), "events_count": c.events} for c in fold.contacts.values()
    ]
    if contacts:
        names = ("workspace_id", "id", "email", "first_name", "last_name", "tags", "conversation_status", "profile",
                 "events_count", "last_event_type", "last_event_at")
        await conn.execute(_CONTACTS, *[[c[n] for c in contacts] for n in names])

    await _run(conn, _WORKFLOW_STATS, [
        {"workflow_id": workflow_id, **vars(delta)} for workflow_id, delta in fold.workflow_stats.items()
    ])
    await _run(conn, _HOURLY, [
        {"workflow_id": workflow_id, "hour": hour, **vars(delta)} for (workflow_id, hour), delta in fold.hourly.items()
    ])
    await _run(conn, _NODE_STATS, [
        {"workflow_id": workflow_id, "node_id": node_id, **vars(delta)}
        for (workflow_id, node_id), delta in fold.node_stats.items()
    ])
    if fold.connectors:
        await conn.executemany(_CONNECTORS, [
            (*key, delta.count, delta.duration_sum, delta.buckets) for key, delta in fold.connectors.items()
        ])
    if fold.integrations:
        await conn.executemany(_INTEGRATIONS, [
            (integration_id, d.calls, d.failed, d.last_used_at, d.last_error)
            for integration_id, d in fold.integrations.items()
        ])
