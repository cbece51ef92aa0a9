"""Slow and failing webhook targets: one hangs, one answers 500, one resets connections.

Each bad call is retried with backoff (timeouts for the hanging one), then the failure
path is taken (an error edge to a fallback webhook). Meanwhile executions calling a healthy
target run at full speed: the bad ones take no worker capacity from them (bulkhead). The
load is FLUXO_FAULTS_EXECUTIONS in all: half healthy, half split between the bad targets.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from conftest import Processes
from harness import (
    EXECUTIONS_PER_CASE,
    Books,
    Load,
    Sink,
    chain,
    create_active,
    pipeline,
    settle,
    sinks,
    subjects,
    tail_logs,
    wait_finished,
    webhook,
)

from infra.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

N = EXECUTIONS_PER_CASE
HANG_TIMEOUT = 8.0  # the hanging target's node timeout
RETRIES = 2
BACKOFF = 0.5
# A healthy execution's event-to-completion bound while the bad targets misbehave: under
# one hanging call's timeout, so it cannot have waited behind one (before the worker's
# bulkhead, p95 was above the timeout: ~10 s with a 4 s timeout).
HEALTHY_P95_BOUND = HANG_TIMEOUT


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Processes, httpx.AsyncClient, str]]:
    async with pipeline(settings, tmp_path_factory.mktemp("slow")) as running:
        yield running


def bad_workflow(kind: str, event_type: str, bad: Sink, fallback: Sink) -> dict[str, object]:
    call = webhook("call", f"{bad.base_url}/{kind}/call", timeout_seconds=HANG_TIMEOUT,
                   retry={"max_retries": RETRIES, "backoff_seconds": BACKOFF, "max_backoff_seconds": 5})
    return chain(
        f"{kind} target", event_type, call, webhook("fallback", f"{fallback.base_url}/{kind}/fallback"),
        edges=[{"source_node": "trigger", "target_node": "call"},
               {"source_node": "call", "target_node": "fallback", "label": "error"}],
    )


async def test_slow_and_failing_targets_retry_fail_over_and_spare_the_healthy(
    system: tuple[Processes, httpx.AsyncClient, str], settings: Settings,
) -> None:
    processes, client, workspace_id = system
    async with sinks("ok", "hang", "fail", "reset") as (healthy, hang, fail, reset):
        bad = {"hang": hang, "fail": fail, "reset": reset}
        tag = uuid.uuid4().hex[:4]
        healthy_type = f"HEALTHY_{tag}"
        healthy_wf = await create_active(client, chain("healthy", healthy_type, webhook("a", f"{healthy.base_url}/ok/a")))
        bad_wf = {k: await create_active(client, bad_workflow(k, f"{k.upper()}_{tag}", s, healthy)) for k, s in bad.items()}
        per_bad = max(10, N // 6)
        loads = {k: Load(settings, workspace_id, f"{k.upper()}_{tag}", subjects(k, per_bad)) for k in bad}
        # The bad traffic first, so the healthy load meets targets already hanging and failing.
        healthy_load = Load(settings, workspace_id, healthy_type, subjects("healthy", N - per_bad * 3), rate=max(20.0, N / 10))
        books = Books("slow/failing targets")
        started = time.monotonic()
        await asyncio.gather(*(load.run() for load in loads.values()))
        await asyncio.gather(healthy_load.run())

        conn = await asyncpg.connect(settings.dsn)
        try:
            try:
                await wait_finished(conn, [healthy_wf], lambda: len(healthy_load.accepted), [healthy])
                healthy_done_at = time.monotonic()
                bad_at_healthy_done = await _finished(conn, list(bad_wf.values()))
                await wait_finished(conn, list(bad_wf.values()), lambda: sum(len(x.accepted) for x in loads.values()),
                                    [healthy, hang, fail, reset])
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{tail_logs(processes)}") from None
            books.seconds = time.monotonic() - started
            accepted = healthy_load.accepted | set().union(*(x.accepted for x in loads.values()))
            effects = {"ok/a": healthy, **{f"{k}/fallback": healthy for k in bad}}
            scope = {"ok/a": healthy_load.accepted, **{f"{k}/fallback": loads[k].accepted for k in bad}}
            await settle(books, conn, [healthy_wf, *bad_wf.values()], accepted, effects, scope=scope)
            latencies = await _latencies(conn, healthy_wf)
        finally:
            await conn.close()

        # Retries with backoff: every bad call was tried 1 + RETRIES times, one key per attempt,
        # the attempts apart by at least the backoff (and the timeout, for the hanging target).
        attempts_seen = 0
        for kind, sink in bad.items():
            per_execution: dict[str, list[tuple[int, float]]] = defaultdict(list)
            for d in sink.deliveries:
                assert d.key is not None, f"{kind}: a call without an Idempotency-Key"
                execution_id, node, attempt = d.key.rsplit(":", 2)
                assert node == "call"
                per_execution[execution_id].append((int(attempt), d.at))
            assert len(per_execution) == len(loads[kind].accepted), (kind, len(per_execution))
            for execution_id, tries in per_execution.items():
                tries.sort()
                assert [a for a, _ in tries] == list(range(1, RETRIES + 2)), (kind, execution_id, tries)
                gaps = [b - a for (_, a), (_, b) in itertools.pairwise(tries)]
                floor = BACKOFF / 2 + (HANG_TIMEOUT if kind == "hang" else 0)
                assert min(gaps) >= floor * 0.9, (kind, execution_id, gaps)
            attempts_seen += sum(len(t) for t in per_execution.values())
        books.retried = attempts_seen - sum(len(x.accepted) for x in loads.values())
        # The failure path was taken once per bad execution.
        books.failed_path = sum(healthy.total(f"{k}/fallback") for k in bad)
        assert books.failed_path == sum(len(x.accepted) for x in loads.values())
        # Bulkhead: the healthy executions were all done while bad ones were still retrying,
        # and none of them waited behind a hanging call.
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        books.note = (f"healthy done in {healthy_done_at - started:.0f}s, p95 {p95:.2f}s, with"
                      f" {bad_at_healthy_done} of {per_bad * 3} bad ones finished")
        books.check()
        assert bad_at_healthy_done < per_bad * 3, "the bad executions finished before the healthy ones"
        assert p95 < HEALTHY_P95_BOUND, f"healthy executions waited behind bad targets: p95 {p95:.2f}s"


async def _finished(conn: asyncpg.Connection, workflow_ids: list[str]) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM executions WHERE workflow_id = ANY($1::text[]) AND status <> 'running'", workflow_ids))


async def _latencies(conn: asyncpg.Connection, workflow_id: str) -> list[float]:
    rows = await conn.fetch(
        "SELECT extract(epoch FROM completed_at - started_at) AS s FROM executions WHERE workflow_id = $1", workflow_id)
    return [float(r["s"]) for r in rows]
