"""Fault injection: SIGKILL the executor while 500 executions are in flight.

Every component runs as its own OS process against the real broker and
database. A workflow `trigger -> a -> b` calls two webhooks per execution (a
sink on loopback that counts calls per Idempotency-Key). 500 events are
written straight to the events topic; once the sink has seen a good part of
the traffic but not all of it, the executor is killed with SIGKILL and started
again. Afterwards all 500 executions complete and each node's side effect
happened exactly once at the receiving end.

Only the executor dies, so every work order must be produced (committed) once
and the worker - which survives - performs each once: a second call with the
same key would mean a step ran twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from conftest import Processes, wait_for
from pipeline import running_pipeline

from infra.settings import Settings
from schemas.topics import EVENTS, EXECUTIONS, EXECUTOR_STATE, NODE_WORK, TopicSpec

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = 500
# Kill once this many first-node calls arrived (and well before the end).
KILL_AFTER_A = 100
KILL_BEFORE_B = 400
# After the restart, this long without a single finished execution or webhook call is a hang.
STALL_SECONDS = 45


class CountingSink:
    """A webhook target that counts deliveries per path and Idempotency-Key.

    Answers 200 JSON after a small random delay, so calls overlap.
    """

    def __init__(self) -> None:
        self.calls: dict[str, Counter[str]] = defaultdict(Counter)
        self.users: dict[str, Counter[str]] = defaultdict(Counter)
        self.missing_key = 0
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.strip("/")
        key = request.headers.get("Idempotency-Key")
        body = await request.json()
        await asyncio.sleep(random.uniform(0, 0.02))
        if key is None:
            self.missing_key += 1
        else:
            self.calls[path][key] += 1
        self.users[path][str(body.get("user_id"))] += 1
        return web.json_response({"ok": True, "path": path})

    def total(self, path: str) -> int:
        return sum(self.calls[path].values())

    def snapshot(self) -> dict[str, int]:
        return {p: self.total(p) for p in ("a", "b")}


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[CountingSink]:
    target = CountingSink()
    app = web.Application()
    app.router.add_post("/a", target.handle)
    app.router.add_post("/b", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target.base_url = f"http://127.0.0.1:{port}"
    yield target
    await runner.cleanup()


@pytest_asyncio.fixture
async def api(settings: Settings, processes: Processes) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """Every component running; an authenticated client and the workspace id."""
    async with running_pipeline(settings, processes) as (client, workspace_id):
        yield client, workspace_id


def two_webhooks(base_url: str) -> dict[str, Any]:
    def webhook(node_id: str) -> dict[str, Any]:
        return {
            "id": node_id,
            "name": f"Webhook {node_id}",
            "node_type": "action",
            "config": {
                "action_type": "webhook",
                "url": f"{base_url}/{node_id}",
                "method": "POST",
                "payload": {"user_id": "{{user.id}}", "node": node_id},
            },
        }

    return {
        "name": "Two side effects per user",
        "trigger_type": "event",
        "trigger_config": {"event_type": "USER_CREATED"},
        "nodes": [
            {"id": "trigger", "name": "User created", "node_type": "trigger"},
            webhook("a"),
            webhook("b"),
        ],
        "edges": [
            {"source_node": "trigger", "target_node": "a"},
            {"source_node": "a", "target_node": "b"},
        ],
    }


def event_record(workspace_id: str, user_id: str) -> tuple[bytes, bytes]:
    """Key and value of one event, in the format the README documents for direct producers."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:fluxo-tests:fault",
        "type": "fluxo.event.ingested.v1",
        "subject": user_id,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "workspaceid": workspace_id,
        "data": {
            "event_type": "USER_CREATED",
            "user_id": user_id,
            "data": {"email": f"{user_id}@example.com"},
        },
    }
    return f"{workspace_id}:{user_id}".encode(), json.dumps(event).encode()


