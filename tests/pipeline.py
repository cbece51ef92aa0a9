"""Fixtures for tests that run the whole pipeline as real processes.

Import the fixtures into a test module (`from pipeline import api, sink`) to use them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from conftest import Processes, shares_pipeline, wait_for, wait_healthy

from api.people import user_key
from api.security import hash_password
from infra.bootstrap import bootstrap_admin
from infra.kafka_io import make_consumer, make_producer, send_output, topic_partitions
from infra.settings import Settings
from infra.supervisor import COMPONENTS
from schemas.envelope import deterministic_id, make_envelope, now
from schemas.outputs import Output
from schemas.records import Membership, Role, UserDefined, WorkspaceDefined
from schemas.topics import ALL_TOPICS, DEFINITIONS, TopicSpec


@dataclass
class Call:
    path: str
    body: Any
    idempotency_key: str | None
    at: float


@dataclass
class Sink:
    """A real HTTP endpoint standing in for webhooks: records calls, can be told to fail."""

    base: str = ""
    calls: list[Call] = field(default_factory=list)
    # path -> HTTP statuses to answer, in order, before answering 200
    script: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == "/" + path.lstrip("/")]

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = await request.json() if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.calls.append(Call(request.path, body, request.headers.get("Idempotency-Key"), time.monotonic()))
        pending = self.script.get(request.path)
        if pending:
            status = pending.pop(0)
            return web.json_response({"error": "scripted failure"}, status=status)
        return web.json_response({"received": True, "n": len(self.calls), "path": request.path})


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[Sink]:
    target = Sink()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target.base = f"http://127.0.0.1:{port}"
    yield target
    await runner.cleanup()


async def isolated_settings(services: Settings) -> Settings:
    """Settings with a database of their own: for tests that compare whole tables (replay checks)."""
    from conftest import free_port

    from infra.migrations import migrate
    from infra.topic_admin import ensure_topics

    name = f"fluxo_own_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(services.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = services.dsn.rsplit("/", 1)[0]
    mine = services.model_copy(update={
        "topic_prefix": f"{services.topic_prefix}{uuid.uuid4().hex[:6]}.", "api_port": free_port(),
        "database_url": f"{base}/{name}",
    })
    await ensure_topics(mine)
    await migrate(mine.dsn)
    return mine


@asynccontextmanager
async def running_pipeline(
    settings: Settings, processes: Processes, **env: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """Every component running (with `env` added to theirs); a client logged in as the
    workspace owner, and the workspace id."""
    workspace_id, _ = await bootstrap_admin(settings)
    for name in COMPONENTS:
        processes.start(name, **env)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30) as client:
        await wait_healthy(client)

        async def logged_in() -> str | None:
            r = await client.post(
                "/api/v1/auth/login", json={"email": settings.admin_email, "password": settings.admin_password}
            )
            return r.json()["access_token"] if r.status_code == 200 else None

        token = await wait_for(logged_in, timeout=30, interval=0.2, what="admin login")
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, workspace_id


async def _publish(settings: Settings, *outputs: Output) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for out in outputs:
            await send_output(producer, settings, out)
        await producer.flush()
    finally:
        await producer.stop()


async def add_workspace(settings: Settings, name: str) -> str:
    """A workspace of its own (WorkspaceDefined, as infra/bootstrap.py writes it); returns its id."""
    workspace_id = deterministic_id("workspace", name, uuid.uuid4().hex)
    record = WorkspaceDefined(id=workspace_id, name=name, created_at=now())
    await _publish(settings, Output.of(
        DEFINITIONS, f"{workspace_id}:workspace:{workspace_id}",
        make_envelope(record, source="tests/pipeline", workspace_id=workspace_id),
    ))
    return workspace_id


# The password `login` tries unless told otherwise.
MEMBER_PASSWORD = "member-password"


async def add_person(
    settings: Settings, *, workspace_id: str, email: str, role: Role, password: str = MEMBER_PASSWORD,
) -> str:
    """A person whose one membership is `role` in `workspace_id`: a UserDefined record, keyed
    and shaped as infra/bootstrap.py writes the owner. Returns the user id once the read model
    holds this very record, so a single login works at once. Writing the same email again
    replaces that person's record, memberships included."""
    email = email.lower()
    user_id = deterministic_id("user", email)
    password_hash = hash_password(password)
    record = UserDefined(
        # Email-derived usernames are unique (the column is), where bootstrap's local part
        # alone would collide between tests sharing a database.
        id=user_id, email=email, username=email.replace("@", "."), password_hash=password_hash,
        memberships=(Membership(workspace_id=workspace_id, role=role),), created_at=now(),
    )
    await _publish(settings, Output.of(
        DEFINITIONS, user_key(workspace_id, user_id),
        make_envelope(record, source="tests/pipeline", workspace_id=workspace_id),
    ))

    conn = await asyncpg.connect(settings.dsn)
    try:

        async def projected() -> bool:
            # The hash is salted: matching it means this record, not an earlier one of the same email.
            row = await conn.fetchrow(
                "SELECT u.password_hash, m.role FROM users u JOIN memberships m ON m.user_id = u.id"
                " WHERE u.id = $1 AND m.workspace_id = $2", user_id, workspace_id,
            )
            return row is not None and row["password_hash"] == password_hash and row["role"] == role

        # Waited on here, not by retrying the login: failed logins count towards a lockout.
        await wait_for(projected, timeout=30, interval=0.1, what=f"{email} projected as {role} of {workspace_id}")
    finally:
        await conn.close()
    return user_id


