"""Executions started by the engine of version 1 finish on today's engine, nothing lost or repeated.

tests/unit/processors/streams/stored/v1/executions/ holds what the executor of version 1
(commit fab473b: the whole pinned workflow in every state write) left on Kafka for two
executions waiting on a timer: their records on the executions and timers topics, and their
executor-state values. They are written to a fresh broker as they were, then today's executor
and timer service start on them:

- `ex-old-delay` (delay 2 s -> transform -> delay 6 s -> add_tag): the first timer is overdue
  and fires; the new executor runs on from the old state and writes it back as a version 2 state
  that names its workflow, with the snapshot entry beside it. The executor is then killed and
  started again before the second delay fires, so the rest runs on state restored from the
  new shape.
- `ex-old-wait` (condition -> wait 1 s -> transform), whose workflow is in no definitions topic
  (deleted since): it completes on its own stored snapshot.

Nothing lost or repeated: every record id on the executions, timers and events topics once,
each execution completed once along the path its workflow gives, one `TAG_ADDED`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from conftest import Processes, wait_for
from pipeline import read_topic

from infra.kafka_io import make_producer, send_output
from infra.settings import Settings
from schemas.codec import decode
from schemas.outputs import Output
from schemas.records import (
    EventIngested,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionSteps,
    NodeSucceeded,
    TimerFired,
)
from schemas.state_versions import WORKFLOW_KEY_PREFIX
from schemas.topics import EVENTS, EXECUTIONS, EXECUTOR_STATE, TIMERS, TopicSpec

STORED = Path(__file__).resolve().parents[1] / "unit" / "processors" / "streams" / "stored" / "v1" / "executions"
TOPICS: dict[str, TopicSpec] = {"executions": EXECUTIONS, "timers": TIMERS}
JSON = [("content-type", b"application/json")]
PATHS = {"ex-old-delay": ("t", "d", "shape", "d2", "tag"), "ex-old-wait": ("t", "c", "w", "out")}


def stored() -> dict[str, dict[str, Any]]:
    return {path.stem: orjson.loads(path.read_bytes()) for path in sorted(STORED.glob("*.json"))}


async def write_old(settings: Settings) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for execution_id, old in stored().items():
            for record in old["records"]:
                headers = [(name, value.encode()) for name, value in record["headers"]]
                await send_output(producer, settings, Output(
                    TOPICS[record["topic"]], record["key"], orjson.dumps(record["value"]), headers=headers))
            # Keyed like the executions topic: the partition its records are in.
            assert old["state"]["v"] == 1 and "workflow" in old["state"]["s"]
            await send_output(producer, settings, Output(EXECUTOR_STATE, execution_id, orjson.dumps(old["state"]), headers=JSON))
        await producer.flush()
    finally:
        await producer.stop()


async def changelog(settings: Settings) -> dict[str, list[dict[str, Any] | None]]:
    """Every committed value of the executor's changelog per key, as stored (version envelope and all)."""
    values: dict[str, list[dict[str, Any] | None]] = {}
    for r in await read_topic(settings, EXECUTOR_STATE, timeout=30):
        values.setdefault(r.key.decode(), []).append(None if r.value is None else orjson.loads(r.value))
    return values


async def executions(settings: Settings) -> dict[str, list[tuple[str, Any]]]:
    found: dict[str, list[tuple[str, Any]]] = {}
    for r in await read_topic(settings, EXECUTIONS, timeout=30):
        envelope, data = decode(r.value, r.headers)
        if envelope.executionid in PATHS:
            # Node steps the new engine wrote together as one record count one by one (ids kept apart).
            steps = data.records() if isinstance(data, ExecutionSteps) else [data]
            for i, step in enumerate(steps):
                record_id = envelope.id if step is data else f"{envelope.id}#{i}"
                found.setdefault(envelope.executionid, []).append((record_id, step))
    return found


async def test_old_executions_finish_on_the_new_engine_across_a_restart(settings: Settings, processes: Processes) -> None:
    await write_old(settings)
    processes.start("timers")
    processes.start("executor")

    # The overdue first delay fired; the executor wrote ex-old-delay back as a version 2 state
    # naming its workflow (no inline copy), and the snapshot's own entry.
    async def rewritten() -> dict[str, Any] | None:
        values = await changelog(settings)
        last = (values.get("ex-old-delay") or [None])[-1]
        if last is None or (last["k"], last["v"]) != ("execution", 2):
            return None
        entry = [v for k, vs in values.items() if k == WORKFLOW_KEY_PREFIX + last["s"]["workflow_ref"] for v in vs]
        return {"state": last, "entry": entry}

    found = await wait_for(rewritten, timeout=90, interval=0.5, what="ex-old-delay rewritten as a version 2 state")
    state = found["state"]["s"]
    assert "workflow" not in state and state["workflow_id"] == "wf-old-delay" and state["workflow_version"] == 3, state
    assert state["nodes"]["d2"]["status"] == "waiting", state["nodes"]  # on its timer, 6 s out
    (entry,) = found["entry"]
    assert entry is not None and entry["k"] == "workflow" and entry["s"]["id"] == "wf-old-delay", entry

    # The switch again, mid-execution: a restarted executor has only its changelog to go on.
    processes.kill("executor")
    processes.start("executor")

    async def finished() -> dict[str, list[tuple[str, Any]]] | None:
        mine = await executions(settings)
        done = {e for e, records in mine.items() if any(isinstance(d, ExecutionCompleted | ExecutionFailed) for _, d in records)}
        return mine if done == set(PATHS) else None

    mine = await wait_for(finished, timeout=120, interval=0.5, what="both old executions finished")
    for execution_id, records in mine.items():
        ids = Counter(record_id for record_id, _ in records)
        assert [i for i, n in ids.items() if n > 1] == [], (execution_id, ids)
        ends = [d for _, d in records if isinstance(d, ExecutionCompleted | ExecutionFailed)]
        assert len(ends) == 1 and isinstance(ends[0], ExecutionCompleted), (execution_id, ends)
        assert ends[0].execution_path == PATHS[execution_id], (execution_id, ends[0].execution_path)
        succeeded = Counter(d.node_id for _, d in records if isinstance(d, NodeSucceeded))
        assert succeeded == Counter(PATHS[execution_id]), (execution_id, succeeded)

    # Each timer fired once: the two stored ones and the second delay's (timer.fired is on the executions topic).
    fired = {e: Counter(d.timer_id for _, d in records if isinstance(d, TimerFired)) for e, records in mine.items()}
    assert {e: sorted(c.values()) for e, c in fired.items()} == {"ex-old-delay": [1, 1], "ex-old-wait": [1]}, fired
    # add_tag's event, once.
    events = [decode(r.value, r.headers) for r in await read_topic(settings, EVENTS, timeout=30)]
    tags = [env.id for env, data in events if isinstance(data, EventIngested) and data.event_type == "TAG_ADDED"]
    assert len(tags) == 1, tags

    # Both end as finished markers; the sweep may drop the snapshot entry later (no execution names it).
    values = await changelog(settings)
    for execution_id in PATHS:
        last = values[execution_id][-1]
        assert last is not None and last["k"] == "finished" and last["s"]["status"] == "completed", (execution_id, last)
