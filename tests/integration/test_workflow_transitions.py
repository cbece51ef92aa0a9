# ruff: noqa: F811 - pytest fixtures imported by name
"""Every status transition from every status: allowed ones move and bump the version,
illegal ones answer 409 (AUTO_005) and write nothing."""

from __future__ import annotations

import httpx
from pipeline import api  # noqa: F401 - fixtures

from api.routers.workflows import _TRANSITIONS
from schemas.workflow import WorkflowStatus

BODY = {
    "name": "transitions", "trigger_type": "manual",
    "nodes": [{"id": "trigger", "node_type": "trigger"},
              {"id": "call", "node_type": "action", "config": {"action_type": "webhook", "url": "http://127.0.0.1:9/x"}}],
    "edges": [{"source_node": "trigger", "target_node": "call"}],
}

# What users of the API can rely on, written out rather than read from the code under test.
EXPECTED: dict[str, dict[str, str | None]] = {
    # action:      draft       active       paused      inactive    scheduled   archived
    "activate":   {"draft": "active", "active": None, "paused": "active", "inactive": "active", "scheduled": "active", "archived": None},
    "deactivate": {"draft": None, "active": "inactive", "paused": "inactive", "inactive": None, "scheduled": "inactive", "archived": None},
    "pause":      {"draft": None, "active": "paused", "paused": None, "inactive": None, "scheduled": "paused", "archived": None},
    "archive":    {"draft": "archived", "active": "archived", "paused": "archived", "inactive": "archived", "scheduled": "archived", "archived": None},
    "reset":      {"draft": None, "active": "draft", "paused": "draft", "inactive": "draft", "scheduled": "draft", "archived": "draft"},
}


def test_the_expectations_cover_every_action_and_status() -> None:
    assert set(EXPECTED) == set(_TRANSITIONS)
    assert all(set(row) == {s.value for s in WorkflowStatus} for row in EXPECTED.values())


async def test_every_transition_from_every_status(api: httpx.AsyncClient) -> None:
    for action, row in EXPECTED.items():
        for start, target in row.items():
            created = await api.post("/api/v1/workflows", json={**BODY, "status": start})
            assert created.status_code == 201, (start, created.text)
            workflow = created.json()
            answer = await api.post(f"/api/v1/workflows/{workflow['id']}/{action}")
            after = (await api.get(f"/api/v1/workflows/{workflow['id']}")).json()
            if target is None:
                assert answer.status_code == 409, (action, start, answer.text)
                assert answer.json()["error"]["code"] == "AUTO_005"
                assert (after["status"], after["version"]) == (start, workflow["version"])
            else:
                assert answer.status_code == 200, (action, start, answer.text)
                assert answer.json()["status"] == target
                assert (after["status"], after["version"]) == (target, workflow["version"] + 1)
    unknown = await api.post(f"/api/v1/workflows/{workflow['id']}/explode")
    assert unknown.status_code == 404
    assert (await api.post("/api/v1/workflows/ghost/activate")).status_code == 404