async def login_tokens(api: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    """The login answer (access and refresh tokens) once the projection knows the user."""

    async def tokens() -> dict[str, Any] | None:
        r = await api.post("/api/v1/auth/login", json={"email": email, "password": password})
        return dict(r.json()) if r.status_code == 200 else None

    answer: dict[str, Any] = await wait_for(tokens, timeout=30, interval=0.1, what=f"login of {email}")
    return answer


def client_with(api: httpx.AsyncClient, access_token: str) -> httpx.AsyncClient:
    """Another client on the same API, authenticated with `access_token` (close it after use)."""
    return httpx.AsyncClient(
        base_url=str(api.base_url), timeout=api.timeout, headers={"Authorization": f"Bearer {access_token}"}
    )


@pytest.fixture
def api(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    """A client logged in as the owner, against a pipeline of the test's own or, in a module
    with `SHARE_PIPELINE = True`, the module's (conftest.shares_pipeline)."""
    return request.getfixturevalue("shared_api" if shares_pipeline(request) else "own_api")  # type: ignore[no-any-return]




async def login(
    client: httpx.AsyncClient, email: str, password: str = MEMBER_PASSWORD, workspace_id: str | None = None
) -> dict[str, str]:
    """Headers of a signed-in person (one login: the person must be projected already)."""
    body = {"email": email, "password": password, **({"workspace_id": workspace_id} if workspace_id else {})}
    r = await client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def create_active(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    created = await api.post("/api/v1/workflows", json=body)
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    activated = await api.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert activated.status_code == 200, activated.text
    return workflow_id


async def execution(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    r = await api.get(f"/api/v1/executions/{execution_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def wait_status(api: httpx.AsyncClient, execution_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/executions/{execution_id}")
        if r.status_code == 200 and r.json()["status"] in statuses:
            return dict(r.json())
        return None

    return await wait_for(reached, timeout=timeout, interval=0.1, what=f"execution {execution_id} {statuses}")


async def executions_of(api: httpx.AsyncClient, workflow_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/api/v1/executions", params={"workflow": workflow_id, "page_size": 100, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


async def read_topic(settings: Settings, spec: TopicSpec, timeout: float = 60) -> list[ConsumerRecord]:
    """Every committed record of one of this module's topics, from the beginning to its end,
    in (partition, offset) order."""
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
        deadline = time.monotonic() + timeout
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


async def _grep_topics(settings: Settings, needle: bytes, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    found: list[str] = []
    try:
        tps = await topic_partitions(consumer, settings, specs)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batches.items():
                for r in records:
                    blob = (r.value or b"") + (r.key or b"") + b"".join(v for _, v in r.headers or ())
                    if needle in blob:
                        found.append(f"{tp.topic}@{r.offset}")
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    return found



async def records_holding(settings: Settings, needle: bytes, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> list[str]:
    """`topic@offset` of every record of these topics (this test's prefix) whose key, value or
    headers hold `needle`."""
    return await _grep_topics(settings, needle, specs)


async def assert_secrets_nowhere(settings: Settings, processes: Processes, secrets: list[str]) -> None:
    """No secret value in any topic of this test's prefix, nor in any process log (stops them)."""
    for secret in secrets:
        assert await _grep_topics(settings, secret.encode()) == [], "a secret in a topic"
    processes.stop_all()
    assert processes.logs, "run the test with @pytest.mark.process_logs"
    for path in processes.logs:
        text = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in text, f"a secret in {path.name}"


@asynccontextmanager
async def login_as(api: httpx.AsyncClient, email: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same API logged in as this person (waits until the projection knows them)."""
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=30) as client:

        async def token() -> str | None:
            r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
            return str(r.json()["access_token"]) if r.status_code == 200 else None

        access = await wait_for(token, timeout=30, interval=0.2, what=f"{email} can log in")
        client.headers["Authorization"] = f"Bearer {access}"
        yield client
# Tables that record attempts, refused ones included (the audit log): a refused call leaves
# a row there by design, so "nothing written" comparisons leave them out.
ATTEMPT_LOGS = frozenset({"audit_logs"})


async def workspace_rows(settings: Settings, workspace_id: str) -> dict[str, list[str]]:
    """Everything the read models hold for one workspace: every row of every table with a
    workspace_id column (but ATTEMPT_LOGS), the workspace itself and its members, as sorted
    text (to compare)."""
    conn = await asyncpg.connect(settings.dsn)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND column_name = 'workspace_id' ORDER BY table_name"
        )
        rows: dict[str, list[str]] = {}
        for t in tables:
            name = t["table_name"]
            if name in ATTEMPT_LOGS:
                continue
            found = await conn.fetch(f'SELECT * FROM "{name}" WHERE workspace_id = $1', workspace_id)
            rows[name] = sorted(repr(sorted(dict(r).items())) for r in found)
        rows["workspaces"] = [repr(sorted(dict(r).items())) for r in await conn.fetch(
            "SELECT * FROM workspaces WHERE id = $1", workspace_id)]
        rows["users"] = sorted(repr(sorted(dict(r).items())) for r in await conn.fetch(
            "SELECT u.* FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.workspace_id = $1", workspace_id))
    finally:
        await conn.close()
    return rows


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """Per table, the rows that went away and the rows that appeared."""
    diff: dict[str, dict[str, list[str]]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = set(before.get(name, [])), set(after.get(name, []))
        if old != new:
            diff[name] = {"gone": sorted(old - new), "new": sorted(new - old)}
    return diff


async def unread(settings: Settings, behind: list[tuple[str, int, int, int]]) -> list[str]:
    """Of (topic, partition, consumed up to, end offset) spans, those still holding a committed
    record. A span of transaction markers only (what transactional writers leave after their
    last record) holds none: the consumer that stopped before it has read everything."""
    if not behind:
        return []
    consumer = make_consumer(settings)
    await consumer.start()
    found: list[str] = []
    try:
        for topic, partition, position, end in behind:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, position)
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=200)
                if any(r.offset < end for r in batch.get(tp, [])):
                    found.append(f"{topic}[{partition}] from {position}")
                    break
    finally:
        await consumer.stop()
    return found


async def workspace_ids(settings: Settings, workspace_id: str) -> set[str]:
    """Every id (of 16 characters or more: uuids and the like) of the workspace's rows, in every
    table that has both an id and a workspace_id column."""
    conn = await asyncpg.connect(settings.dsn)
    try:
        tables = await conn.fetch(
            "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.columns w"
            " ON w.table_name = c.table_name AND w.table_schema = c.table_schema AND w.column_name = 'workspace_id'"
            " WHERE c.table_schema = 'public' AND c.column_name = 'id'"
        )
        found: set[str] = set()
        for t in tables:
            rows = await conn.fetch(f'SELECT id::text AS id FROM "{t["table_name"]}" WHERE workspace_id = $1', workspace_id)
            found |= {r["id"] for r in rows if len(r["id"]) >= 16}
    finally:
        await conn.close()
    return found
