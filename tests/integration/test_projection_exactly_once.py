"""Killing the projection mid-stream and restarting it applies no record twice and loses none."""

from __future__ import annotations

import signal
import uuid
from datetime import timedelta

import asyncpg
import pytest
from conftest import Processes, wait_for

from infra.kafka_io import make_producer, send_output
from infra.settings import Settings
from schemas.envelope import deterministic_id, make_envelope, now
from schemas.outputs import Output
from schemas.records import ExecutionCompleted, ExecutionStarted, NodeSucceeded
from schemas.topics import EXECUTIONS
from schemas.workflow import Node, NodeType, WorkflowSnapshot

N = 3000
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def produce_history(settings: Settings, workflow: WorkflowSnapshot) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        t0 = now()
        for i in range(N):
            execution_id = deterministic_id("kill-test", workflow.id, str(i))
            common = {"source": "tests", "workspace_id": workflow.workspace_id, "execution_id": execution_id}
            records = [
                ExecutionStarted(execution_id=execution_id, workflow=workflow, trigger_type="event"),
                NodeSucceeded(
                    execution_id=execution_id, node_id="n1", node_type=NodeType.ACTION, attempt=1,
                    started_at=t0, completed_at=t0 + timedelta(milliseconds=5),
                ),
                ExecutionCompleted(
                    execution_id=execution_id, workflow_id=workflow.id, workflow_version=1,
                    execution_path=("n1",), started_at=t0, completed_at=t0 + timedelta(milliseconds=10),
                ),
            ]
            for data in records:
                await send_output(producer, settings, Output.of(EXECUTIONS, execution_id, make_envelope(data, **common)))
        await producer.flush()
    finally:
        await producer.stop()


async def test_kill_and_restart_projection(settings: Settings, processes: Processes) -> None:
    stamp = now()
    workflow = WorkflowSnapshot(
        id=str(uuid.uuid4()), workspace_id="ws-kill-test", version=1, name="kill test",
        nodes=(Node(id="n1", node_type=NodeType.ACTION),), created_at=stamp, updated_at=stamp,
    )
    await produce_history(settings, workflow)
    topic = settings.topic(EXECUTIONS)
    conn = await asyncpg.connect(settings.dsn)
    try:
        async def applied() -> int:
            return int(await conn.fetchval(
                "SELECT coalesce(sum(next_offset), 0) FROM projection_offsets WHERE topic = $1", topic
            ))

        # Small batches so there is a "middle" to kill it in.
        processes.start("projection", FLUXO_PROJECTION_BATCH_SIZE="100")
        partial = await wait_for(lambda: _at_least(applied, N // 3), timeout=60, interval=0.01, what="partial progress")
        processes.running["projection"].send_signal(signal.SIGKILL)
        processes.running.pop("projection").wait()
        at_kill = await applied()
        assert partial <= at_kill < 3 * N, "the projection must be killed mid-stream"
        assert await conn.fetchval("SELECT count(*) FROM executions WHERE workflow_id = $1", workflow.id) < N

        processes.start("projection")
        await wait_for(lambda: _at_least(applied, 3 * N), timeout=120, what="projection caught up")

        rows = await conn.fetchrow(
            "SELECT count(*) AS n, sum(nodes_executed) AS nodes,"
            " count(*) FILTER (WHERE status = 'completed') AS done FROM executions WHERE workflow_id = $1",
            workflow.id,
        )
        assert rows["n"] == N  # none lost
        assert rows["done"] == N
        assert rows["nodes"] == N  # no step applied twice (the counter is not idempotent by itself)
        assert await conn.fetchval("SELECT count(*) FROM execution_steps e JOIN executions x ON x.id = e.execution_id WHERE x.workflow_id = $1", workflow.id) == N
        stats = await conn.fetchrow("SELECT executions_total, successes FROM workflow_stats WHERE workflow_id = $1", workflow.id)
        assert stats["executions_total"] == N and stats["successes"] == N
    finally:
        await conn.close()


async def _at_least(fn, target: int) -> int | None:  # type: ignore[no-untyped-def]
    value = await fn()
    return value if value >= target else None
