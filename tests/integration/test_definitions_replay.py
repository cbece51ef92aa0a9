# ruff: noqa: F811 - pytest fixtures imported by name
"""Definitions are a pure function of the definitions topic: dropping the definition read
models and replaying the log gives the same API answers (graph, nodes, versions, validation).

A database of its own, like test_replay, so the comparison sees only this module's records.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from conftest import Processes
from pipeline import api, isolated_settings  # noqa: F401 - fixture

from infra.settings import Settings
from projections.replay import replay, replay_check

V1 = "/api/v1"
W = f"{V1}/workflows"


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


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
    # Seed 003's reusable definitions, attached to the second workflow.
    trigger = (await api.post(f"{V1}/triggers", json={"name": "coupon", "trigger_type": "MESSAGE_RECEIVED", "filters": {
        "operator": "and", "conditions": [{"field": "event.data.content", "operator": "icontains", "value": "coupon"}]}})).json()["id"]
    assert (await api.patch(f"{V1}/triggers/{trigger}", json={"description": "asks for a coupon"})).status_code == 200
    action = (await api.post(f"{V1}/actions", json={"name": "reply", "action_type": "send_message",
                                                   "configuration": {"message": "Hi {{user.first_name}}"}})).json()["id"]
    condition = (await api.post(f"{V1}/conditions", json={"name": "vip", "operator": "and", "conditions": [
        {"field": "user.vip", "operator": "equals", "value": True}]})).json()["id"]
    assert (await api.post(f"{W}/{second}/add_trigger", json={"trigger_id": trigger, "priority": 5})).status_code == 200
    assert (await api.post(f"{W}/{second}/add_action", json={"action_id": action, "order": 1})).status_code == 200
    gone = (await api.post(f"{V1}/conditions", json={"name": "gone", "operator": "or", "conditions": [
        {"field": "a", "operator": "exists"}]})).json()["id"]
    assert (await api.delete(f"{V1}/conditions/{gone}")).status_code == 204
    ids.extend([f"trigger:{trigger}", f"action:{action}", f"condition:{condition}"])
    return ids


async def _answers(api: httpx.AsyncClient, ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"list": (await api.get(W, params={"project": "p-replay", "ordering": "name"})).json()}
    for kind in ("triggers", "actions", "conditions"):
        out[kind] = (await api.get(f"{V1}/{kind}")).json()
    for ref in ids:
        if ":" in ref:
            kind, item = ref.split(":")
            out[ref] = (await api.get(f"{V1}/{kind}s/{item}")).json()
            continue
        wid = ref
        current = (await api.get(f"{W}/{wid}")).json()
        out[wid] = {
            "workflow": current,
            "versions": [(await api.get(f"{W}/{wid}", params={"version": v})).json() for v in range(1, current["version"] + 1)],
            "graph": (await api.get(f"{W}/{wid}/graph")).json(),
            "nodes": (await api.get(f"{W}/{wid}/nodes")).json(),
            "edges": (await api.get(f"{W}/{wid}/edges")).json(),
            "validate": (await api.get(f"{W}/{wid}/validate")).json(),
            "triggers": (await api.get(f"{W}/{wid}/triggers")).json(),
            "actions": (await api.get(f"{W}/{wid}/actions")).json(),
        }
    return out


async def test_replaying_the_definitions_topic_restores_identical_answers(api: httpx.AsyncClient, settings: Settings, processes: Processes) -> None:
    ids = await _edits(api)
    before = await _answers(api, ids)
    assert before[ids[0]]["workflow"]["version"] == 12 and len(before[ids[0]]["versions"]) == 12
    assert before["list"]["count"] == 2
    assert before["triggers"]["count"] == 1 and before["conditions"]["count"] == 1
    assert before[ids[1]]["triggers"] and before[ids[1]]["actions"]

    report = await replay_check(settings)
    assert report.same, [t for t in report.tables if not t.same]

    processes.kill("projection")
    conn = await asyncpg.connect(settings.dsn)
    try:
        # The definition read models are gone...
        await conn.execute("TRUNCATE workflows, workflow_versions, triggers, actions, conditions")
        assert await conn.fetchval("SELECT count(*) FROM workflow_versions") == 0
        assert await conn.fetchval("SELECT count(*) FROM triggers") == 0
    finally:
        await conn.close()
    # ...and come back from the log.
    assert await replay(settings) >= report.records
    processes.start("projection")
    assert await _answers(api, ids) == before
