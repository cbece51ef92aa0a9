"""State stored before state versions is restored, upcast, and run on by the real processors.

The executor's and the timer service's changelogs get the unversioned values
committed in tests/unit/processors/streams/stored/ (an execution waiting on
its delay node's timer, and that timer), exactly as those processors wrote
them before values carried a version. Started on them, the timer service
fires the overdue timer and the executor, restored from the old value,
completes the execution and writes its marker back in the versioned form.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import orjson
from conftest import Processes, wait_for
from pipeline import read_topic

from infra.kafka_io import make_producer, send_output
from infra.settings import Settings
from schemas.codec import decode
from schemas.outputs import Output
from schemas.records import ExecutionCompleted, TimerFired
from schemas.topics import EXECUTIONS, EXECUTOR_STATE, TIMER_STATE

STORED = Path(__file__).resolve().parents[1] / "unit" / "processors" / "streams" / "stored"
JSON = [("content-type", b"application/json")]


async def test_an_unversioned_waiting_execution_resumes_after_a_restart(settings: Settings, processes: Processes) -> None:
    execution = (STORED / "executor-state" / "ex-wait.json").read_bytes()
    (timer_path,) = (STORED / "timer-state").glob("timer*.json")
    assert b'"v":' not in execution[:8] and orjson.loads(execution)["status"] == "running"
    producer = make_producer(settings)
    await producer.start()
    try:
        # Keyed like the executions topic, so it lands in the partition the execution's records do.
        await send_output(producer, settings, Output(EXECUTOR_STATE, "ex-wait", execution, headers=JSON))
        await send_output(producer, settings, Output(
            TIMER_STATE, unquote(timer_path.stem), timer_path.read_bytes(), headers=JSON, partition=0
        ))
        await producer.flush()
    finally:
        await producer.stop()

    processes.start("executor")
    processes.start("timers")

    async def completed() -> list[str] | None:
        mine = [decode(r.value, r.headers)[1] for r in await read_topic(settings, EXECUTIONS, timeout=30)
                if r.key == b"ex-wait"]
        types = [d.TYPE for d in mine]
        return types if ExecutionCompleted.TYPE in types else None

    # The overdue wait fired (its timer from the old timer state), then the execution completed
    # (its state from the old executor state): the transform after the wait ran inline.
    types = await wait_for(completed, timeout=90, interval=0.5, what="the restored execution completed")
    assert types.index(TimerFired.TYPE) < types.index(ExecutionCompleted.TYPE), types

    async def marker() -> dict[str, object] | None:
        values = [r.value for r in await read_topic(settings, EXECUTOR_STATE, timeout=30) if r.key == b"ex-wait"]
        last = values[-1] if values else None
        return orjson.loads(last) if last is not None and last != execution else None

    written = await wait_for(marker, timeout=30, interval=0.5, what="the executor's new state")
    # Written back in the versioned form: the finished marker, at version 1.
    assert written["k"] == "finished" and written["v"] == 1, written
    assert written["s"]["status"] == "completed", written  # type: ignore[index]
