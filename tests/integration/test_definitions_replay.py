# ruff: noqa: F811 - pytest fixtures imported by name
"""Definitions are a pure function of the definitions topic: dropping the definition read
models and replaying the log gives the same API answers (graph, nodes, versions, validation).

A database of its own, like test_replay, so the comparison sees only this module's records.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from conftest import Processes
from pipeline import api  # noqa: F401 - fixture

from infra.migrations import migrate
from infra.settings import Settings
from infra.topic_admin import ensure_topics
from projections.replay import replay, replay_check

W = "/api/v1/workflows"


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    from conftest import free_port

    name = f"fluxo_defs_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(services.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = services.dsn.rsplit("/", 1)[0]
    mine = services.model_copy(update={
        "topic_prefix": f"{services.topic_prefix}{uuid.uuid4().hex[:6]}.", "api_port": free_port(),
        "database_url": f"{base}/{name}",
    })
    await ensure_topics(mine)
    await migrate(mine.dsn)
    return mine


async def _edits(api: httpx.AsyncClient) -> list[str]:
    ids = []
    first = (await api.post(W, json={"name": "replayed graph", "trigger_type": "webhook", "project": "p-replay"})).json()["id"]
    for body in ({"id": "t", "node_type": "trigger"},
                 {"id": "c", "node_type": "condition", "config": {"condition": "input_data.ok == true"}},
                 {"id": "x", "node_type": "transform", "config": {"mapping": {"a": "{{input_data.a}}"}}},
                 {"id": "gone", "node_type": "delay", "config": {"delay_seconds": 5}}):
        assert (await api.post(f"{W}/{first}/nodes", json=body)).status_code == 201
    for s, t in (("t", "c"), ("c", "x"), ("x", "gone")):
        assert (await api.post(f"{W}/{first}/edges", json={"source_node": s, "target_node": t, "label": "true" if s == "c" else None})).status_code == 201
    assert (await api.delete(f"{W}/{first}/nodes/gone")).status_code == 204
    assert (await api.patch(f"{W}/{first}/nodes/x", json={"position": {"x": 10, "y": 20}})).status_code == 200
    assert (await api.post(f"{W}/{first}/activate")).status_code == 200
    assert (await api.patch(f"{W}/{first}", json={"description": "edited", "settings": {"timeout_seconds": 30}})).status_code == 200
    ids.append(first)
    second = (await api.post(W, json={"name": "second", "trigger_type": "manual", "project": "p-replay",
                                      "nodes": [{"id": "t", "node_type": "trigger"}]})).json()["id"]
    assert (await api.put(f"{W}/{second}", json={"name": "second v2", "max_executions": 3})).status_code == 200
    ids.append(second)
    doomed = (await api.post(W, json={"name": "deleted", "project": "p-replay"})).json()["id"]
    assert (await api.delete(f"{W}/{doomed}")).status_code == 204
    return ids


async def _answers(api: httpx.AsyncClient, ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"list": (await api.get(W, params={"project": "p-replay", "ordering": "name"})).json()}
    for wid in ids:
        current = (await api.get(f"{W}/{wid}")).json()
        out[wid] = {
            "workflow": current,
            "versions": [(await api.get(f"{W}/{wid}", params={"version": v})).json() for v in range(1, current["version"] + 1)],
            "graph": (await api.get(f"{W}/{wid}/graph")).json(),
            "nodes": (await api.get(f"{W}/{wid}/nodes")).json(),
            "edges": (await api.get(f"{W}/{wid}/edges")).json(),
            "validate": (await api.get(f"{W}/{wid}/validate")).json(),
        }
    return out


async def test_replaying_the_definitions_topic_restores_identical_answers(api: httpx.AsyncClient, settings: Settings, processes: Processes) -> None:
    ids = await _edits(api)
    before = await _answers(api, ids)
    assert before[ids[0]]["workflow"]["version"] == 12 and len(before[ids[0]]["versions"]) == 12
    assert before["list"]["count"] == 2

    report = await replay_check(settings)
    assert report.same, [t for t in report.tables if not t.same]

    processes.kill("projection")
    conn = await asyncpg.connect(settings.dsn)
    try:
        # The definition read models are gone...
        await conn.execute("TRUNCATE workflows, workflow_versions")
        assert await conn.fetchval("SELECT count(*) FROM workflow_versions") == 0
    finally:
        await conn.close()
    # ...and come back from the log.
    assert await replay(settings) >= report.records
    processes.start("projection")
    assert await _answers(api, ids) == before
