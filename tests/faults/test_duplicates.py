"""Duplicates and reordering: the same event delivered twice, or out of order, starts one execution.

Each subject gets two events (first, second). Every event is written twice, once in
structured and once in binary CloudEvents mode, and the whole lot is shuffled, so a
subject's second event often arrives before its first, and copies before originals.
Once everything has finished, every event is delivered a third time: late copies meet
finished executions. Each event id ends in one execution and one webhook delivery.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio
from conftest import Processes, wait_for
from harness import (
    EXECUTIONS_PER_CASE,
    HEADERS,
    Books,
    Sink,
    chain,
    create_active,
    pipeline,
    producer_for,
    subjects,
    tail_logs,
    wait_finished,
    webhook,
)

from infra.settings import Settings
from schemas.topics import EVENTS

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = EXECUTIONS_PER_CASE


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Processes, httpx.AsyncClient, str]]:
    async with pipeline(settings, tmp_path_factory.mktemp("dups")) as running:
        yield running


def copies(workspace_id: str, subject: str, event_type: str, event_id: str, at: datetime, order: str) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """The same event as a structured and as a binary-mode record: (key, value, headers)."""
    data = {"event_type": event_type, "user_id": subject, "data": {"order": order}}
    attrs = {"specversion": "1.0", "id": event_id, "source": "urn:fluxo-tests:dups",
             "type": "fluxo.event.ingested.v1", "subject": subject, "time": at.isoformat(), "workspaceid": workspace_id}
    key = f"{workspace_id}:{subject}".encode()
    structured = orjson.dumps({**attrs, "datacontenttype": "application/json", "data": data})
    binary_headers = [(f"ce_{k}", str(v).encode()) for k, v in attrs.items()] + [("content-type", b"application/json")]
    return [(key, structured, HEADERS), (key, orjson.dumps(data), binary_headers)]


async def test_duplicated_and_reordered_events_start_one_execution_each(
    system: tuple[Processes, httpx.AsyncClient, str], settings: Settings,
) -> None:
    processes, client, workspace_id = system
    sink = Sink("ok")
    await sink.start()
    try:
        event_type = f"DUP_{uuid.uuid4().hex[:4]}"
        workflow_id = await create_active(client, chain(
            "duplicates", event_type, webhook("a", f"{sink.base_url}/dup/a", payload={"user_id": "{{event.id}}"})))
        base = datetime.now(UTC)
        events: dict[str, list[tuple[bytes, bytes, list[tuple[str, bytes]]]]] = {}
        for subject in subjects("dup", max(1, N // 2)):
            for order, offset in (("first", 0), ("second", 1)):
                event_id = str(uuid.uuid4())
                events[event_id] = copies(workspace_id, subject, event_type, event_id, base + timedelta(seconds=offset), order)
        records = [r for rs in events.values() for r in rs]
        random.shuffle(records)
        books = Books("duplicates + reordering")
        started = time.monotonic()
        await _send(settings, records)

        conn = await asyncpg.connect(settings.dsn)
        try:
            try:
                await wait_finished(conn, [workflow_id], lambda: len(events), [sink])
                # Late copies: every event once more, after its execution finished, then one
                # sentinel event per partition behind them: once the sentinels' executions are
                # done, the matcher has been through every late copy.
                await _send(settings, [rs[0] for rs in events.values()])
                sentinels = []
                for partition in range(settings.partitions):
                    subject = f"sentinel-{uuid.uuid4().hex[:6]}"
                    key, value, headers = copies(workspace_id, subject, event_type, str(uuid.uuid4()), datetime.now(UTC), "sentinel")[0]
                    await _send(settings, [(key, value, headers)], partition=partition)
                    sentinels.append(subject)
                await wait_for(lambda: _completed(conn, workflow_id, sentinels), timeout=120, interval=0.5,
                               what="the sentinels behind the late copies")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{tail_logs(processes)}") from None
            books.seconds = time.monotonic() - started
            rows = await conn.fetch(
                "SELECT event_id, status FROM executions WHERE workflow_id = $1 AND subject <> ALL($2::text[])",
                workflow_id, sentinels)
        finally:
            await conn.close()

        per_event = Counter(r["event_id"] for r in rows)
        books.accepted = len(events)
        books.completed = sum(1 for r in rows if r["status"] == "completed")
        books.duplicated = sum(c - 1 for c in per_event.values() if c > 1)
        books.lost = len(set(events) - set(per_event))
        stray = set(per_event) - set(events)
        applied = sink.applied("dup/a")
        books.duplicated += sum(len(keys) - 1 for keys in applied.values() if len(keys) > 1)
        books.lost += len(set(events) - set(applied))
        books.redelivered = sum(c - 1 for c in sink.keys("dup/a").values() if c > 1)
        books.note = f"{len(records) + len(events)} records for {len(events)} events, shuffled"
        if books.duplicated or books.lost or stray:
            books.problems.append(f"per event {per_event.most_common(3)}, stray {sorted(stray)[:3]}")
        assert not stray
        books.check()
    finally:
        await sink.stop()


async def _send(settings: Settings, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]], partition: int | None = None) -> None:
    producer = producer_for(settings)
    await producer.start()
    try:
        futures = [await producer.send(settings.topic(EVENTS), key=k, value=v, headers=h, partition=partition)
                   for k, v, h in records]
        for future in futures:
            await future
    finally:
        await producer.stop()


async def _completed(conn: asyncpg.Connection, workflow_id: str, sentinels: list[str]) -> bool:
    done = await conn.fetchval(
        "SELECT count(*) FROM executions WHERE workflow_id = $1 AND subject = ANY($2::text[]) AND status = 'completed'",
        workflow_id, sentinels)
    return int(done) == len(sentinels)
