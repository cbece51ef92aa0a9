"""Stop PostgreSQL mid-load: the projection pauses and catches up, the API answers 503 with
a clear body meanwhile (not a hang, not a stack trace), and ingest keeps accepting events.

The module runs its own PostgreSQL (the session's is shared by every other module); Kafka
is the session's broker with this module's own topics.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from conftest import free_port, wait_for
from harness import (
    EXECUTIONS_PER_CASE,
    OUTAGE_SECONDS,
    Books,
    Load,
    Sink,
    chain,
    create_active,
    pipeline,
    settle,
    subjects,
    tail_logs,
    wait_finished,
    webhook,
)

from infra.migrations import migrate
from infra.postgres_local import LocalPostgres
from infra.settings import Settings
from infra.topic_admin import ensure_topics

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = EXECUTIONS_PER_CASE
# A request during the outage must be answered within this (no hang).
ANSWER_WITHIN = 12.0


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def database(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Settings, LocalPostgres]]:
    mine = services.model_copy(update={
        "state_dir": tmp_path_factory.mktemp("own-postgres"), "database_url": None, "postgres_port": free_port(),
        "kafka_bootstrap_servers": services.bootstrap_servers,
        "topic_prefix": f"{services.topic_prefix}{uuid.uuid4().hex[:6]}.", "api_port": free_port(),
    })
    postgres = LocalPostgres(mine)
    postgres.start()
    try:
        await postgres.wait_ready()
        await migrate(mine.dsn)
        await ensure_topics(mine)
        yield mine, postgres
    finally:
        postgres.stop()


async def test_database_outage_mid_load(database: tuple[Settings, LocalPostgres], tmp_path_factory: pytest.TempPathFactory) -> None:
    settings, postgres = database
    sink = Sink("ok")
    await sink.start()
    try:
        async with pipeline(settings, tmp_path_factory.mktemp("db-logs")) as (processes, client, workspace_id):
            event_type = f"DB_{uuid.uuid4().hex[:4]}"
            workflow_id = await create_active(client, chain(
                "database outage", event_type, webhook("a", f"{sink.base_url}/db/a"),
                {"id": "pause", "name": "Pause", "node_type": "delay", "config": {"delay_seconds": 1}},
                webhook("b", f"{sink.base_url}/db/b"),
            ))
            # Paced to last through the outage: events keep arriving while the database is down.
            duration = OUTAGE_SECONDS + 10
            load = Load(settings, workspace_id, event_type, subjects("db", N), rate=N / duration)
            books = Books(f"PostgreSQL down {OUTAGE_SECONDS:.0f}s")
            started = time.monotonic()
            publisher = asyncio.create_task(load.run())
            await wait_for(lambda: _accepted(load, N // 5), timeout=180, interval=0.05, what="a fifth accepted")
            postgres.stop()
            down_at = time.monotonic()
            answers: list[tuple[int, float, dict[str, object]]] = []
            ingested = 0
            # Meanwhile: reads answer 503 with the error envelope, promptly; ingest still takes events.
            while time.monotonic() - down_at < OUTAGE_SECONDS:
                t0 = time.monotonic()
                r = await client.get("/api/v1/executions", params={"workflow": workflow_id}, timeout=ANSWER_WITHIN + 5)
                answers.append((r.status_code, time.monotonic() - t0, r.json()))
                posted = await client.post(
                    "/api/v1/triggers/process_event", json={"event_type": "NOTHING_LISTENS", "user_id": "outage"},
                    timeout=ANSWER_WITHIN + 5,
                )
                ingested += posted.status_code == 202
                await asyncio.sleep(1)  # one probe a second during the outage
            postgres.start()
            await postgres.wait_ready()
            await publisher
            statuses = [a[0] for a in answers]
            assert statuses and all(s == 503 for s in statuses[1:]), statuses
            slowest = max(a[1] for a in answers)
            assert slowest < ANSWER_WITHIN, f"a request took {slowest:.1f}s during the outage"
            body = answers[-1][2]
            assert body["error"]["code"] == "INFRA_503", body  # type: ignore[index]
            assert "database" in str(body["error"]["message"]).lower(), body  # type: ignore[index]
            assert ingested > 0, "ingest refused events while only the database was down"

            conn = await asyncpg.connect(settings.dsn)
            try:
                try:
                    await wait_finished(conn, [workflow_id], lambda: len(load.accepted), [sink])
                except AssertionError as exc:
                    raise AssertionError(f"{exc}\n{tail_logs(processes)}") from None
                books.seconds = time.monotonic() - started
                dead = {n: p.returncode for n, p in processes.running.items() if p.poll() is not None}
                books.note = f"{len(answers)} reads answered 503 (slowest {slowest:.1f}s); {ingested} events ingested meanwhile"
                await settle(books, conn, [workflow_id], load.accepted, {"db/a": sink, "db/b": sink})
            finally:
                await conn.close()
            assert dead == {}, f"components exited during the outage: {dead}\n{tail_logs(processes)}"
            # The API is back by itself too.
            assert (await client.get("/api/v1/executions", params={"workflow": workflow_id})).status_code == 200
            books.check()
    finally:
        await sink.stop()


async def _accepted(load: Load, n: int) -> bool:
    return len(load.accepted) >= n
