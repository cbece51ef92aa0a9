# ruff: noqa: F811 - pytest fixtures imported by name
"""A deleted workflow stays deleted in a replay, whatever the interleaving of topics.

Deleting a workflow removes its executions and counters from the read models. Its
executions still waiting when it is deleted go on (the executor pinned their
snapshot), so their records arrive after the deletion; a replay reads the
definitions and executions topics in another interleaving than the live
projection did. Either way the read models must be the same function of the log.
This module gets a database of its own, so the comparison sees only its own topics.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from conftest import wait_for
from pipeline import Sink, api, create_active, isolated_settings, read_topic, sink, wait_status  # noqa: F401 - fixtures

from infra.migrations import migrate
from infra.settings import Settings
from projections.batch import Item, apply_batch
from projections.readmodels import apply
from projections.replay import _rows, _tables, replay_check
from projections.runner import PROJECTION
from schemas.codec import decode, decode_record, encode
from schemas.envelope import RecordData, make_envelope, now
from schemas.records import (
    ExecutionCompleted,
    ExecutionStarted,
    IntegrationDefined,
    NodeScheduled,
    NodeSucceeded,
    WorkflowDefined,
    WorkspaceDefined,
)
from schemas.topics import EXECUTIONS
from schemas.workflow import Node, NodeType, WorkflowSnapshot

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}
DELAY_SECONDS = 4


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


async def _execute(api: httpx.AsyncClient, workflow_id: str, n: int) -> str:
    r = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {"n": n}})
    assert r.status_code in (200, 201, 202), r.text
    execution_id: str = r.json()["execution_id"]
    return execution_id


async def _waiting(api: httpx.AsyncClient, execution_id: str) -> bool:
    r = await api.get(f"/api/v1/executions/{execution_id}")
    return r.status_code == 200 and any(
        s["node_id"] == "wait" and s["status"] == "running" for s in r.json()["execution_details"]
    )


async def _completions_in_log(settings: Settings, execution_ids: set[str]) -> dict[int, int] | None:
    """Once every one of these executions has its completion in the log: partition -> the last one's offset."""
    last: dict[int, int] = {}
    seen = set()
    for record in await read_topic(settings, EXECUTIONS, timeout=5):
        _, data = decode_record(record.value, record.headers or ())
        if isinstance(data, ExecutionCompleted) and data.execution_id in execution_ids:
            seen.add(data.execution_id)
            last[record.partition] = max(last.get(record.partition, -1), record.offset)
    return last if execution_ids <= seen else None


async def _projected(settings: Settings, offsets: dict[int, int]) -> bool:
    conn = await asyncpg.connect(settings.dsn)
    try:
        rows = await conn.fetch(
            "SELECT partition, next_offset FROM projection_offsets WHERE projection = $1 AND topic = $2",
            PROJECTION, settings.topic(EXECUTIONS),
        )
    finally:
        await conn.close()
    applied = {r["partition"]: r["next_offset"] for r in rows}
    return all(applied.get(partition, 0) > offset for partition, offset in offsets.items())


async def _rows_of(settings: Settings, workflow_id: str, execution_ids: list[str]) -> dict[str, Any]:
    conn = await asyncpg.connect(settings.dsn)
    try:
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table} WHERE workflow_id = $1", workflow_id)
            for table in ("executions", "workflow_stats", "execution_hourly_stats", "node_stats", "connector_metrics",
                          "workflow_versions")
        }
        counts["execution_steps"] = await conn.fetchval(
            "SELECT count(*) FROM execution_steps WHERE execution_id = ANY($1::text[])", execution_ids
        )
        counts["deleted_workflows"] = await conn.fetchval(
            "SELECT count(*) FROM deleted_workflows WHERE workflow_id = $1", workflow_id
        )
        return counts
    finally:
        await conn.close()


