"""SIGKILL each component mid-load, start it again: every accepted event ends in exactly one
execution, and every step's side effect reaches the receiving sink once.

One pipeline for the module (every component its own OS process); each case has its own
workflow `trigger -> a (webhook) -> pause (durable delay: timers) -> b (webhook)` under its
own event type, and its own load of FLUXO_FAULTS_EXECUTIONS events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio
from conftest import Processes, wait_for
from harness import (
    EXECUTIONS_PER_CASE,
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
from pipeline import read_topic

from infra.settings import Settings
from schemas.topics import NODE_WORK

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = EXECUTIONS_PER_CASE
# The load is paced over ~8 s and the kill comes once a quarter of it was accepted and the
# first side effects arrived: every component then has work in flight and work to come.
RATE = max(20.0, N / 8)
KILL_AT = max(10, N // 4)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Processes, httpx.AsyncClient, str]]:
    async with pipeline(settings, tmp_path_factory.mktemp("kills")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sink() -> AsyncIterator[Sink]:
    target = Sink("ok")
    await target.start()
    yield target
    await target.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def conn(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.dsn)
    yield connection
    await connection.close()


def workflow(case: str, event_type: str, sink: Sink) -> dict[str, object]:
    return chain(
        f"kill {case}", event_type,
        webhook("a", f"{sink.base_url}/{case}/a"),
        {"id": "pause", "name": "Pause", "node_type": "delay", "config": {"delay_seconds": 1}},
        webhook("b", f"{sink.base_url}/{case}/b"),
    )


async def committed_work_orders(settings: Settings, workflow_id: str) -> Counter[str]:
    keys: Counter[str] = Counter()
    for record in await read_topic(settings, NODE_WORK):
        data = orjson.loads(record.value)["data"]
        if data.get("workflow_id") == workflow_id:
            keys[data["idempotency_key"]] += 1
    return keys


@pytest.mark.parametrize("component", ["matcher", "executor", "worker", "timers", "projection"])
async def test_sigkill_processor_mid_load(
    component: str, system: tuple[Processes, httpx.AsyncClient, str], sink: Sink,
    settings: Settings, conn: asyncpg.Connection,
) -> None:
    processes, client, workspace_id = system
    event_type = f"KILL_{component.upper()}_{uuid.uuid4().hex[:4]}"
    workflow_id = await create_active(client, workflow(component, event_type, sink))
    load = Load(settings, workspace_id, event_type, subjects(component, N), rate=RATE)
    books = Books(f"SIGKILL {component}")
    started = time.monotonic()
    publisher = asyncio.create_task(load.run())

    async def mid_flight() -> bool:
        if publisher.done() and publisher.exception() is not None:
            raise publisher.exception()  # type: ignore[misc]
        return len(load.accepted) >= KILL_AT and sink.total(f"{component}/a") > 0

    await wait_for(mid_flight, timeout=180, interval=0.01, what=f"{KILL_AT} accepted and calls on /{component}/a")
    processes.kill(component)  # SIGKILL
    at_kill = (sink.total(f"{component}/a"), sink.total(f"{component}/b"), len(load.accepted))
    await asyncio.sleep(1)  # down for a while, not for correctness
    processes.start(component)
    await publisher
    try:
        await wait_finished(conn, [workflow_id], lambda: len(load.accepted), [sink])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{tail_logs(processes)}") from None
    books.seconds = time.monotonic() - started
    books.note = f"killed at {at_kill[2]} accepted, {at_kill[0]} /a and {at_kill[1]} /b calls"
    await settle(books, conn, [workflow_id], load.accepted,
                 {f"{component}/a": sink, f"{component}/b": sink})
    # Each work order was committed once across the kill (aborted transactions are invisible).
    orders = await committed_work_orders(settings, workflow_id)
    twice = {k: c for k, c in orders.items() if c > 1}
    books.duplicated += len(twice)
    if twice:
        books.problems.append(f"work orders committed more than once: {list(twice.items())[:5]}")
    # Only a worker dying between its HTTP call and its commit makes it call again (same key).
    books.check(redelivery_allowed=component == "worker")


async def test_sigkill_api_mid_load_clients_retry_with_the_same_key(
    system: tuple[Processes, httpx.AsyncClient, str], sink: Sink, settings: Settings, conn: asyncpg.Connection,
) -> None:
    processes, client, _ = system
    event_type = f"KILL_API_{uuid.uuid4().hex[:4]}"
    workflow_id = await create_active(client, workflow("api", event_type, sink))
    users = subjects("api", N)
    accepted: set[str] = set()
    retries = Counter[str]()
    books = Books("SIGKILL api")
    started = time.monotonic()
    token = client.headers["Authorization"]

    async def send(http: httpx.AsyncClient, queue: asyncio.Queue[str]) -> None:
        while not queue.empty():
            user = queue.get_nowait()
            key = f"ingest-{user}"  # the client's own id for this event: the same on every retry
            while True:
                try:
                    r = await http.post(
                        "/api/v1/triggers/process_event",
                        json={"event_type": event_type, "user_id": user, "data": {"n": user}},
                        headers={"Idempotency-Key": key, "Authorization": token},
                    )
                    if r.status_code == 202:
                        accepted.add(user)
                        break
                    assert r.status_code in (502, 503, 504), r.text
                except httpx.TransportError:
                    pass
                retries[user] += 1
                await asyncio.sleep(0.2)  # client backoff before the retry

    queue: asyncio.Queue[str] = asyncio.Queue()
    for user in users:
        queue.put_nowait(user)
    async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as http:
        senders = [asyncio.create_task(send(http, queue)) for _ in range(16)]
        await wait_for(lambda: _at_least(accepted, N // 3), timeout=180, interval=0.01, what="a third accepted")
        processes.kill("api")
        at_kill = len(accepted)
        await asyncio.sleep(1)  # down for a while, not for correctness
        processes.start("api")
        await asyncio.gather(*senders)
    try:
        await wait_finished(conn, [workflow_id], lambda: len(accepted), [sink])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{tail_logs(processes)}") from None
    books.seconds = time.monotonic() - started
    books.note = f"killed with {at_kill} accepted; {sum(retries.values())} client retries"
    await settle(books, conn, [workflow_id], accepted, {"api/a": sink, "api/b": sink})
    assert sum(retries.values()) > 0, "the API died, yet no client had to retry"
    books.check()


async def _at_least(items: set[str], n: int) -> bool:
    return len(items) >= n

