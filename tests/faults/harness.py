"""Shared machinery of the fault suite: load, receiving sinks, the ledger and the result table.

Every case follows the same pattern: write a load of events (each for its own
subject, so "one execution per event" can be checked per subject), do
something nasty to the system in the middle, then wait until every accepted
event has a finished execution and compare the books:

- accepted: events acknowledged (Kafka acks=all, or a 2xx from the API);
- completed: executions in a final state in the read model;
- duplicated: subjects with more than one execution, plus side effects the
  receiving sink applied more than once for the same (subject, node) - under
  different idempotency keys, which an idempotent receiver cannot catch;
- lost: accepted events without an execution, and finished executions whose
  side effect never reached the sink;
- redelivered: the same idempotency key sent again (a receiver drops it). Only
  a node worker dying between its call and its commit may cause one.

Scale comes from the environment so that one set of modules serves both
`make test` (CI, small) and `make faults` (full):
FLUXO_FAULTS_EXECUTIONS (default 100), FLUXO_FAULTS_OUTAGE_SECONDS (default 5),
FLUXO_FAULTS_SOAK_SECONDS (soak skipped unless set), FLUXO_FAULTS_SOAK_RATE.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from conftest import Processes
from pipeline import running_pipeline

from infra.settings import Settings
from schemas.topics import EVENTS, TopicSpec

EXECUTIONS_PER_CASE = int(os.environ.get("FLUXO_FAULTS_EXECUTIONS", "100"))
OUTAGE_SECONDS = float(os.environ.get("FLUXO_FAULTS_OUTAGE_SECONDS", "5"))
SOAK_SECONDS = float(os.environ.get("FLUXO_FAULTS_SOAK_SECONDS", "0"))
# docs/benchmarks.md measured ~300 executions/s end to end: the soak runs at half of it.
SOAK_RATE = float(os.environ.get("FLUXO_FAULTS_SOAK_RATE", "150"))
# This long without one more finished execution (or sink call) is a hang, not slowness.
STALL_SECONDS = float(os.environ.get("FLUXO_FAULTS_STALL_SECONDS", "90"))
FINAL = ("completed", "failed", "cancelled")


# -- the result table ---------------------------------------------------------------------
def results_file() -> Path:
    """Where each case appends its row; tests/conftest.py prints them at the end of the run."""
    return Path(os.environ.get("FLUXO_FAULTS_RESULTS", "/tmp/fluxo-faults-results.jsonl"))


@dataclass
class Books:
    case: str
    accepted: int = 0
    completed: int = 0
    duplicated: int = 0
    lost: int = 0
    redelivered: int = 0
    retried: int | None = None
    failed_path: int | None = None
    seconds: float = 0.0
    note: str = ""
    # Lines printed under the table (the soak's samples summary).
    detail: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def record(self) -> None:
        row = {k: v for k, v in self.__dict__.items() if k != "problems"}
        with results_file().open("a") as out:
            out.write(json.dumps(row) + "\n")

    def check(self, *, redelivery_allowed: bool = False) -> None:
        """Record the row, then fail on anything lost or duplicated (with the evidence)."""
        self.record()
        assert self.accepted > 0, "no load was accepted"
        assert self.lost == 0 and self.duplicated == 0, f"{self}\n" + "\n".join(self.problems[:20])
        if not redelivery_allowed:
            assert self.redelivered == 0, f"{self}\n" + "\n".join(self.problems[:20])
        assert self.completed >= self.accepted, f"{self}\n" + "\n".join(self.problems[:20])


# -- the receiving end ----------------------------------------------------------------------
@dataclass
class Delivery:
    path: str
    key: str | None
    subject: str | None
    at: float
    applied: bool


class Sink:
    """An idempotent webhook receiver on loopback that keeps the books per Idempotency-Key.

    mode: "ok" answers 200 (after a small random delay so calls overlap), "fail"
    answers 500, "hang" never answers, "reset" drops the connection (TCP RST).
    """

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.deliveries: list[Delivery] = []
        self.base_url = ""
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._by_key: dict[str, list[Delivery]] = defaultdict(list)

    # books
    def keys(self, path: str) -> Counter[str]:
        return Counter(d.key for d in self.deliveries if d.path == path and d.key is not None)

    def applied(self, path: str) -> dict[str, set[str]]:
        """subject -> idempotency keys whose side effect this receiver applied."""
        found: dict[str, set[str]] = defaultdict(set)
        for d in self.deliveries:
            if d.path == path and d.applied and d.key is not None:
                found[str(d.subject)].add(d.key)
        return found

    def total(self, path: str | None = None) -> int:
        return sum(1 for d in self.deliveries if path is None or d.path == path)

    def _note(self, path: str, key: str | None, subject: str | None) -> bool:
        # Apply once per key, as a receiver honouring Idempotency-Key would.
        fresh = key is not None and not any(d.applied for d in self._by_key.get(key, ()))
        applied = self.mode == "ok" and fresh
        delivery = Delivery(path, key, subject, time.monotonic(), applied)
        self.deliveries.append(delivery)
        if key is not None:
            self._by_key[key].append(delivery)
        return applied

    async def _http(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            subject = str((orjson.loads(raw) or {}).get("user_id"))
        except (orjson.JSONDecodeError, AttributeError):
            subject = None
        self._note(request.path.strip("/"), request.headers.get("Idempotency-Key"), subject)
        if self.mode == "hang":
            await self._release.wait()
            return web.json_response({"late": True})
        if self.mode == "fail":
            return web.json_response({"error": "scripted failure"}, status=500)
        await asyncio.sleep(random.uniform(0, 0.01))  # overlap calls, not a wait for a condition
        return web.json_response({"ok": True})

    async def _reset(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.transport.abort()
            return
        lines = head.decode(errors="replace").split("\r\n")
        path = lines[0].split(" ")[1].strip("/") if " " in lines[0] else ""
        key = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("idempotency-key:")), None)
        self._note(path, key, None)
        writer.transport.abort()  # RST: "connection reset by peer" on the caller's side

    async def start(self) -> None:
        if self.mode == "reset":
            self._server = await asyncio.start_server(self._reset, "127.0.0.1", 0)
            port = self._server.sockets[0].getsockname()[1]
        else:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._http)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._server is not None:
            self._server.close()


@asynccontextmanager
async def sinks(*modes: str) -> AsyncIterator[list[Sink]]:
    started = [Sink(m) for m in modes]
    for s in started:
        await s.start()
    try:
        yield started
    finally:
        for s in started:
            await s.stop()


# -- workflows ------------------------------------------------------------------------------
def webhook(node_id: str, url: str, **config: Any) -> dict[str, Any]:
    return {
        "id": node_id, "name": f"Webhook {node_id}", "node_type": "action",
        "config": {"action_type": "webhook", "url": url, "method": "POST",
                   "payload": {"user_id": "{{user.id}}", "node": node_id}, **config},
    }


def chain(name: str, event_type: str, *nodes: dict[str, Any], edges: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """trigger -> nodes[0] -> nodes[1] ... (unless edges are given)."""
    ids = ["trigger", *(n["id"] for n in nodes)]
    return {
        "name": name, "trigger_type": "event", "trigger_config": {"event_type": event_type},
        "nodes": [{"id": "trigger", "name": "Event", "node_type": "trigger"}, *nodes],
        "edges": edges if edges is not None else [
            {"source_node": a, "target_node": b} for a, b in itertools.pairwise(ids)
        ],
    }


async def create_active(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    created = await client.post("/api/v1/workflows", json=body)
    assert created.status_code == 201, created.text
    workflow_id = str(created.json()["id"])
    activated = await client.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert activated.status_code == 200, activated.text
    return workflow_id


# -- load -----------------------------------------------------------------------------------
def subjects(case: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{case}-{tag}-{i}" for i in range(n)]


def event_value(workspace_id: str, subject: str, event_type: str, event_id: str | None = None) -> tuple[bytes, bytes]:
    """Key and value of one event as a direct producer writes it (README: Writing events straight to Kafka)."""
    event = {
        "specversion": "1.0", "id": event_id or str(uuid.uuid4()), "source": "urn:fluxo-tests:faults",
        "type": "fluxo.event.ingested.v1", "subject": subject, "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json", "workspaceid": workspace_id,
        "data": {"event_type": event_type, "user_id": subject, "data": {"email": f"{subject}@example.com"}},
    }
    return f"{workspace_id}:{subject}".encode(), orjson.dumps(event)


HEADERS = [("content-type", b"application/cloudevents+json")]


def producer_for(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=5,
        request_timeout_ms=10000, retry_backoff_ms=200,
    )


@dataclass
class Load:
    """Events written straight to Kafka; `accepted` holds the subjects the broker acknowledged."""

    settings: Settings
    workspace_id: str
    event_type: str
    subjects: list[str]
    rate: float | None = None  # events per second; None: chunks of 25 with a short pause
    # With contacts, the events cycle over that many subjects (as real traffic does: the
    # matcher keeps state per subject), and `accepted` holds event ids instead of subjects.
    contacts: int | None = None
    accepted: set[str] = field(default_factory=set)
    send_failures: int = 0

    def _records(self) -> dict[str, tuple[bytes, bytes]]:
        if self.contacts is None:
            return {s: event_value(self.workspace_id, s, self.event_type) for s in self.subjects}
        records = {}
        for i, name in enumerate(self.subjects):
            event_id = f"{name}-event"
            subject = f"{self.subjects[0]}-contact-{i % self.contacts}"
            records[event_id] = event_value(self.workspace_id, subject, self.event_type, event_id)
        return records

    async def run(self) -> None:
        records = self._records()
        topic = self.settings.topic(EVENTS)
        pending = list(records)
        producer = producer_for(self.settings)
        await producer.start()
        try:
            started = time.monotonic()
            sent = 0
            while pending:
                chunk, pending = pending[:25], pending[25:]
                futures = []
                for subject in chunk:
                    key, value = records[subject]
                    futures.append(await producer.send(topic, key=key, value=value, headers=HEADERS))
                    sent += 1
                outcomes = await asyncio.gather(*futures, return_exceptions=True)
                for subject, outcome in zip(chunk, outcomes, strict=True):
                    if isinstance(outcome, BaseException):
                        # Not acknowledged: send the same record again (same event id) later.
                        self.send_failures += 1
                        pending.append(subject)
                    else:
                        self.accepted.add(subject)
                if self.rate:
                    ahead = sent / self.rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)  # pacing the load, not waiting for a condition
                else:
                    await asyncio.sleep(0.02)
        finally:
            await producer.stop()


# -- the read model and the books -----------------------------------------------------------
async def by_status(conn: asyncpg.Connection, workflow_ids: Iterable[str]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM executions WHERE workflow_id = ANY($1::text[]) GROUP BY status",
        list(workflow_ids),
    )
    return {r["status"]: int(r["n"]) for r in rows}


async def wait_finished(
    conn: asyncpg.Connection, workflow_ids: list[str], expected: Callable[[], int],
    sink_list: Iterable[Sink] = (), timeout: float = 900, done: Callable[[], bool] = lambda: True,
    progress_probe: Callable[[], Awaitable[Any]] | None = None,
) -> dict[str, int]:
    """Until `expected()` executions are final (and `done()`), failing early when nothing moves."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    moved = time.monotonic()
    watched = list(sink_list)
    while True:
        counts = await by_status(conn, workflow_ids)
        finished = sum(counts.get(s, 0) for s in FINAL)
        if done() and finished >= expected():
            return counts
        probe = await progress_probe() if progress_probe is not None else None
        now_seen = (counts, [s.total() for s in watched], probe)
        if now_seen != seen:
            seen, moved = now_seen, time.monotonic()
        elif time.monotonic() - moved > STALL_SECONDS:
            raise AssertionError(f"no progress for {STALL_SECONDS}s: read model {counts}, expected {expected()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not finished after {timeout}s: read model {counts}, expected {expected()}")
        await asyncio.sleep(0.25)


