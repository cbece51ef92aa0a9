"""Soak: FLUXO_FAULTS_SOAK_SECONDS at FLUXO_FAULTS_SOAK_RATE (half the measured capacity),
with the RSS of every component and the consumer lag sampled; both must stay flat.

The load cycles over CONTACTS subjects; the books are kept per event id. Flat means, over the second half of the run (the first half is warm-up: caches, pools
and the broker's page cache filling):
- RSS: the least-squares slope of each component's RSS is under RSS_SLOPE_MIB_PER_MIN;
- lag: the slope of the total lag (every processor group, plus the projection) is under
  LAG_SLOPE_SHARE of the load rate (falling further behind would grow it by the shortfall),
  and no sample exceeds LAG_BOUND_SECONDS of load.
Skipped unless FLUXO_FAULTS_SOAK_SECONDS is set (`make faults` sets 600).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import psutil
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from conftest import Processes
from harness import (
    SOAK_RATE,
    SOAK_SECONDS,
    Books,
    Load,
    Sink,
    chain,
    create_active,
    pipeline,
    settle,
    subjects,
    tail_logs,
    topic_lag,
    wait_finished,
    webhook,
)

from infra.settings import Settings
from projections.runner import PROJECTION
from projections.runner import TOPICS as PROJECTED
from schemas.topics import EVENTS, EXECUTIONS, NODE_WORK, TIMERS

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(SOAK_SECONDS <= 0, reason="set FLUXO_FAULTS_SOAK_SECONDS to soak (make faults does)"),
]

RSS_SLOPE_MIB_PER_MIN = 2.0
LAG_SLOPE_SHARE = 0.05
LAG_BOUND_SECONDS = 10.0
SAMPLE_SECONDS = 5.0
# The load cycles over this many contacts, like docs/benchmarks.md's e2e load: the matcher
# keeps state per contact, which grows with new contacts by design, not with events.
CONTACTS = 1000
GROUPS = {"matcher": [EVENTS], "executor": [EXECUTIONS], "worker": [NODE_WORK], "timers": [TIMERS]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Processes, httpx.AsyncClient, str]]:
    async with pipeline(settings, tmp_path_factory.mktemp("soak")) as running:
        yield running


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in points) / var


def rss(pid: int) -> int:
    try:
        proc = psutil.Process(pid)
        return int(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
    except psutil.NoSuchProcess:
        return 0


async def projection_lag(settings: Settings, conn: asyncpg.Connection) -> int:
    rows = await conn.fetch("SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = $1", PROJECTION)
    done = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    probe = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    await probe.start()
    try:
        tps = [TopicPartition(settings.topic(s), p) for s in PROJECTED for p in range(settings.partitions)]
        ends = await probe.end_offsets(tps)
        return sum(max(0, ends[tp] - done.get((tp.topic, tp.partition), 0)) for tp in tps)
    finally:
        await probe.stop()


async def test_soak_memory_and_lag_stay_flat(system: tuple[Processes, httpx.AsyncClient, str], settings: Settings) -> None:
    processes, client, workspace_id = system
    sink = Sink("ok")
    await sink.start()
    conn = await asyncpg.connect(settings.dsn)
    try:
        event_type = f"SOAK_{uuid.uuid4().hex[:4]}"
        workflow_id = await create_active(client, chain(
            "soak", event_type, webhook("a", f"{sink.base_url}/soak/a", payload={"user_id": "{{event.id}}"})))
        load = Load(settings, workspace_id, event_type, subjects("soak", int(SOAK_RATE * SOAK_SECONDS)),
                    rate=SOAK_RATE, contacts=CONTACTS)
        books = Books(f"soak {SOAK_SECONDS:.0f}s at {SOAK_RATE:.0f}/s")
        pids = {name: proc.pid for name, proc in processes.running.items()}
        memory: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        lag: list[tuple[float, float]] = []
        lag_by: dict[str, list[tuple[float, float]]] = {g: [] for g in [*GROUPS, "projection"]}
        started = time.monotonic()
        publisher = asyncio.create_task(load.run())
        while not publisher.done():
            at = time.monotonic() - started
            for name, pid in pids.items():
                memory[name].append((at, rss(pid) / 2**20))
            parts = {g: await topic_lag(settings, settings.group(g), specs) for g, specs in GROUPS.items()}
            parts["projection"] = await projection_lag(settings, conn)
            for g, n in parts.items():
                lag_by[g].append((at, float(n)))
            lag.append((at, float(sum(parts.values()))))
            await asyncio.wait({publisher}, timeout=SAMPLE_SECONDS)  # the sampling period
        await publisher
        try:
            await wait_finished(conn, [workflow_id], lambda: len(load.accepted), [sink])
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{tail_logs(processes)}") from None
        books.seconds = time.monotonic() - started
        await settle(books, conn, [workflow_id], load.accepted, {"soak/a": sink}, by="event_id")
    finally:
        await conn.close()
        await sink.stop()

    half = SOAK_SECONDS / 2
    lines = []
    rss_slopes = {}
    for name, points in memory.items():
        tail = [(x / 60, y) for x, y in points if x >= half]
        rss_slopes[name] = slope(tail)
        quarters = [points[min(len(points) - 1, len(points) * q // 4)][1] for q in range(5)]
        lines.append(f"  RSS {name:<10} MiB at 0/25/50/75/100%: {' / '.join(f'{q:.0f}' for q in quarters)};"
                     f" slope of last half {rss_slopes[name]:+.2f} MiB/min")
    lag_tail = [(x, y) for x, y in lag if x >= half]
    lag_slope = slope(lag_tail)
    lines.append(f"  lag (records): {len(lag)} samples, max {max(y for _, y in lag):.0f},"
                 f" last half mean {sum(y for _, y in lag_tail) / max(1, len(lag_tail)):.0f}, slope {lag_slope:+.2f}/s")
    for g, points in lag_by.items():
        tail = [y for x, y in points if x >= half]
        lines.append(f"  lag {g:<10} max {max(y for _, y in points):.0f}, last half mean"
                     f" {sum(tail) / max(1, len(tail)):.0f}, slope {slope([(x, y) for x, y in points if x >= half]):+.2f}/s")
    books.note = f"{len(lag)} samples every {SAMPLE_SECONDS:.0f}s"
    books.detail = lines
    books.check()
    grown = {n: s for n, s in rss_slopes.items() if s >= RSS_SLOPE_MIB_PER_MIN}
    assert not grown, f"RSS still growing in the second half (MiB/min): {grown}\n" + "\n".join(lines)
    assert lag_slope < LAG_SLOPE_SHARE * SOAK_RATE, f"lag growing: {lag_slope:.1f} records/s\n" + "\n".join(lines)
    assert max(y for _, y in lag_tail) <= LAG_BOUND_SECONDS * SOAK_RATE, "\n".join(lines)
