"""Set-based batches leave exactly the rows that applying records one at a time leaves.

One history full of awkward cases (duplicate starts and results, a result before
its step was scheduled, executions ending twice, records of executions that never
started, late side-channel steps, equal completion times, cancellations, retries
and a workflow deletion between folded records, duplicate trigger evaluations)
is applied twice into two schemas of one database: record by record through
`projections.readmodels.apply`, and in batches of random sizes through
`projections.batch.apply_batch`. Every table must hold the same rows.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import asyncpg
import orjson
import pytest_asyncio
from pipeline import isolated_settings

from infra.migrations import migrate
from infra.settings import Settings
from projections.batch import Item, apply_batch
from projections.readmodels import apply
from projections.replay import _rows, _tables
from schemas.codec import decode, encode
from schemas.envelope import RecordData, make_envelope, now
from schemas.records import (
    STEP_RECORDS,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionSteps,
    IntegrationDefined,
    NodeError,
    NodeFailed,
    NodeRetryScheduled,
    NodeScheduled,
    NodeSucceeded,
    TriggerEvaluated,
    TriggerEvaluation,
    WorkflowDefined,
    WorkspaceDefined,
)
from schemas.workflow import Node, NodeType, WorkflowSnapshot

WS = "ws-batches"


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


def _item(data: RecordData, at: datetime, offset: int, execution_id: str | None = None, subject: str | None = None) -> Item:
    env = make_envelope(data, source="tests", workspace_id=WS, execution_id=execution_id, subject=subject, time=at)
    # Through the codec, as the projection reads it off Kafka.
    decoded, record = decode(encode(env))
    return decoded, record, offset


def history(seed: int, inline: bool = False) -> list[Item]:
    """`inline`: the condition runs in the executor, as it does: its result (no scheduling of
    its own) and the HTTP node's scheduling at the same instant, as one transaction writes them."""
    rng = random.Random(seed)
    t0 = now().replace(minute=50) - timedelta(hours=3)
    items: list[Item] = []

    def at(seconds: float) -> datetime:
        # Microseconds kept, as real clocks give them.
        return t0 + timedelta(seconds=seconds, microseconds=rng.randint(0, 999999))

    def add(data: RecordData, when: datetime, execution_id: str | None = None, subject: str | None = None) -> None:
        items.append(_item(data, when, len(items), execution_id, subject))

    nodes = (Node(id="check", node_type=NodeType.CONDITION), Node(id="call", node_type=NodeType.HTTP_REQUEST),
             Node(id="tag", node_type=NodeType.ACTION, config={"action_type": "add_tag"}))
    workflows = [
        WorkflowSnapshot(id=f"wf-{i}-{uuid.uuid4().hex[:6]}", workspace_id=WS, version=1, name=f"flow {i}",
                         nodes=nodes, created_at=t0, updated_at=t0)
        for i in range(3)
    ]
    add(WorkspaceDefined(id=WS, name="batches", created_at=t0), t0)
    for w in workflows:
        add(WorkflowDefined(workflow=w), t0)
    integration = f"int-{uuid.uuid4().hex[:6]}"
    add(IntegrationDefined(id=integration, workspace_id=WS, version=1, name="crm", integration_type="crm",
                           provider="hubspot", created_at=t0, updated_at=t0), t0)

    # Each execution's records in order; executions interleave like partitions of a batch.
    scripts: list[list[tuple[RecordData, datetime, str | None, str | None]]] = []
    tie = at(20000)  # after every other end: the ties decide last_status
    for n in range(160):
        tied = n % 19 == 4  # ends at `tie`, all in the first workflow, completed and failed mixed
        w = workflows[0 if tied else n % 3]
        eid = f"ex-{n}-{uuid.uuid4().hex[:6]}"
        begin = at(rng.uniform(0, 9000))
        script: list[tuple[RecordData, datetime, str | None, str | None]] = []

        def rec(data: RecordData, when: datetime, eid: str = eid,
                script: list[tuple[RecordData, datetime, str | None, str | None]] = script) -> None:
            script.append((data, when, eid, None))

        orphan = n % 23 == 7  # never started: its results and end must change nothing but the steps
        if not orphan:
            rec(ExecutionStarted(execution_id=eid, workflow=w, trigger_type="event", subject=f"user-{n % 7}",
                                 context={"input_data": {"n": n}, "user": {"id": f"user-{n % 7}"}}), begin)
            if n % 11 == 3:
                rec(ExecutionStarted(execution_id=eid, workflow=w, trigger_type="event"), begin)  # duplicate
        clock = begin
        failed_at: str | None = None
        for node in nodes:
            if not (inline and node.id == "call"):
                clock += timedelta(milliseconds=rng.uniform(0.5, 80))
            scheduled = NodeScheduled(execution_id=eid, node_id=node.id, node_type=node.node_type, attempt=1,
                                      input={"action_type": "webhook"} if node.id == "call" else {})
            done_at = clock + timedelta(milliseconds=rng.uniform(0.1, 300))
            if node.id == "call" and (n % 5 == 0 or (tied and n % 2 == 1)):
                error = NodeError(code="HTTP_500", message=f"boom {n}", retryable=True,
                                  integration_id=integration if n % 10 == 0 else None)
                result: RecordData = NodeFailed(execution_id=eid, node_id=node.id, node_type=node.node_type, attempt=1,
                                                input={"action_type": "webhook"}, error=error, started_at=clock,
                                                completed_at=done_at)
                failed_at = node.id
            else:
                output = {"ok": n, "integration_id": integration} if node.id == "call" and n % 3 == 0 else {"ok": n}
                result = NodeSucceeded(execution_id=eid, node_id=node.id, node_type=node.node_type, attempt=1,
                                       input={"action_type": "webhook"} if node.id == "call" else {},
                                       output=output, started_at=clock, completed_at=done_at)
            if inline and node.id == "check" and isinstance(result, NodeSucceeded):
                result = result.model_copy(update={"started_at": clock, "completed_at": clock})
                rec(result, clock)
                if n % 17 == 2:
                    rec(result, clock)  # a re-delivered result
                continue
            if n % 13 == 5 and node.id == "check":
                rec(result, done_at)  # the result before its step was scheduled
                rec(scheduled, clock)
            else:
                rec(scheduled, clock)
                rec(result, done_at)
            if n % 17 == 2:
                rec(result, done_at)  # a re-delivered result
            if failed_at and n % 2 == 0:
                rec(NodeRetryScheduled(execution_id=eid, node_id=node.id, attempt=1, next_attempt=2, delay_seconds=1,
                                       retry_at=done_at + timedelta(seconds=1), error=error), done_at)
            clock = done_at
            if failed_at:
                break
        end = clock + timedelta(milliseconds=rng.uniform(0.1, 20))
        if tied:
            end = tie  # equal completion times: the later record must win last_status
        if n % 29 == 9:
            rec(ExecutionCancelled(execution_id=eid, workflow_id=w.id, workflow_version=1, reason="stop",
                                   started_at=begin, completed_at=end), end)
        elif failed_at:
            rec(ExecutionFailed(execution_id=eid, workflow_id=w.id, workflow_version=1,
                                error=NodeError(code="HTTP_500", message="boom"), failed_node=failed_at,
                                execution_path=("check", "call"), started_at=begin, completed_at=end), end)
        else:
            rec(ExecutionCompleted(execution_id=eid, workflow_id=w.id, workflow_version=1, output={"n": n},
                                   execution_path=("check", "call", "tag"), started_at=begin, completed_at=end), end)
        if n % 7 == 1:
            # Ends twice, then a late side-channel step (a failure notification) after the end.
            rec(ExecutionCompleted(execution_id=eid, workflow_id=w.id, workflow_version=1,
                                   started_at=begin, completed_at=end + timedelta(seconds=1)), end)
            late = end + timedelta(seconds=2)
            rec(NodeScheduled(execution_id=eid, node_id="__on_failure__", node_type=NodeType.ACTION, attempt=1), late)
            rec(NodeSucceeded(execution_id=eid, node_id="__on_failure__", node_type=NodeType.ACTION, attempt=1,
                              input={"action_type": "send_email"}, started_at=late, completed_at=late), late)
        scripts.append(script)
    for n in range(60):
        subject = f"user-{n % 7}"
        event_id = f"ev-{n % 50}"  # some evaluated twice: the first log row stays
        scripts.append([(TriggerEvaluated(
            event_id=event_id, event_type="SIGNUP", user_id=subject, event_data={"n": n},
            evaluations=(TriggerEvaluation(workflow_id=workflows[0].id, workflow_version=1, matched=n % 2 == 0,
                                           reason="ok"),),
            profile={"email": f"{subject}@example.com", "tags": ["a", f"t{n}"], "first_name": None} if n % 4 else None,
        ), at(rng.uniform(0, 9000)), None, subject)])

    deleted_after = 300  # the last workflow is deleted mid-history, between folded records
    cursor = [0] * len(scripts)
    while any(c < len(s) for c, s in zip(cursor, scripts, strict=True)):
        live = [i for i, s in enumerate(scripts) if cursor[i] < len(s)]
        i = rng.choice(live)
        for _ in range(rng.randint(1, 3)):
            if cursor[i] < len(scripts[i]):
                data, when, eid, subject = scripts[i][cursor[i]]
                cursor[i] += 1
                add(data, when, eid, subject)
        if len(items) >= deleted_after and deleted_after:
            deleted_after = 0
            add(WorkflowDefined(workflow=workflows[2].model_copy(update={"deleted": True, "version": 2})), t0)
    return items


