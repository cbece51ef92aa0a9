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
from infra.kafka_io import Output, make_consumer, make_producer, topic_partitions
from projections.runner import PROJECTION
from schemas.envelope import make_envelope, now
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
    ids: list[str] = []
    start = time.perf_counter()
    end = now()
    records = 0
    try:
        pending = []
        for _ in range(executions):
            at = end - timedelta(seconds=rng.uniform(60, days * 86400))
            eid, values = templates.execution(at, rng)
            if len(ids) < 10000:
                ids.append(eid)
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
    return {"executions": executions, "records": records, "produce_seconds": produced, "sample_ids": ids}


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


async def run_query(h: Harness, *, executions: int, requests: int, timeout: float) -> dict[str, Any]:
    for name in PROCESSORS:
        h.stop_component(name)
    monitor = ResourceMonitor(h.pids())
    monitor.start()
    try:
        seeded = await seed(h, executions)
        # The projection applies while we produce; time from seeding start to caught up.
        catch_up = await wait_projected(h, timeout)
        projection_seconds = seeded["produce_seconds"] + catch_up
        conn = await asyncpg.connect(h.settings.dsn)
        try:
            in_db = await conn.fetchval("SELECT count(*) FROM executions")
        finally:
            await conn.close()
        rng = random.Random(4)
        ids = seeded["sample_ids"]
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
    return {
        "seeded_executions": executions,
        "seeded_records": seeded["records"],
        "seeding": "synthetic execution records (started, 3 node succeeded, completed) produced to the "
        "executions topic and applied by the live projection",
        "executions_in_read_model": in_db,
        "live_projection_records_per_second": rate(seeded["records"], projection_seconds),
        "endpoints": results,
        "resources": resources,
    }