async def publish_events(settings: Settings, workspace_id: str, users: list[str]) -> None:
    """Write the events in quick chunks, so the pipeline is busy across the kill."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        topic = settings.topic(EVENTS)
        chunk = 25
        for start in range(0, len(users), chunk):
            sent = []
            for user_id in users[start : start + chunk]:
                key, value = event_record(workspace_id, user_id)
                sent.append(
                    await producer.send(
                        topic, key=key, value=value,
                        headers=[("content-type", b"application/cloudevents+json")],
                    )
                )
            await asyncio.gather(*sent)
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()


async def read_topic(settings: Settings, spec: TopicSpec) -> list[ConsumerRecord]:
    """Every committed record of one of this module's topics, from the beginning to its end."""
    topic = settings.topic(spec)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        deadline = time.monotonic() + 30
        while remaining and time.monotonic() < deadline:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for records in batches.values():
                found.extend(records)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        assert not remaining, f"could not read {topic} to its end: {remaining}"
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: (r.partition, r.offset))


async def committed_work_orders(settings: Settings, workflow_id: str) -> Counter[str]:
    """Idempotency keys of the work orders committed to the node-work topic for the workflow."""
    keys: Counter[str] = Counter()
    for record in await read_topic(settings, NODE_WORK):
        data = orjson.loads(record.value)["data"]
        if data.get("workflow_id") == workflow_id:
            keys[data["idempotency_key"]] += 1
    return keys


def _describe(record: ConsumerRecord) -> str:
    where = f"p{record.partition}@{record.offset}"
    if record.value is None:
        return f"{where} tombstone"
    value = orjson.loads(record.value)
    if "type" in value:  # a record on the executions topic
        data = value.get("data", {})
        return f"{where} {value['type']} node={data.get('node_id')} attempt={data.get('attempt')}"
    nodes = {k: (v.get("status"), v.get("attempt")) for k, v in (value.get("nodes") or {}).items()}
    return f"{where} executor state {value.get('status')} {nodes}"


async def diagnose(settings: Settings, conn: asyncpg.Connection, workflow_id: str) -> str:
    """Where the unfinished executions stand, for the failure message."""
    lines = []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    probe = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, isolation_level="read_committed")
    await admin.start()
    await probe.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.group("executor"))
        tps = [TopicPartition(settings.topic(EXECUTIONS), p) for p in range(settings.partitions)]
        ends = await probe.end_offsets(tps)
        lines.append(
            "executor group on the executions topic (committed/end): "
            + ", ".join(f"p{tp.partition} {committed[tp].offset if tp in committed else None}/{ends[tp]}" for tp in tps)
        )
    finally:
        await probe.stop()
        await admin.close()
    stuck = await conn.fetchval(
        "SELECT id FROM executions WHERE workflow_id = $1 AND status = 'running' ORDER BY id LIMIT 1", workflow_id
    )
    if stuck:
        for spec in (EXECUTIONS, EXECUTOR_STATE):
            history = [_describe(r) for r in await read_topic(settings, spec) if r.key == stuck.encode()]
            lines.append(f"{spec.name} for unfinished execution {stuck}:\n  " + "\n  ".join(history))
    return "\n".join(lines)