async def settle(books: Books, conn: asyncpg.Connection, workflow_ids: list[str], accepted: set[str],
                 effects: dict[str, Sink] | None = None, final: str | tuple[str, ...] = "completed",
                 scope: dict[str, set[str]] | None = None, by: str = "subject") -> Books:
    """Fill the books from the read model (per subject, or per event id) and the sinks (per node path).

    `scope` names, per path, the subjects whose executions call it (default: all).
    """
    assert by in ("subject", "event_id")
    rows = await conn.fetch(
        f"SELECT id, {by} AS ident, status FROM executions WHERE workflow_id = ANY($1::text[])", list(workflow_ids)
    )
    per_subject: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        per_subject[str(r["ident"])].append(r["status"])
    finals = (final,) if isinstance(final, str) else final
    books.accepted = len(accepted)
    books.completed = sum(1 for r in rows if r["status"] in FINAL)
    for subject, statuses in per_subject.items():
        if len(statuses) > 1:
            books.duplicated += len(statuses) - 1
            books.problems.append(f"subject {subject}: {len(statuses)} executions {statuses}")
        if subject not in accepted:
            books.problems.append(f"subject {subject} has an execution but was never accepted")
    for subject in sorted(accepted):
        statuses = per_subject.get(subject, [])
        if not statuses:
            books.lost += 1
            books.problems.append(f"subject {subject}: accepted, no execution")
        elif statuses[0] not in finals:
            books.lost += 1
            books.problems.append(f"subject {subject}: execution ended {statuses[0]}, expected {finals}")
    # Every execution of a workflow here takes the same path: a node counted twice in
    # one of them (a result applied twice by the projection) shows as an odd one out.
    counted = await conn.fetch(
        "SELECT workflow_id, nodes_executed, count(*) AS n FROM executions"
        " WHERE workflow_id = ANY($1::text[]) AND status = 'completed' GROUP BY 1, 2", list(workflow_ids),
    )
    lowest: dict[str, int] = {}
    for r in counted:
        lowest[r["workflow_id"]] = min(lowest.get(r["workflow_id"], r["nodes_executed"]), r["nodes_executed"])
    for r in counted:
        if r["nodes_executed"] > lowest[r["workflow_id"]]:
            books.duplicated += int(r["n"])
            books.problems.append(f"{r['n']} executions counted {r['nodes_executed']} nodes, others {lowest[r['workflow_id']]}")
    for path, sink in (effects or {}).items():
        keys = sink.keys(path)
        again = {k: c for k, c in keys.items() if c > 1}
        books.redelivered += sum(c - 1 for c in again.values())
        if again:
            books.problems.append(f"/{path}: {len(again)} keys delivered more than once, e.g. {list(again.items())[:3]}")
        applied = sink.applied(path)
        for subject, applied_keys in applied.items():
            if len(applied_keys) > 1:
                books.duplicated += len(applied_keys) - 1
                books.problems.append(f"/{path} applied {subject} {len(applied_keys)} times: {sorted(applied_keys)}")
        completed = {s for s, st in per_subject.items() if st and st[0] == "completed"}
        if scope is not None and path in scope:
            completed &= scope[path]
        missing = completed - set(applied)
        books.lost += len(missing)
        if missing:
            books.problems.append(f"/{path}: {len(missing)} completed executions never applied, e.g. {sorted(missing)[:3]}")
    return books


