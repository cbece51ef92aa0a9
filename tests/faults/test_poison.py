"""Poison on every consumed topic, and on the HTTP ingest.

Each of not-JSON, unknown type, schema break and over-size is written to every partition of
every topic a component consumes, ahead of a load of good events. Every poison record
reaches the dead-letter topic from each consumer that met it, with the reason and the
original bytes; the load behind it completes; /metrics counts the dead letters. The HTTP
ingest answers 4xx to the same kinds of body and writes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from conftest import Processes, wait_for
from harness import (
    EXECUTIONS_PER_CASE,
    Books,
    Load,
    Sink,
    chain,
    create_active,
    event_value,
    pipeline,
    settle,
    subjects,
    tail_logs,
    wait_finished,
    webhook,
)
from pipeline import read_topic

from infra.settings import Settings
from schemas.codec import decode
from schemas.records import RecordDeadLettered
from schemas.topics import (
    DEADLETTER,
    DEFINITIONS,
    EVENTS,
    EXECUTIONS,
    NODE_WORK,
    TIMERS,
    TRIGGER_LOG,
    TopicSpec,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = EXECUTIONS_PER_CASE
# Who consumes what: each of them must dead-letter the poison it meets.
CONSUMERS: dict[TopicSpec, tuple[str, ...]] = {
    EVENTS: ("matcher",),
    EXECUTIONS: ("executor", "projection"),
    NODE_WORK: ("worker",),
    TIMERS: ("timers",),
    DEFINITIONS: ("projection",),
    TRIGGER_LOG: ("projection", "matcher"),
}


def poison(topic: TopicSpec) -> dict[str, bytes]:
    """The four kinds, each recognisable by a marker so a dead letter can be traced back."""
    marker = uuid.uuid4().hex
    envelope = {"specversion": "1.0", "id": marker, "source": "urn:t", "time": "2026-01-01T00:00:00Z",
                "workspaceid": "ws", "executionid": marker}
    record_type = topic.type_names[0]
    return {
        "not JSON": b"{not json " + marker.encode(),
        "unknown type": orjson.dumps({**envelope, "type": "fluxo.example.unknown.v1", "data": {}}),
        "schema break": orjson.dumps({**envelope, "type": record_type, "data": {"nonsense": marker}}),
        # Over every limit a consumer applies, close to what the broker still takes (2 MiB).
        "over size": orjson.dumps({**envelope, "type": record_type, "data": {"blob": "x" * 1_500_000}}),
    }


REASONS = {
    "not JSON": "not valid JSON",
    "unknown type": "unknown record type",
    "schema break": "invalid",
    "over size": "over the",
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Processes, httpx.AsyncClient, str]]:
    async with pipeline(settings, tmp_path_factory.mktemp("poison")) as running:
        yield running


async def _dead_letters(settings: Settings) -> list[RecordDeadLettered]:
    letters = []
    for record in await read_topic(settings, DEADLETTER):
        _, data = decode(record.value, record.headers or ())
        assert isinstance(data, RecordDeadLettered)
        letters.append(data)
    return letters


async def test_poison_on_every_consumed_topic_is_dead_lettered_and_the_load_behind_it_completes(
    system: tuple[Processes, httpx.AsyncClient, str], settings: Settings,
) -> None:
    processes, client, workspace_id = system
    sink = Sink("ok")
    await sink.start()
    try:
        event_type = f"AFTER_POISON_{uuid.uuid4().hex[:4]}"
        workflow_id = await create_active(client, chain("after poison", event_type, webhook("a", f"{sink.base_url}/poison/a")))
        written: dict[tuple[str, bytes], str] = {}  # (topic, bytes) -> kind
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                    enable_idempotence=True, max_request_size=2 * 1024 * 1024)
        await producer.start()
        try:
            for topic in CONSUMERS:
                for partition in range(settings.partitions):
                    for kind, value in poison(topic).items():
                        await producer.send_and_wait(settings.topic(topic), value=value, key=b"ws:poison", partition=partition)
                        written[(settings.topic(topic), value)] = kind
            # A big but legal event (under FLUXO_MAX_EVENT_BYTES): its execution carries it along.
            big_subject = f"big-{uuid.uuid4().hex[:6]}"
            key, value = event_value(workspace_id, big_subject, event_type)
            body = orjson.loads(value)
            body["data"]["data"]["padding"] = "p" * (settings.max_event_bytes - len(value) - 1000)
            big = orjson.dumps(body)
            assert len(big) < settings.max_event_bytes
            await producer.send_and_wait(settings.topic(EVENTS), key=key, value=big)
        finally:
            await producer.stop()

        load = Load(settings, workspace_id, event_type, subjects("poison", N))
        books = Books("poison on every topic")
        started = time.monotonic()
        await load.run()
        load.accepted.add(big_subject)
        expected = {(topic, value, consumer) for (topic, value) in written
                    for spec, consumers in CONSUMERS.items() if settings.topic(spec) == topic for consumer in consumers}
        by_digest = {hashlib.sha256(value).hexdigest(): value for (_, value) in written}

        def _original(letter: RecordDeadLettered) -> bytes:
            """The original bytes: whole, or (over the dead-letter size cap) its head and its digest."""
            raw = base64.b64decode(letter.original_value_b64)
            if not letter.original_truncated:
                return raw
            whole = by_digest.get(letter.original_sha256 or "", b"")
            assert len(whole) == letter.original_size and whole.startswith(raw) and len(raw) < len(whole), letter.reason
            return whole

        async def all_dead_lettered() -> list[RecordDeadLettered] | None:
            letters = await _dead_letters(settings)
            seen = {(d.original_topic, _original(d), d.consumer) for d in letters}
            return letters if expected <= seen else None

        conn = await asyncpg.connect(settings.dsn)
        try:
            try:
                await wait_finished(conn, [workflow_id], lambda: len(load.accepted), [sink])
                letters = await wait_for(all_dead_lettered, timeout=120, interval=1, what="every poison record dead-lettered")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{tail_logs(processes)}") from None
            books.seconds = time.monotonic() - started
            await settle(books, conn, [workflow_id], load.accepted, {"poison/a": sink})
        finally:
            await conn.close()

        per_consumer: dict[tuple[str, str, str], int] = defaultdict(int)
        for d in letters:
            kind = written.get((d.original_topic, _original(d)))
            assert kind is not None, f"a dead letter for a record nobody wrote as poison: {d.reason}"
            assert REASONS[kind] in d.reason, (kind, d.consumer, d.reason)
            assert d.original_key_b64 == base64.b64encode(b"ws:poison").decode()
            per_consumer[(d.consumer, d.original_topic, kind)] += 1
        # Once per consumer and record: re-processing does not add a second dead letter.
        assert set(per_consumer.values()) == {settings.partitions}, per_consumer
        books.note = f"{len(letters)} dead letters from {len({c for c, _, _ in per_consumer})} consumers"

        # A metric counts them, per consumer and topic.
        async def counted() -> dict[tuple[str, str], float] | None:
            text = (await client.get("/metrics")).text
            found = {}
            for line in text.splitlines():
                if line.startswith("fluxo_dead_letters_total{"):
                    labels = dict(part.split("=", 1) for part in line[line.index("{") + 1 : line.index("}")].split(","))
                    found[(labels["consumer"].strip('"'), labels["topic"].strip('"'))] = float(line.rsplit(" ", 1)[1])
            return found if all(found.get(k, 0) >= n for k, n in want.items()) else None

        # Four kinds on each partition of each topic, for each consumer of it.
        want = {(c, settings.topic(spec)): float(len(REASONS) * settings.partitions)
                for spec, consumers in CONSUMERS.items() for c in consumers}
        metric = await wait_for(counted, timeout=60, interval=0.5, what="fluxo_dead_letters_total counting them")
        assert {k: v for k, v in metric.items() if k in want} == want
        books.check()
    finally:
        await sink.stop()


async def test_http_ingest_refuses_poison_with_4xx_and_writes_nothing(
    system: tuple[Processes, httpx.AsyncClient, str], settings: Settings,
) -> None:
    _, client, _ = system
    before = len(await read_topic(settings, EVENTS))
    bodies: list[tuple[str, bytes, int, str]] = [
        ("not JSON", b"{not json", 422, "body"),
        ("not an object", b"[1, 2]", 422, "body"),
        ("schema break", orjson.dumps({"event_type": "", "data": {}}), 422, "event_type"),
        ("wrong type", orjson.dumps({"event_type": "X", "data": "text"}), 422, "data"),
        ("unknown field", orjson.dumps({"event_type": "X", "surprise": 1}), 422, "surprise"),
        ("over size", orjson.dumps({"event_type": "X", "data": {"blob": "x" * (settings.max_request_bytes + 10)}}), 413, "body"),
    ]
    for name, raw, status, field_name in bodies:
        r = await client.post("/api/v1/triggers/process_event", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == status, (name, r.status_code, r.text)
        error = r.json()["error"]
        assert error["code"] and error["message"], (name, error)
        assert any(field_name in f for f in error["fields"]), (name, error)
    # Nothing half-written: not one record more on the events topic.
    assert len(await read_topic(settings, EVENTS)) == before

