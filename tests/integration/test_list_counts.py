"""Long lists count exactly up to FLUXO_LIST_COUNT_CAP, then say so; paging does not depend on the count."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import isolated_settings

from infra.bootstrap import bootstrap_admin
from infra.kafka_io import make_producer, send_output
from infra.settings import Settings
from schemas.envelope import make_envelope, now
from schemas.outputs import Output
from schemas.records import ExecutionCompleted, ExecutionStarted
from schemas.topics import EXECUTIONS
from schemas.workflow import Node, NodeType, WorkflowSnapshot

CAP = 5
TOTAL = 8  # executions: 6 completed, 2 still running


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


async def _history(settings: Settings, workspace_id: str) -> str:
    t0 = now() - timedelta(minutes=10)
    workflow = WorkflowSnapshot(id=str(uuid.uuid4()), workspace_id=workspace_id, version=1, name="counted",
                                nodes=(Node(id="n", node_type=NodeType.ACTION),), created_at=t0, updated_at=t0)
    producer = make_producer(settings)
    await producer.start()
    try:
        for i in range(TOTAL):
            eid = f"counted-{i}-{uuid.uuid4().hex[:6]}"
            begin = t0 + timedelta(seconds=i)
            common = {"source": "tests", "workspace_id": workspace_id, "execution_id": eid}
            records = [ExecutionStarted(execution_id=eid, workflow=workflow, trigger_type="event")]
            if i < 6:
                records.append(ExecutionCompleted(execution_id=eid, workflow_id=workflow.id, workflow_version=1,
                                                  started_at=begin, completed_at=begin + timedelta(milliseconds=5)))
            for data in records:
                await send_output(producer, settings, Output.of(EXECUTIONS, eid, make_envelope(data, time=begin, **common)))
        await producer.flush()
    finally:
        await producer.stop()
    return workflow.id


async def test_counts_are_capped_and_flagged(settings: Settings, processes: Processes) -> None:
    workspace_id, _ = await bootstrap_admin(settings)
    processes.start("projection")
    processes.start("api", FLUXO_LIST_COUNT_CAP=str(CAP))
    workflow_id = await _history(settings, workspace_id)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30) as api:
        async def token() -> str | None:
            try:
                r = await api.post("/api/v1/auth/login", json={"email": settings.admin_email, "password": settings.admin_password})
            except httpx.HTTPError:
                return None
            return r.json()["access_token"] if r.status_code == 200 else None

        api.headers["Authorization"] = f"Bearer {await wait_for(token, timeout=90, interval=0.3, what='login')}"

        async def all_running_projected() -> bool:
            r = await api.get("/api/v1/executions", params={"workflow": workflow_id, "status": "running"})
            return r.status_code == 200 and r.json()["count"] == TOTAL - 6

        await wait_for(all_running_projected, timeout=60, what="the history projected")

        first = (await api.get("/api/v1/executions", params={"workflow": workflow_id, "page_size": 3})).json()
        assert (first["count"], first["count_capped"]) == (CAP, True)
        assert len(first["results"]) == 3 and first["next"] and first["previous"] is None
        # Paging goes on past the cap: page 3 holds executions 7 and 8 and is the last.
        last = (await api.get("/api/v1/executions", params={"workflow": workflow_id, "page_size": 3, "page": 3})).json()
        assert len(last["results"]) == 2 and last["next"] is None and last["previous"]
        pages = [first] + [(await api.get("/api/v1/executions", params={"workflow": workflow_id, "page_size": 3,
                                                                         "page": p})).json() for p in (2, 3)]
        ids = [r["id"] for page in pages for r in page["results"]]
        assert len(ids) == len(set(ids)) == TOTAL

        # Below the cap the count is exact and says so; an exactly full last page has no next.
        running = (await api.get("/api/v1/executions", params={"workflow": workflow_id, "status": "running"})).json()
        assert (running["count"], running["count_capped"]) == (2, False)
        exact = (await api.get("/api/v1/executions", params={"workflow": workflow_id, "status": "running",
                                                              "page_size": 2})).json()
        assert exact["next"] is None and len(exact["results"]) == 2
        at_cap = (await api.get("/api/v1/executions", params={"workflow": workflow_id, "status": "completed",
                                                               "page_size": 100})).json()
        assert (at_cap["count"], at_cap["count_capped"], len(at_cap["results"])) == (CAP, True, 6)
        # Seed 003's alias goes through the same page.
        alias = (await api.get("/api/v1/workflow-executions", params={"workflow": workflow_id, "page_size": 4})).json()
        assert (alias["count"], alias["count_capped"], len(alias["results"])) == (CAP, True, 4) and alias["next"]