async def test_sigkill_executor_with_500_in_flight(
    api: tuple[httpx.AsyncClient, str], sink: CountingSink, settings: Settings, processes: Processes
) -> None:
    client, workspace_id = api
    created = await client.post("/api/v1/workflows", json=two_webhooks(sink.base_url))
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    activated = await client.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert activated.status_code == 200, activated.text

    users = [f"fault-{uuid.uuid4().hex[:8]}-{i}" for i in range(N)]
    conn = await asyncpg.connect(settings.dsn)
    try:
        async def by_status() -> dict[str, int]:
            rows = await conn.fetch(
                "SELECT status, count(*) AS n FROM executions WHERE workflow_id = $1 GROUP BY status",
                workflow_id,
            )
            return {r["status"]: int(r["n"]) for r in rows}

        started = time.monotonic()
        publisher = asyncio.create_task(publish_events(settings, workspace_id, users))

        # Kill the executor in the middle of the traffic.
        async def mid_flight() -> dict[str, int] | None:
            if publisher.done() and publisher.exception() is not None:
                raise publisher.exception()  # type: ignore[misc]
            counts = sink.snapshot()
            return counts if counts["a"] >= KILL_AFTER_A and counts["b"] < KILL_BEFORE_B else None

        await wait_for(mid_flight, timeout=120, interval=0.005, what=f">= {KILL_AFTER_A} calls on /a")
        processes.kill("executor")  # SIGKILL
        at_kill = sink.snapshot()
        killed_at = time.monotonic() - started
        assert at_kill["b"] < N, f"the executor must die mid-flight, sink had {at_kill}"
        statuses_at_kill = await by_status()

        await asyncio.sleep(1)  # down for a while, not for correctness
        processes.start("executor")
        await publisher

        progress: dict[str, Any] = {"seen": None, "at": time.monotonic()}

        async def all_finished() -> dict[str, int] | None:
            counts = await by_status()
            if counts.get("completed", 0) + counts.get("failed", 0) >= N:
                return counts
            # Fail early, with the diagnosis, once nothing moves any more (a hang, not slowness).
            seen = (counts, sink.snapshot())
            if seen != progress["seen"]:
                progress.update(seen=seen, at=time.monotonic())
            elif time.monotonic() - progress["at"] > STALL_SECONDS:
                raise AssertionError(f"no progress for {STALL_SECONDS}s")
            return None

        try:
            final = await wait_for(all_finished, timeout=180, interval=0.25, what=f"{N} finished executions")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; read model {await by_status()}, sink {sink.snapshot()},"
                f" at kill: sink {at_kill}, read model {statuses_at_kill}\n"
                + await diagnose(settings, conn, workflow_id)
            ) from None
        elapsed = time.monotonic() - started
        print(
            f"\nkilled executor after {killed_at:.1f}s with sink {at_kill} and read model"
            f" {statuses_at_kill}; all {N} finished after {elapsed:.1f}s; final {final}"
        )

        assert final == {"completed": N}, final
        rows = await conn.fetch(
            "SELECT id, subject, execution_path, nodes_failed FROM executions WHERE workflow_id = $1",
            workflow_id,
        )
        assert len(rows) == N
        assert {r["subject"] for r in rows} == set(users)
        assert all(json.loads(r["execution_path"]) == ["trigger", "a", "b"] for r in rows)
        assert all(r["nodes_failed"] == 0 for r in rows)
        execution_ids = {r["id"] for r in rows}
        steps = await conn.fetch(
            "SELECT s.node_id, s.attempt, s.status FROM execution_steps s"
            " JOIN executions x ON x.id = s.execution_id WHERE x.workflow_id = $1 AND s.node_id IN ('a', 'b')",
            workflow_id,
        )
        assert Counter((s["node_id"], s["attempt"], s["status"]) for s in steps) == {
            ("a", 1, "completed"): N,
            ("b", 1, "completed"): N,
        }
    finally:
        await conn.close()

    # Each node's side effect happened once at the receiving end.
    assert sink.missing_key == 0
    for node in ("a", "b"):
        keys = sink.calls[node]
        repeated = {k: c for k, c in keys.items() if c > 1}
        assert not repeated, f"/{node} received {len(repeated)} keys more than once, e.g. {list(repeated.items())[:5]}"
        assert len(keys) == N, f"/{node} received {len(keys)} distinct keys, expected {N}"
        assert set(keys) == {f"{e}:{node}:1" for e in execution_ids}
        assert set(sink.users[node]) == set(users)
        assert max(sink.users[node].values()) == 1

    # And each work order was committed once across the kill (aborted transactions are invisible).
    orders = await committed_work_orders(settings, workflow_id)
    assert {k: c for k, c in orders.items() if c > 1} == {}
    assert set(orders) == {f"{e}:{n}:1" for e in execution_ids for n in ("a", "b")}
