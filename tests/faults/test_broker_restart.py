"""Stop and restart the Kafka broker mid-load: producers and consumers recover on their own.

The module runs its own broker (the session's is shared by every other module): the
pipeline and the load point at it, PostgreSQL is the session's. Nothing is restarted
by hand except the broker; every component must ride out the outage by itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from conftest import Processes, free_port, wait_for
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

from infra.kafka_local import LocalKafka
from infra.settings import Settings
from infra.topic_admin import ensure_topics

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = EXECUTIONS_PER_CASE


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Settings, LocalKafka]]:
    mine = services.model_copy(update={
        "state_dir": tmp_path_factory.mktemp("own-kafka"), "kafka_bootstrap_servers": None,
        "kafka_port": free_port(), "kafka_controller_port": free_port(), "database_url": services.dsn,
        "topic_prefix": f"{services.topic_prefix}{uuid.uuid4().hex[:6]}.", "api_port": free_port(),
    })
    kafka = LocalKafka(mine)
    kafka.start()
    try:
        await kafka.wait_ready()
        await ensure_topics(mine)
        yield mine, kafka
    finally:
        kafka.stop()


async def test_broker_restart_mid_load(broker: tuple[Settings, LocalKafka], tmp_path_factory: pytest.TempPathFactory) -> None:
    settings, kafka = broker
    sink = Sink("ok")
    await sink.start()
    running: tuple[Processes, httpx.AsyncClient, str]
    try:
        async with pipeline(settings, tmp_path_factory.mktemp("broker-logs")) as running:
            processes, client, workspace_id = running
            event_type = f"BROKER_{uuid.uuid4().hex[:4]}"
            workflow_id = await create_active(client, chain(
                "broker restart", event_type, webhook("a", f"{sink.base_url}/broker/a"),
                {"id": "pause", "name": "Pause", "node_type": "delay", "config": {"delay_seconds": 1}},
                webhook("b", f"{sink.base_url}/broker/b"),
            ))
            load = Load(settings, workspace_id, event_type, subjects("broker", N), rate=max(20.0, N / 8))
            books = Books("broker restart")
            started = time.monotonic()
            publisher = asyncio.create_task(load.run())

            async def mid_flight() -> bool:
                return len(load.accepted) >= N // 4 and sink.total("broker/a") > 0

            await wait_for(mid_flight, timeout=180, interval=0.01, what="a quarter accepted")
            at_stop = len(load.accepted)
            kafka.stop()
            await asyncio.sleep(min(OUTAGE_SECONDS, 15))  # the broker stays down a while, not for correctness
            kafka.start()
            await kafka.wait_ready()
            await publisher
            conn = await asyncpg.connect(settings.dsn)
            try:
                try:
                    await wait_finished(conn, [workflow_id], lambda: len(load.accepted), [sink])
                except AssertionError as exc:
                    dead = {n: p.returncode for n, p in processes.running.items() if p.poll() is not None}
                    raise AssertionError(f"{exc}; exited: {dead}\n{tail_logs(processes)}") from None
                books.seconds = time.monotonic() - started
                dead = {n: p.returncode for n, p in processes.running.items() if p.poll() is not None}
                books.note = f"broker down at {at_stop} accepted; {load.send_failures} sends retried by the load"
                await settle(books, conn, [workflow_id], load.accepted, {"broker/a": sink, "broker/b": sink})
            finally:
                await conn.close()
            # Recovered on their own: no component died and had to be restarted.
            assert dead == {}, f"components exited during the broker restart: {dead}\n{tail_logs(processes)}"
            books.check()
    finally:
        await sink.stop()
