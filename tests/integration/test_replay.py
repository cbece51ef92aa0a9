# ruff: noqa: F811 - pytest fixtures imported by name
"""The read models are a pure function of the log: replaying it rebuilds them exactly.

This module gets a database of its own, so the comparison sees only what its
own topics produced.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import Sink, api, create_active, executions_of, isolated_settings, sink, wait_status  # noqa: F401 - fixtures

from infra.settings import Settings
from projections.replay import replay, replay_check

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


async def _mix(api: httpx.AsyncClient, sink: Sink) -> str:
    """Completed, failed, retried, cancelled executions; contacts; an integration; a data row."""
    sink.script["/flaky"] = [500, 500, 500]
    workflow_id = await create_active(api, {
        "name": "replayed", "trigger_type": "event", "trigger_config": {"event_type": "ORDER"},
        "settings": {"retry_on_failure": True, "max_retries": 1, "retry_backoff_seconds": 0.1},
        "nodes": [TRIGGER, {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "buyer"}},
                  {"id": "call", "node_type": "action", "config": {"action_type": "webhook", "url": sink.url("{{input_data.path}}")}},
                  {"id": "row", "node_type": "action", "config": {"action_type": "create_record", "table": "orders", "data": {"n": "{{input_data.n}}"}}}],
        "edges": [{"source_node": "trigger", "target_node": "tag"}, {"source_node": "tag", "target_node": "call"},
                  {"source_node": "call", "target_node": "row"}],
    })
    for n, path in enumerate(["ok", "flaky", "ok", "ok"]):
        await api.post("/api/v1/triggers/process_event", json={"event_type": "ORDER", "user_id": f"buyer-{n % 2}", "data": {"n": n, "path": path}})
    await api.post("/api/v1/integrations", json={"name": "hook", "type": "messaging", "provider": "slack", "configuration": {"webhook_url": sink.url("slack")}})
    waiting = (await api.post("/api/v1/workflows", json={
        "name": "to cancel", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "wait", "node_type": "delay", "config": {"delay_seconds": 60}}],
        "edges": [{"source_node": "trigger", "target_node": "wait"}]})).json()["id"]
    started = await api.post(f"/api/v1/workflows/{waiting}/execute", json={})
    assert (await api.post(f"/api/v1/executions/{started.json()['execution_id']}/cancel")).json()["status"] == "cancelled"

    async def settled() -> bool:
        runs = await executions_of(api, workflow_id)
        return len(runs) == 4 and all(r["status"] != "running" for r in runs)

    await wait_for(settled, timeout=60, what="the mix to finish")
    await wait_for(lambda: _events_seen(api, {"buyer-0": 4, "buyer-1": 4}), timeout=60, what="every tag event projected")
    return workflow_id


async def _events_seen(api: httpx.AsyncClient, expected: dict[str, int]) -> bool:
    """Each buyer's ORDER events and the TAG_ADDED events its executions emitted, all projected."""
    for contact, count in expected.items():
        r = await api.get(f"/api/v1/contacts/{contact}")
        if r.status_code != 200 or r.json()["events_count"] != count:
            return False
    return True


async def _answers(api: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    runs = await executions_of(api, workflow_id)
    return {
        "workflow": (await api.get(f"/api/v1/workflows/{workflow_id}")).json(),
        "executions": runs,
        "details": [(await api.get(f"/api/v1/executions/{r['id']}")).json() for r in runs],
        "contacts": (await api.get("/api/v1/contacts", params={"page_size": 100})).json()["results"],
        "integrations": (await api.get("/api/v1/integrations")).json()["results"],
        "orders": (await api.get("/api/v1/tables/orders/records", params={"page_size": 100})).json()["results"],
    }


async def test_replay_rebuilds_identical_read_models(api: httpx.AsyncClient, sink: Sink, settings: Settings, processes: Processes) -> None:
    workflow_id = await _mix(api, sink)
    statuses = sorted(r["status"] for r in await executions_of(api, workflow_id))
    assert statuses == ["completed", "completed", "completed", "failed"]
    before = await _answers(api, workflow_id)

    report = await replay_check(settings)
    assert not report.live_moved
    assert report.records > 0
    assert report.same, [t for t in report.tables if not t.same]

    # A read model that drifted from the log is caught.
    conn = await asyncpg.connect(settings.dsn)
    try:
        await conn.execute("UPDATE workflow_stats SET successes = successes + 1 WHERE workflow_id = $1", workflow_id)
    finally:
        await conn.close()
    drifted = await replay_check(settings)
    assert [t.table for t in drifted.tables if not t.same] == ["workflow_stats"]

    # A full replay (projection stopped) rebuilds everything, and the API answers the same.
    processes.kill("projection")
    applied = await replay(settings)
    assert applied >= report.records
    processes.start("projection")
    after = await _answers(api, workflow_id)
    assert after == before
    assert (await replay_check(settings)).same
