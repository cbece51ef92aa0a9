# ruff: noqa: F811 - pytest fixtures imported by name
"""Flow control over the real pipeline (issue 20): `throttle` and `concurrency` per key,
their decisions in /event-logs, and the waiting count on GET /workflows/{id}."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx
from conftest import wait_for
from pipeline import Sink, api, create_active, executions_of, sink, wait_status  # noqa: F401 - fixtures

SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


def body(name: str, event_type: str, sink: Sink, settings: dict[str, Any], delay: float = 0) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [TRIGGER]
    edges: list[dict[str, Any]] = []
    last = "trigger"
    if delay:
        nodes.append({"id": "work", "name": "Work", "node_type": "delay", "config": {"delay_seconds": delay}})
        edges.append({"source_node": "trigger", "target_node": "work"})
        last = "work"
    nodes.append({"id": "call", "name": "Call", "node_type": "action",
                  "config": {"action_type": "webhook", "url": sink.url(name), "method": "POST", "payload": {"n": "{{input_data.n}}"}}})
    edges.append({"source_node": last, "target_node": "call"})
    return {"name": name, "trigger_type": "event", "trigger_config": {"event_type": event_type},
            "settings": settings, "nodes": nodes, "edges": edges}


async def send(api: httpx.AsyncClient, event_type: str, user: str, **data: Any) -> str:
    r = await api.post("/api/v1/triggers/process_event", json={"event_type": event_type, "user_id": user, "data": data})
    assert r.status_code == 202, r.text
    return str(r.json()["event_log_id"])


async def decisions(api: httpx.AsyncClient, workflow_id: str) -> list[dict[str, Any]]:
    r = await api.get("/api/v1/event-logs", params={"workflow": workflow_id, "page_size": 100})
    assert r.status_code == 200, r.text
    return [d for log in r.json()["results"] for d in log["flow_decisions"] if d["workflow_id"] == workflow_id]


async def test_three_events_under_throttle_limit_one_start_one_and_log_two_throttled(api: httpx.AsyncClient, sink: Sink) -> None:
    workflow_id = await create_active(api, body("capped", "CAPPED", sink, {"throttle": {"limit": 1, "period_seconds": 3600}}))
    events = [await send(api, "CAPPED", "capped-user", n=n) for n in range(3)]

    async def decided() -> list[dict[str, Any]] | None:
        found = await decisions(api, workflow_id)
        return found if len(found) == 3 else None

    found = await wait_for(decided, timeout=60, what="three flow decisions")
    assert sorted(d["decision"] for d in found) == ["started", "throttled", "throttled"]
    runs = await wait_for(lambda: executions_of(api, workflow_id, status="completed"), timeout=60, what="the one execution")
    assert len(runs) == 1 and runs[0]["event_id"] == events[0]
    # Throttled matches name no execution in the event log.
    r = await api.get("/api/v1/event-logs", params={"workflow": workflow_id})
    triggered = {log["event_id"]: log["triggered_executions"] for log in r.json()["results"]}
    assert triggered[events[0]] == [runs[0]["id"]] and triggered[events[1]] == [] and triggered[events[2]] == []
    # Another contact has its own cap.
    await send(api, "CAPPED", "another-user", n=9)
    await wait_for(lambda: _count(api, workflow_id, 2), timeout=60, what="the other contact's execution")
    assert [c.body for c in sink.to("capped")] == [{"n": 0}, {"n": 9}]


async def _count(api: httpx.AsyncClient, workflow_id: str, n: int) -> bool:
    return len(await executions_of(api, workflow_id, status="completed")) == n


async def test_concurrency_one_runs_one_keys_starts_one_after_the_other_and_two_keys_side_by_side(api: httpx.AsyncClient, sink: Sink) -> None:
    workflow_id = await create_active(api, body("serial", "SERIAL", sink, {"concurrency": {"limit": 1}}, delay=3))
    for n in range(3):
        await send(api, "SERIAL", "key-a", n=n)
    await send(api, "SERIAL", "key-b", n=10)

    async def waiting() -> int | None:
        r = await api.get(f"/api/v1/workflows/{workflow_id}")
        count = int(r.json()["statistics"]["waiting_count"])
        return count if count == 2 else None

    # Key a: one runs, two wait (key b runs at once beside it).
    await wait_for(waiting, timeout=30, what="two starts waiting")

    async def all_done() -> list[dict[str, Any]] | None:
        runs = await executions_of(api, workflow_id, status="completed")
        return runs if len(runs) == 4 else None

    runs = await wait_for(all_done, timeout=120, what="four completed executions")
    a = sorted((r for r in runs if r["user_id"] == "key-a"), key=lambda r: r["started_at"])
    (b,) = [r for r in runs if r["user_id"] == "key-b"]
    for earlier, later in pairwise(a):
        assert datetime.fromisoformat(later["started_at"]) >= datetime.fromisoformat(earlier["completed_at"]), (earlier, later)
    # Side by side: key b ran during key a's first execution.
    assert datetime.fromisoformat(b["started_at"]) < datetime.fromisoformat(a[0]["completed_at"])
    assert [c.body["n"] for c in sink.to("serial") if c.body["n"] != 10] == [0, 1, 2]  # in arrival order
    found = await decisions(api, workflow_id)
    assert sorted(d["decision"] for d in found) == ["queued", "queued", "started", "started", "started", "started"]
    r = await api.get(f"/api/v1/workflows/{workflow_id}")
    assert r.json()["statistics"]["waiting_count"] == 0


async def test_waiting_starts_start_by_priority(api: httpx.AsyncClient, sink: Sink) -> None:
    settings = {"concurrency": {"limit": 1, "key": "event.data.account"}, "priority": "input_data.vip ? 10 : 0"}
    workflow_id = await create_active(api, body("ranked", "RANKED", sink, settings, delay=3))
    # One account, three contacts: the first runs; the VIP, who came last, goes next.
    await send(api, "RANKED", "first", account="acme", n=1, vip=False)
    await send(api, "RANKED", "normal", account="acme", n=2, vip=False)
    await send(api, "RANKED", "vip", account="acme", n=3, vip=True)

    async def all_done() -> list[dict[str, Any]] | None:
        runs = await executions_of(api, workflow_id, status="completed")
        return runs if len(runs) == 3 else None

    runs = await wait_for(all_done, timeout=120, what="three completed executions")
    assert [r["user_id"] for r in sorted(runs, key=lambda r: r["started_at"])] == ["first", "vip", "normal"]
    assert [c.body["n"] for c in sink.to("ranked")] == [1, 3, 2]
