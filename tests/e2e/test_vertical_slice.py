# ruff: noqa: F811 - pytest fixtures imported by name
"""The foundation slice, for real: API -> Kafka -> matcher -> executor -> worker -> projection -> API.

Every component runs as its own process against the real broker and database;
the webhook target is a real HTTP server on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from conftest import wait_for
from pipeline import api  # noqa: F401 - fixture

from infra.settings import Settings

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True


class Sink:
    """A webhook target that records what it receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"body": await request.json(), "idempotency_key": request.headers.get("Idempotency-Key")}
        )
        return web.json_response({"received": True, "n": len(self.requests)})


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[Sink]:
    target = Sink()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target.url = f"http://127.0.0.1:{port}/hook"
    yield target
    await runner.cleanup()


def slice_workflow(sink_url: str) -> dict[str, Any]:
    return {
        "name": "Welcome example.com users",
        "trigger_type": "event",
        "trigger_config": {"event_type": "USER_CREATED"},
        "nodes": [
            {"id": "trigger", "name": "User created", "node_type": "trigger"},
            {
                "id": "check-email",
                "name": "Is example.com",
                "node_type": "condition",
                "config": {"condition": "user.email.endsWith('@example.com')"},
            },
            {
                "id": "notify",
                "name": "Notify CRM",
                "node_type": "action",
                "config": {
                    "action_type": "webhook",
                    "url": sink_url,
                    "method": "POST",
                    "payload": {"user_id": "{{user.id}}", "email": "{{user.email}}", "event": "{{event.type}}"},
                },
            },
        ],
        "edges": [
            {"source_node": "trigger", "target_node": "check-email"},
            {"source_node": "check-email", "target_node": "notify", "label": "true"},
        ],
    }


async def test_slice_runs_end_to_end(api: httpx.AsyncClient, sink: Sink, settings: Settings) -> None:
    created = await api.post("/api/v1/workflows", json=slice_workflow(sink.url))
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    assert created.json()["status"] == "draft"

    # Read back from the projection (the API waited for it before answering).
    fetched = await api.get(f"/api/v1/workflows/{workflow_id}")
    assert fetched.status_code == 200
    assert [n["id"] for n in fetched.json()["nodes"]] == ["trigger", "check-email", "notify"]

    activated = await api.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    again = await api.post(f"/api/v1/workflows/{workflow_id}/activate")
    assert again.status_code == 409

    accepted = await api.post(
        "/api/v1/triggers/process_event",
        json={"event_type": "USER_CREATED", "user_id": "u-42", "data": {"email": "ada@example.com", "first_name": "Ada"}},
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["success"] is True

    async def completed() -> dict[str, Any] | None:
        r = await api.get("/api/v1/executions", params={"workflow": workflow_id})
        results = r.json()["results"]
        return results[0] if results and results[0]["status"] == "completed" else None

    summary = await wait_for(completed, timeout=60, what="execution completed")
    detail = (await api.get(f"/api/v1/executions/{summary['id']}")).json()
    assert detail["status"] == "completed"
    assert detail["execution_path"] == ["trigger", "check-email", "notify"]
    steps = {d["node_id"]: d for d in detail["execution_details"]}
    assert steps["check-email"]["output_data"]["result"] is True
    notify = steps["notify"]
    assert notify["status"] == "completed"
    assert notify["input_data"]["payload"] == {"user_id": "u-42", "email": "ada@example.com", "event": "USER_CREATED"}
    assert notify["output_data"]["status_code"] == 200
    assert notify["output_data"]["body"] == {"received": True, "n": 1}
    assert notify["started_at"] is not None and notify["duration_seconds"] is not None
    assert detail["nodes_executed"] == 3 and detail["nodes_failed"] == 0

    # The side effect happened once, with the step's idempotency key.
    assert len(sink.requests) == 1
    assert sink.requests[0]["body"]["email"] == "ada@example.com"
    assert sink.requests[0]["idempotency_key"] == f"{summary['id']}:notify:1"


async def test_non_matching_events_start_nothing(api: httpx.AsyncClient, sink: Sink, settings: Settings) -> None:
    created = await api.post("/api/v1/workflows", json=slice_workflow(sink.url))
    workflow_id = created.json()["id"]
    assert (await api.post(f"/api/v1/workflows/{workflow_id}/activate")).status_code == 200

    other_type = await api.post(
        "/api/v1/triggers/process_event",
        json={"event_type": "USER_DELETED", "user_id": "u-7", "data": {"email": "bob@example.com"}},
    )
    event_id = other_type.json()["event_log_id"]
    other_domain = await api.post(
        "/api/v1/triggers/process_event",
        json={"event_type": "USER_CREATED", "user_id": "u-8", "data": {"email": "eve@elsewhere.org"}},
    )
    assert other_domain.status_code == 202

    conn = await asyncpg.connect(settings.dsn)
    try:
        async def logged() -> Any:
            return await conn.fetchrow("SELECT matched_workflows, evaluations FROM event_logs WHERE id = $1", event_id)

        row = await wait_for(logged, what="trigger log of the non-matching event")
        assert row["matched_workflows"] == 0

        # The other domain passes the trigger but stops at the condition: no webhook call.
        async def finished() -> Any:
            return await conn.fetchrow(
                "SELECT status, execution_path FROM executions WHERE workflow_id = $1 AND subject = 'u-8'"
                " AND status <> 'running'", workflow_id,
            )

        run = await wait_for(finished, what="execution for the other domain")
        assert run["status"] == "completed"
        assert '"notify"' not in run["execution_path"]
        assert await conn.fetchval("SELECT count(*) FROM executions WHERE workflow_id = $1 AND subject = 'u-7'", workflow_id) == 0
    finally:
        await conn.close()
    assert sink.requests == []


async def test_api_refuses_without_token_and_with_bad_input(api: httpx.AsyncClient, settings: Settings) -> None:
    anonymous = httpx.AsyncClient(base_url=str(api.base_url))
    async with anonymous:
        r = await anonymous.get("/api/v1/workflows")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "AUTH_001"
    bad = await api.post("/api/v1/triggers/process_event", json={"data": {}})
    assert bad.status_code == 422
    assert "event_type" in bad.json()["error"]["fields"]
    wrong_login = await api.post("/api/v1/auth/login", json={"email": settings.admin_email, "password": "nope"})
    assert wrong_login.status_code == 401
    dangling = await api.post(
        "/api/v1/workflows",
        json={"name": "x", "nodes": [{"id": "a", "node_type": "trigger"}], "edges": [{"source_node": "a", "target_node": "zz"}]},
    )
    assert dangling.status_code == 422
    assert "edges.0.target_node" in dangling.json()["error"]["fields"]
    missing = await api.get("/api/v1/executions/does-not-exist")
    assert missing.status_code == 404


pytestmark = pytest.mark.asyncio(loop_scope="session")