async def test_a_deleted_workflow_with_finished_and_running_executions_replays_to_the_same_read_models(
    api: httpx.AsyncClient, sink: Sink, settings: Settings
) -> None:
    workflow_id = await create_active(api, {
        "name": "deleted while running", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "wait", "name": "Wait", "node_type": "delay", "config": {"delay_seconds": DELAY_SECONDS}},
                  {"id": "call", "name": "call", "node_type": "action",
                   "config": {"action_type": "webhook", "url": sink.url("after-wait"), "method": "POST"}}],
        "edges": [{"source_node": "trigger", "target_node": "wait"}, {"source_node": "wait", "target_node": "call"}],
    })
    # Another workflow that stays: its rows must be untouched by the deletion and replay the same.
    kept = await create_active(api, {
        "name": "kept", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "call", "name": "call", "node_type": "action",
                            "config": {"action_type": "webhook", "url": sink.url("kept"), "method": "POST"}}],
        "edges": [{"source_node": "trigger", "target_node": "call"}],
    })
    finished = [await _execute(api, workflow_id, n) for n in range(2)]
    for execution_id in finished:
        await wait_status(api, execution_id, "completed", timeout=60)
    kept_run = await _execute(api, kept, 0)
    await wait_status(api, kept_run, "completed", timeout=60)
    running = [await _execute(api, workflow_id, n) for n in range(2, 4)]
    for execution_id in running:
        await wait_for(lambda e=execution_id: _waiting(api, e), timeout=30, what=f"{execution_id} waiting")
    before = await _rows_of(settings, workflow_id, finished + running)
    assert before["executions"] == 4 and before["workflow_stats"] == 1 and before["connector_metrics"] == 1

    assert (await api.delete(f"/api/v1/workflows/{workflow_id}")).status_code == 204
    assert (await api.get(f"/api/v1/workflows/{workflow_id}")).status_code == 404
    deleted_at = len(sink.to("after-wait"))
    assert deleted_at == 2  # the running ones had not called yet: their records all come after the deletion

    # The waits fire after the deletion: the executions finish, their records reach the log.
    ends = await wait_for(lambda: _completions_in_log(settings, set(running)), timeout=60, what="the running ones to finish")
    assert len(sink.to("after-wait")) == 4
    await wait_for(lambda: _projected(settings, ends), timeout=60, what="the projection to apply their completions")

    after = await _rows_of(settings, workflow_id, finished + running)
    assert after == {"executions": 0, "workflow_stats": 0, "execution_hourly_stats": 0, "node_stats": 0,
                     "connector_metrics": 0, "workflow_versions": 0, "execution_steps": 0, "deleted_workflows": 1}
    for execution_id in finished + running:
        assert (await api.get(f"/api/v1/executions/{execution_id}")).status_code == 404
    assert (await api.get(f"/api/v1/executions/{kept_run}")).json()["status"] == "completed"

    report = await replay_check(settings)
    assert not report.live_moved
    assert "deleted_workflows" in [t.table for t in report.tables]  # the fact is replayed and compared too
    assert report.same, [t for t in report.tables if not t.same]


# -- the same log in every interleaving, one record at a time and in batches ----------
WS = "ws-deletions"


def _item(data: RecordData, at: datetime, offset: int) -> Item:
    env = make_envelope(data, source="tests", workspace_id=WS, time=at)
    decoded, record = decode(encode(env))  # through the codec, as the projection reads it off Kafka
    return decoded, record, offset


