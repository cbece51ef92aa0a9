"""The query API over many executions: seeds synthetic (schema-valid) execution records to
the executions topic, lets the live projection apply them, then times the read endpoints.

Seeding stops the matcher, executor, worker and timers first: the executor would
otherwise run the synthetic executions for real.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from infra.bench.harness import Harness
from infra.bench.monitor import ResourceMonitor
from infra.bench.stats import latency_summary, rate
from infra.kafka_io import make_consumer, make_producer, topic_partitions
from projections.runner import PROJECTION
from schemas.envelope import make_envelope, now
from schemas.outputs import Output
from schemas.records import ExecutionCompleted, ExecutionStarted, NodeSucceeded
from schemas.topics import EXECUTIONS
from schemas.workflow import NodeType, WorkflowSnapshot

PROCESSORS = ("matcher", "executor", "worker", "timers")
_NODES = (("check", NodeType.CONDITION), ("call", NodeType.HTTP_REQUEST), ("tag", NodeType.ACTION))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Templates:
    """One envelope of each kind built and validated by the record models; the rest are
    copies with new ids and times (same shape, so just as schema-valid, much cheaper)."""

    def __init__(self, workspace_id: str, workflow: WorkflowSnapshot) -> None:
        stamp, eid = now(), str(uuid.uuid4())
        self.workflow_id = workflow.id
        started = ExecutionStarted(execution_id=eid, workflow=workflow, trigger_type="event", subject="bench-seed",
                                   context={"event": {"type": "BENCH_SIGNUP"}, "input_data": {}})
        nodes = [NodeSucceeded(execution_id=eid, node_id=node, node_type=kind, attempt=1, output={"ok": True},
                               started_at=stamp, completed_at=stamp) for node, kind in _NODES]
        done = ExecutionCompleted(execution_id=eid, workflow_id=workflow.id, workflow_version=workflow.version,
                                  execution_path=("trigger", "check", "call", "tag"), started_at=stamp, completed_at=stamp)
        self.records = [
            Output.of(EXECUTIONS, eid, make_envelope(d, source="bench/seed", workspace_id=workspace_id, execution_id=eid))
            for d in (started, *nodes, done)
        ]
        self.bodies = [orjson.loads(out.value or b"{}") for out in self.records]

    def execution(self, at: datetime, rng: random.Random) -> tuple[str, list[bytes]]:
        eid = str(uuid.uuid4())
        out = []
        t = at
        for i, base in enumerate(self.bodies):
            body = dict(base, id=str(uuid.uuid4()), executionid=eid, correlationid=eid, time=_iso(t))
            data = dict(base["data"], execution_id=eid)
            if "completed_at" in data:
                step = timedelta(milliseconds=rng.uniform(1, 40))
                data["started_at"] = _iso(at if i == len(self.bodies) - 1 else t)
                t = t + step
                data["completed_at"] = _iso(t)
            body["data"] = data
            out.append(orjson.dumps(body))
        return eid, out


async def seed(h: Harness, executions: int, days: int = 30) -> dict[str, Any]:
    conn = await asyncpg.connect(h.settings.dsn)
    try:
        snapshot = await conn.fetchval("SELECT snapshot FROM workflows WHERE id = $1", h.workflow_id)
    finally:
        await conn.close()
    workflow = WorkflowSnapshot.model_validate(orjson.loads(snapshot) if isinstance(snapshot, str) else snapshot)
    templates = Templates(h.workspace_id, workflow)
    rng = random.Random(8)
    topic = h.settings.topic(EXECUTIONS)
    headers = templates.records[0].headers
    producer = make_producer(h.settings)
    await producer.start()
    start = time.perf_counter()
    end = now()
    records = 0
    try:
        pending = []
        for _ in range(executions):
            at = end - timedelta(seconds=rng.uniform(60, days * 86400))
            eid, values = templates.execution(at, rng)

            key = eid.encode()
            for value in values:
                pending.append(await producer.send(topic, value=value, key=key, headers=headers))
                records += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    produced = time.perf_counter() - start
    return {"executions": executions, "records": records, "produce_seconds": produced}


async def wait_projected(h: Harness, timeout: float) -> float:
    """Until the projection's stored offsets reach the end of the executions topic. Returns seconds."""
    consumer = make_consumer(h.settings)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, h.settings, (EXECUTIONS,))
        ends = {(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()
    conn = await asyncpg.connect(h.settings.dsn)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            rows = await conn.fetch(
                "SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = $1", PROJECTION
            )
            got = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
            if all(got.get(k, 0) >= v for k, v in ends.items()):
                return time.perf_counter() - start
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    raise TimeoutError(f"the projection did not catch up within {timeout:.0f} s")


KAFKA_SEED_WHEN_CLONING = 5000
_SHIFT = "make_interval(secs => (g * 7919) % 2592000)"  # spread over 30 days, deterministic
_OVERRIDES = {
    "executions": {"id": "e.id || ':clone' || g", "event_id": "NULL",
                   "started_at": f"e.started_at - {_SHIFT}", "completed_at": f"e.completed_at - {_SHIFT}"},
    "execution_steps": {"execution_id": "e.execution_id || ':clone' || g", "scheduled_at": f"e.scheduled_at - {_SHIFT}",
                        "started_at": f"e.started_at - {_SHIFT}", "completed_at": f"e.completed_at - {_SHIFT}"},
}

# The rows cloned from: the bench workflow's completed executions (never clones of clones).
_ORIGINALS = "x.workflow_id = $1 AND x.status = 'completed' AND x.id NOT LIKE '%:clone%'"
_ORIGIN = {
    "executions": ("executions e JOIN executions x ON x.id = e.id", _ORIGINALS),
    "execution_steps": ("execution_steps e JOIN executions x ON x.id = e.execution_id", _ORIGINALS),
}


async def clone(h: Harness, total: int) -> dict[str, Any]:
    """Grow the executions read model to `total` rows by copying the projected ones inside
    PostgreSQL (INSERT ... SELECT, new ids, start times spread over 30 days).

    The clones are not in the Kafka log and the statistics counters do not count them:
    they exist for the list and detail queries only, and a replay drops them.
    """
    conn = await asyncpg.connect(h.settings.dsn)
    start = time.perf_counter()
    try:
        have = int(await conn.fetchval("SELECT count(*) FROM executions"))
        base = int(await conn.fetchval(f"SELECT count(*) FROM executions x WHERE {_ORIGINALS}", h.workflow_id))
        copies = max(0, -(-(total - have) // base)) if base else 0
        made = 0
        for table in ("executions", "execution_steps"):
            columns = [r["column_name"] for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                " AND table_name = $1 ORDER BY ordinal_position", table,
            )]
            exprs = ", ".join(_OVERRIDES[table].get(c, f"e.{c}") for c in columns)
            cols = ", ".join(columns)
            origin, where = _ORIGIN[table]
            step = max(1, 200000 // max(base, 1))  # about 200k rows per statement
            for first in range(1, copies + 1, step):
                last = min(copies, first + step - 1)
                result = await conn.execute(
                    f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM {origin},"
                    f" generate_series($2::int, $3::int) g WHERE {where}",
                    h.workflow_id, first, last,
                )
                if table == "executions":
                    made += int(result.split()[-1])
        await conn.execute("ANALYZE executions")
        await conn.execute("ANALYZE execution_steps")
    finally:
        await conn.close()
    return {"cloned_executions": made, "clone_seconds": time.perf_counter() - start}


async def _time(h: Harness, paths: list[str]) -> dict[str, Any]:
    assert h.session is not None
    latencies: list[float] = []
    bad = 0
    for path in paths:
        sent = time.perf_counter()
        async with h.session.get(path) as r:
            await r.read()
            if r.status != 200:
                bad += 1
        latencies.append((time.perf_counter() - sent) * 1000)
    return {"requests": len(paths), "non_200": bad, "latency_ms": latency_summary(latencies)}


async def run_query(
    h: Harness, *, executions: int, requests: int, timeout: float, seed_mode: str = "kafka"
) -> dict[str, Any]:
    for name in PROCESSORS:
        h.stop_component(name)
    monitor = ResourceMonitor(h.pids())
    monitor.start()
    try:
        via_kafka = min(executions, KAFKA_SEED_WHEN_CLONING) if seed_mode == "clone" else executions
        seeded = await seed(h, via_kafka)
        # The projection applies while we produce; time from seeding start to caught up.
        catch_up = await wait_projected(h, timeout)
        projection_seconds = seeded["produce_seconds"] + catch_up
        cloned = await clone(h, executions) if seed_mode == "clone" else {}
        conn = await asyncpg.connect(h.settings.dsn)
        try:
            in_db = await conn.fetchval("SELECT count(*) FROM executions")
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM executions ORDER BY random() LIMIT $1", requests)]
        finally:
            await conn.close()
        rng = random.Random(4)
        wf = h.workflow_id
        pages = max(1, min(executions // 20, 100000))
        endpoints = {
            "GET /executions": ["/api/v1/executions"] * requests,
            "GET /executions?workflow&status&page": [
                f"/api/v1/executions?workflow={wf}&status=completed&page={rng.randint(1, min(pages, 50))}"
                for _ in range(requests)
            ],
            "GET /executions/{id}": [f"/api/v1/executions/{rng.choice(ids)}" for _ in range(requests)],
            "GET /workflows/{id}/statistics": [f"/api/v1/workflows/{wf}/statistics"] * requests,
        }
        results = {name: await _time(h, paths) for name, paths in endpoints.items()}
    finally:
        resources = await monitor.stop()
    seeding = (
        f"{via_kafka:,} synthetic executions (records: started, 3 node succeeded, completed) produced to the "
        "executions topic and applied by the live projection"
    )
    if cloned:
        seeding += (
            f"; {cloned['cloned_executions']:,} more cloned inside PostgreSQL (INSERT ... SELECT: not in the "
            "log, not in the statistics counters, dropped by replay)"
        )
    return {
        "seeded_executions": via_kafka,
        "seeded_records": seeded["records"],
        **cloned,
        "seeding": seeding,
        "executions_in_read_model": in_db,
        "live_projection_records_per_second": rate(seeded["records"], projection_seconds),
        "endpoints": results,
        "resources": resources,
    }