async def _schema(settings: Settings, name: str) -> asyncpg.Connection:
    admin = await asyncpg.connect(settings.dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await admin.close()
    await migrate(settings.dsn, schema=name)
    return await asyncpg.connect(settings.dsn, server_settings={"search_path": name})


async def test_batches_equal_one_at_a_time(settings: Settings) -> None:
    items = history(seed=8)
    tag = uuid.uuid4().hex[:6]
    one, many = await _schema(settings, f"one_{tag}"), await _schema(settings, f"many_{tag}")
    try:
        for env, data, offset in items:
            async with one.transaction():
                await apply(one, env, data, offset)
        rng = random.Random(3)
        start = 0
        while start < len(items):
            size = rng.choice([1, 2, 7, 50, 400])
            async with many.transaction():
                await apply_batch(many, items[start:start + size])
            start += size

        # The history exercises what it is meant to: every kind of row exists.
        counts = {t: await one.fetchval(f'SELECT count(*) FROM "{t}"') for t in
                  ("executions", "execution_steps", "workflow_stats", "execution_hourly_stats", "node_stats",
                   "connector_metrics", "event_logs", "contacts")}
        assert all(counts.values()), counts
        statuses = {r["status"] for r in await one.fetch("SELECT DISTINCT status FROM executions")}
        assert statuses == {"completed", "failed", "cancelled"}
        assert await one.fetchval("SELECT calls_failed FROM integrations") > 0

        # Equal latest completion times with different outcomes: the last one in the log wins.
        ends: dict[str, RecordData] = {}
        for _, d, _ in items:
            if isinstance(d, ExecutionCompleted | ExecutionFailed):
                ends.setdefault(d.execution_id, d)  # an execution's first end is the one that counts
        latest = max(d.completed_at for d in ends.values())  # type: ignore[attr-defined]
        tied = [d for d in ends.values() if d.completed_at == latest]  # type: ignore[attr-defined]
        assert len(tied) > 2 and type(tied[0]) is not type(tied[-1])
        tables = await _tables(one, f"one_{tag}")
        assert "executions" in tables
        for table in tables:
            expected = await _rows(one, f"one_{tag}", table)
            got = await _rows(many, f"many_{tag}", table)
            assert got == expected, (table, sorted(expected - got)[:2], sorted(got - expected)[:2])
    finally:
        await one.close()
        await many.close()


async def test_a_whole_history_in_one_batch(settings: Settings) -> None:
    """The largest run the fold sees: everything between two barrier records at once."""
    items = history(seed=21)
    tag = uuid.uuid4().hex[:6]
    one, many = await _schema(settings, f"one_{tag}"), await _schema(settings, f"many_{tag}")
    try:
        async with one.transaction():
            for env, data, offset in items:
                await apply(one, env, data, offset)
        async with many.transaction():
            await apply_batch(many, items)
        for table in await _tables(one, f"one_{tag}"):
            assert await _rows(many, f"many_{tag}", table) == await _rows(one, f"one_{tag}", table), table
    finally:
        await one.close()
        await many.close()


def compacted(items: list[Item]) -> list[Item]:
    """The history as today's executor writes it: consecutive node steps of one execution
    with one envelope (one transaction's, at one instant) as one ExecutionSteps record."""
    out: list[Item] = []
    run: list[Item] = []

    def same(a: Item, b: Item) -> bool:
        return (a[0].executionid, a[0].time, a[0].workspaceid, a[0].subject) == (b[0].executionid, b[0].time,
                                                                                b[0].workspaceid, b[0].subject)

    def close() -> None:
        if len(run) > 1:
            steps = ExecutionSteps.of(run[0][1].execution_id, [d for _, d, _ in run])  # type: ignore[attr-defined, misc]
            out.append(_item(steps, run[0][0].time, len(out), run[0][0].executionid))
        elif run:
            out.append((run[0][0], run[0][1], len(out)))
        run.clear()

    for item in items:
        if type(item[1]) in STEP_RECORDS and (not run or same(run[0], item)):
            run.append(item)
            continue
        close()
        if type(item[1]) in STEP_RECORDS:
            run.append(item)
        else:
            out.append((item[0], item[1], len(out)))
    close()
    return out


async def _ordered_steps(conn: asyncpg.Connection, schema: str) -> set[str]:
    """execution_steps rows with `seq` (an offset: another in a compacted log) as the step's rank in its execution."""
    rows = await conn.fetch(
        f'SELECT to_jsonb(t) - \'seq\' || jsonb_build_object(\'rank\', row_number() OVER'
        f' (PARTITION BY execution_id ORDER BY seq, attempt)) AS row FROM "{schema}".execution_steps t'
    )
    return {orjson.dumps(orjson.loads(r["row"]), option=orjson.OPT_SORT_KEYS).decode() for r in rows}


async def test_steps_records_leave_exactly_the_rows_of_their_steps(settings: Settings) -> None:
    """Issue 17: a log with ExecutionSteps records projects to the read models (execution_steps in
    their order, node_stats, workflow_stats, hourly stats, counters) of the same log with each step
    its own record, one at a time and in batches."""
    pairs = history(seed=7, inline=True)  # a seed whose log has re-delivered results inside steps records
    steps = compacted(pairs)
    compact_records = [d for _, d, _ in steps if isinstance(d, ExecutionSteps)]
    assert len(compact_records) > 50 and len(steps) < len(pairs) - 50
    assert any(len(d.steps) > 2 for d in compact_records)  # a re-delivered result inside one
    tag = uuid.uuid4().hex[:6]
    names = (f"pairs_{tag}", f"steps_one_{tag}", f"steps_many_{tag}")
    one, steps_one, steps_many = [await _schema(settings, name) for name in names]
    try:
        for env, data, offset in pairs:
            async with one.transaction():
                await apply(one, env, data, offset)
        for env, data, offset in steps:
            async with steps_one.transaction():
                await apply(steps_one, env, data, offset)
        rng = random.Random(5)
        start = 0
        while start < len(steps):
            size = rng.choice([1, 2, 7, 50, 400])
            async with steps_many.transaction():
                await apply_batch(steps_many, steps[start:start + size])
            start += size

        counts = {t: await one.fetchval(f'SELECT count(*) FROM "{t}"') for t in
                  ("executions", "execution_steps", "workflow_stats", "execution_hourly_stats", "node_stats",
                   "connector_metrics")}
        assert all(counts.values()), counts
        tables = await _tables(one, names[0])
        assert "execution_steps" in tables and "node_stats" in tables
        for conn, name in ((steps_one, names[1]), (steps_many, names[2])):
            for table in tables:
                if table == "execution_steps":
                    expected, got = await _ordered_steps(one, names[0]), await _ordered_steps(conn, name)
                else:
                    expected, got = await _rows(one, names[0], table), await _rows(conn, name, table)
                assert got == expected, (name, table, sorted(expected - got)[:2], sorted(got - expected)[:2])
    finally:
        for conn in (one, steps_one, steps_many):
            await conn.close()