# -- topics ---------------------------------------------------------------------------------
async def topic_lag(settings: Settings, group: str, specs: Iterable[TopicSpec]) -> int:
    """Records on these topics the consumer group has not committed yet."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    probe = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, isolation_level="read_committed")
    await admin.start()
    await probe.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [TopicPartition(settings.topic(s), p) for s in specs for p in range(settings.partitions)]
        ends = await probe.end_offsets(tps)
        return sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0)) for tp in tps)
    finally:
        await probe.stop()
        await admin.close()


# -- the running system -----------------------------------------------------------------------
@asynccontextmanager
async def pipeline(settings: Settings, log_dir: Path) -> AsyncIterator[tuple[Processes, httpx.AsyncClient, str]]:
    """Every component as its own OS process (output in log_dir); a logged-in client; the workspace."""
    processes = Processes(settings, log_dir=log_dir)
    try:
        async with running_pipeline(settings, processes) as (client, workspace_id):
            yield processes, client, workspace_id
    finally:
        processes.stop_all()


def tail_logs(processes: Processes, lines: int = 30) -> str:
    """The end of each process log, for a failure message."""
    out = []
    for path in processes.logs:
        text = path.read_text(errors="replace").splitlines()
        interesting = [ln for ln in text if "Error" in ln or "Traceback" in ln or "WARNING" in ln]
        out.append(f"--- {path.name}: " + "\n".join((interesting or text)[-lines:]))
    return "\n".join(out)
