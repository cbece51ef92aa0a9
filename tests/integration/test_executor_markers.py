"""A finished execution's marker leaves the executor (a changelog tombstone) once past its horizon.

The executor runs with FLUXO_EXECUTOR_FINISHED_HORIZON_SECONDS=1: each execution's
state becomes a marker when it ends, then a tombstone about a second later, so
neither the executor's memory nor its compacted changelog keeps one per execution.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import create_active, executions_of, read_topic, running_pipeline

from infra.settings import Settings
from schemas.topics import EXECUTOR_STATE


@pytest_asyncio.fixture
async def api(settings: Settings, processes: Processes) -> Any:
    processes.env["FLUXO_EXECUTOR_FINISHED_HORIZON_SECONDS"] = "1"
    async with running_pipeline(settings, processes) as (client, _):
        yield client


async def changelog(settings: Settings) -> dict[str, list[dict[str, Any] | None]]:
    """Every committed value of the executor's state changelog, per key, in order, decoded as a restore does."""
    assert EXECUTOR_STATE.state is not None
    values: dict[str, list[dict[str, Any] | None]] = {}
    for r in await read_topic(settings, EXECUTOR_STATE, timeout=30):
        key = r.key.decode()
        values.setdefault(key, []).append(None if r.value is None else EXECUTOR_STATE.state.decode(key, r.value))
    return values


async def test_finished_markers_are_tombstoned_after_the_horizon(api: httpx.AsyncClient, settings: Settings) -> None:
    workflow_id = await create_active(api, {
        "name": "short lived", "trigger_type": "event", "trigger_config": {"event_type": "MARKER_TEST"},
        "nodes": [{"id": "trigger", "node_type": "trigger"},
                  {"id": "shape", "node_type": "transform", "config": {"mapping": {"n": "{{event.data.n}}"}}}],
        "edges": [{"source_node": "trigger", "target_node": "shape"}],
    })
    for n in range(3):
        r = await api.post("/api/v1/triggers/process_event", json={"event_type": "MARKER_TEST", "user_id": f"m-{n}", "data": {"n": n}})
        assert r.status_code == 202, r.text

    async def completed() -> list[str] | None:
        runs = await executions_of(api, workflow_id, status="completed")
        return [r["id"] for r in runs] if len(runs) == 3 else None

    ids = await wait_for(completed, timeout=60, what="three executions completed")

    async def tombstoned() -> dict[str, list[dict[str, Any] | None]] | None:
        values = await changelog(settings)
        mine = {i: values.get(i, []) for i in ids}
        return mine if all(v and v[-1] is None for v in mine.values()) else None

    history = await wait_for(tombstoned, timeout=30, interval=0.5, what="each marker tombstoned")
    for execution_id, values in history.items():
        # The marker (status and when it finished) came first, then the tombstone.
        marker = values[-2]
        assert marker is not None and marker["status"] == "completed" and marker["finished_at"] > 0, (execution_id, values)