def _logs() -> tuple[list[list[tuple[RecordData, datetime]]], list[tuple[RecordData, datetime]]]:
    """(definitions, each execution's records in order) of one session that deletes a workflow."""
    t0 = now().replace(minute=10) - timedelta(hours=2)
    nodes = (Node(id="call", node_type=NodeType.ACTION, config={"action_type": "webhook"}),)
    doomed, kept = (WorkflowSnapshot(id=f"{name}-{uuid.uuid4().hex[:6]}", workspace_id=WS, version=1, name=name,
                                     nodes=nodes, created_at=t0, updated_at=t0) for name in ("doomed", "kept"))
    integration = f"int-{uuid.uuid4().hex[:6]}"
    setup: list[tuple[RecordData, datetime]] = [
        (WorkspaceDefined(id=WS, name="deletions", created_at=t0), t0),
        (IntegrationDefined(id=integration, workspace_id=WS, version=1, name="hook", integration_type="webhook",
                            provider="generic", created_at=t0, updated_at=t0), t0),
        (WorkflowDefined(workflow=doomed), t0), (WorkflowDefined(workflow=kept), t0),
    ]
    executions = []
    for n, w in enumerate((doomed, doomed, doomed, kept)):
        eid, begin = f"ex-{n}-{uuid.uuid4().hex[:6]}", t0 + timedelta(minutes=n)
        end = begin + timedelta(seconds=30)
        executions.append([
            (ExecutionStarted(execution_id=eid, workflow=w, trigger_type="manual"), begin),
            (NodeScheduled(execution_id=eid, node_id="call", node_type=NodeType.ACTION, attempt=1), begin),
            (NodeSucceeded(execution_id=eid, node_id="call", node_type=NodeType.ACTION, attempt=1,
                           input={"action_type": "webhook"}, output={"integration_id": integration},
                           started_at=begin, completed_at=end), end),
            (ExecutionCompleted(execution_id=eid, workflow_id=w.id, workflow_version=1, started_at=begin,
                                completed_at=end), end),
        ])
    deletion = (WorkflowDefined(workflow=doomed.model_copy(update={"version": 2, "deleted": True,
                                                                   "updated_at": t0 + timedelta(minutes=2)})),
                t0 + timedelta(minutes=2))
    return [setup, *executions], [deletion]


def _interleaving(streams: list[list[tuple[RecordData, datetime]]], deletion_at: int) -> list[Item]:
    """Round-robin over the executions (each in its own order), the deletion after `deletion_at` of their records.

    A record keeps its offset whatever the interleaving (offsets are per partition): here,
    its stream's number times 100 plus its place in the stream.
    """
    numbered = [[(data, at, 100 * s + i) for i, (data, at) in enumerate(stream)] for s, stream in enumerate(streams)]
    setup, *executions, deletion = numbered
    merged: list[tuple[RecordData, datetime, int]] = list(setup)
    cursor = [0] * len(executions)
    taken = 0
    while any(c < len(e) for c, e in zip(cursor, executions, strict=True)):
        for i, e in enumerate(executions):
            if cursor[i] < len(e):
                if taken == deletion_at:
                    merged.extend(deletion)
                merged.append(e[cursor[i]])
                cursor[i] += 1
                taken += 1
    if taken <= deletion_at:
        merged.extend(deletion)
    return [_item(data, at, offset) for data, at, offset in merged]


async def _scratch(settings: Settings, name: str) -> asyncpg.Connection:
    admin = await asyncpg.connect(settings.dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await admin.close()
    await migrate(settings.dsn, schema=name)
    return await asyncpg.connect(settings.dsn, server_settings={"search_path": name})


async def _project(settings: Settings, items: list[Item], batched: bool) -> dict[str, set[str]]:
    name = f"del_{uuid.uuid4().hex[:8]}"
    conn = await _scratch(settings, name)
    try:
        if batched:
            async with conn.transaction():
                await apply_batch(conn, items)
        else:
            for env, data, offset in items:
                async with conn.transaction():
                    await apply(conn, env, data, offset)
        return {table: await _rows(conn, name, table) for table in await _tables(conn, name)}
    finally:
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        await conn.close()


async def test_a_deletion_anywhere_among_the_executions_records_leaves_the_same_rows(settings: Settings) -> None:
    setup_and_executions, deletion = _logs()
    streams = [*setup_and_executions, deletion]
    total = sum(len(e) for e in setup_and_executions[1:])
    # The deletion first (a replay that read the definitions topic ahead), last (behind), and between.
    results = {
        (at, batched): await _project(settings, _interleaving(streams, at), batched)
        for at in (0, 2, 5, 9, 13, total) for batched in (False, True)
    }
    reference = results[(total, False)]
    assert {len(reference[t]) for t in ("executions", "execution_steps", "workflow_stats", "node_stats",
                                        "connector_metrics", "execution_hourly_stats")} == {1}  # the kept workflow's
    assert len(reference["deleted_workflows"]) == 1
    [integration] = reference["integrations"]
    assert '"calls_total":4' in integration  # the calls were made: the integration counts all four, deleted or not
    for key, tables in results.items():
        for table, rows in reference.items():
            assert tables[table] == rows, (key, table, sorted(rows - tables[table])[:2], sorted(tables[table] - rows)[:2])
