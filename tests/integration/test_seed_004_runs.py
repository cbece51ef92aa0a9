# ruff: noqa: F811 - pytest fixtures imported by name
"""Seed 004's runs as its client writes them: the test body (`test_mode`, `capture_outputs`)
and its answer (`test_execution_id`, `test_results`), an invalid graph refused by execute and
test with /validate's issues, and the execute, cancel and retry answers' seed fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from conftest import wait_for
from pipeline import api, execution, wait_status  # noqa: F401 - fixtures

SHARE_PIPELINE = True

V1 = "/api/v1"

# Seed 004's own bodies ("Tests et Débogage", "Exécuter manuellement un workflow").
SEED_TEST_BODY = {
    "test_data": {"client_id": 999, "client_email": "test@example.com", "client_name": "Client Test"},
    "test_mode": "dry_run",
    "capture_outputs": True,
}
SEED_EXECUTE_BODY = {
    "input_data": {"client_id": 123, "client_email": "newclient@example.com", "client_name": "Nouveau Client"},
    "execution_context": {"triggered_by": "admin@company.com", "manual_execution": True},
}


def edge(source: str, target: str) -> dict[str, str]:
    return {"source_node": source, "target_node": target}


async def create(api: httpx.AsyncClient, name: str, nodes: list[dict[str, Any]], edges: list[dict[str, str]]) -> str:
    created = await api.post(f"{V1}/workflows/", json={
        "name": f"{name} {uuid.uuid4().hex[:8]}", "trigger_type": "manual", "nodes": nodes, "edges": edges})
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    return workflow_id


TRIGGER = {"id": "start", "node_type": "trigger", "config": {}}
GREET = {"id": "greet", "node_type": "transform", "config": {"mapping": {"greeting": "Bienvenue {{input_data.client_name}}"}}}


async def test_seed_004s_test_body_answers_in_its_shape(api: httpx.AsyncClient) -> None:
    workflow_id = await create(api, "Seed 004 test", [
        TRIGGER, GREET, {"id": "wait", "node_type": "delay", "config": {"duration": 2, "unit": "minutes"}},
    ], [edge("start", "greet"), edge("greet", "wait")])

    r = await api.post(f"{V1}/workflows/{workflow_id}/test/", json=SEED_TEST_BODY)
    assert r.status_code == 200, r.text
    tested = r.json()
    assert tested["test_execution_id"].startswith("dry-run-") and tested["status"] == "completed"
    results = tested["test_results"]
    assert {k: results[k] for k in ("nodes_executed", "nodes_success", "nodes_failed")} == {
        "nodes_executed": 3, "nodes_success": 3, "nodes_failed": 0}
    assert results["execution_path"] == ["start", "greet", "wait"]
    # As a real run's output_data: the path's outputs merged.
    assert results["outputs"]["greeting"] == "Bienvenue Client Test", results["outputs"]
    assert results["performance"]["duration_seconds"] == 120
    assert results["performance"]["execution_time_seconds"] >= 0
    # Today's fields stay.
    assert tested["success"] is True and tested["dry_run"] is True
    assert tested["execution_path"] == ["start", "greet", "wait"]
    assert tested["results"]["greet"]["greeting"] == "Bienvenue Client Test"
    assert tested["validation_results"]["no_circular_dependencies"] is True
    assert tested["simulated_duration_seconds"] == 120

    quiet = await api.post(f"{V1}/workflows/{workflow_id}/test/", json={**SEED_TEST_BODY, "capture_outputs": False})
    assert quiet.status_code == 200, quiet.text
    body = quiet.json()
    assert "results" not in body and "outputs" not in body["test_results"], body
    assert [s["node_id"] for s in body["node_results"]] == ["start", "greet", "wait"]
    assert not any("output_data" in s for s in body["node_results"]), body["node_results"]
    assert body["test_results"]["nodes_executed"] == 3

    live = await api.post(f"{V1}/workflows/{workflow_id}/test/", json={**SEED_TEST_BODY, "test_mode": "live"})
    assert live.status_code == 422, live.text
    assert list(live.json()["error"]["fields"]) == ["test_mode"], live.text
    assert (await api.post(f"{V1}/workflows/{workflow_id}/test/", json={**SEED_TEST_BODY, "surprise": 1})).status_code == 422


async def test_execute_and_test_refuse_a_cycle_with_validates_issues(api: httpx.AsyncClient) -> None:
    a = {"id": "a", "node_type": "transform", "config": {"mapping": {"x": "1"}}}
    b = {"id": "b", "node_type": "transform", "config": {"mapping": {"y": "2"}}}
    workflow_id = await create(api, "Cycle", [TRIGGER, a, b], [edge("start", "a"), edge("a", "b"), edge("b", "a")])
    validated = (await api.get(f"{V1}/workflows/{workflow_id}/validate/")).json()
    assert validated["can_execute"] is False
    issues = {i["field"]: i for i in validated["issues"]}
    assert {i["code"] for i in issues.values()} == {"AUTO_003"}, issues

    for path, body in (("execute", SEED_EXECUTE_BODY), ("test", SEED_TEST_BODY)):
        r = await api.post(f"{V1}/workflows/{workflow_id}/{path}/", json=body)
        assert r.status_code == 422, (path, r.status_code, r.text)
        error = r.json()["error"]
        assert error["code"] == "AUTO_003", (path, error)
        assert set(error["fields"]) == set(issues), (path, error)
        assert all(error["fields"][f].startswith("AUTO_003: circular dependency") for f in issues), (path, error)
    listed = await api.get(f"{V1}/executions/", params={"workflow": workflow_id})
    assert listed.status_code == 200 and listed.json()["count"] == 0, listed.text


async def test_execute_answers_seed_004s_fields(api: httpx.AsyncClient) -> None:
    workflow_id = await create(api, "Seed 004 execute", [TRIGGER, GREET], [edge("start", "greet")])
    r = await api.post(f"{V1}/workflows/{workflow_id}/execute/", json=SEED_EXECUTE_BODY)
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["status"] == "running" and started["workflow_id"] == workflow_id
    assert started["input_data"] == SEED_EXECUTE_BODY["input_data"]
    assert isinstance(started["workflow_version"], int)
    detail = await execution(api, started["execution_id"])
    assert datetime.fromisoformat(started["started_at"]) == datetime.fromisoformat(detail["started_at"])
    assert detail["input_data"] == SEED_EXECUTE_BODY["input_data"]


async def test_cancel_answers_seed_004s_fields(api: httpx.AsyncClient) -> None:
    workflow_id = await create(api, "Seed 004 cancel", [
        TRIGGER, {"id": "wait", "node_type": "delay", "config": {"delay_seconds": 60}}, GREET,
    ], [edge("start", "wait"), edge("wait", "greet")])
    started = (await api.post(f"{V1}/workflows/{workflow_id}/execute/", json=SEED_EXECUTE_BODY)).json()
    execution_id = started["execution_id"]

    async def waiting() -> bool:
        steps = (await execution(api, execution_id))["execution_details"]
        return any(s["node_id"] == "wait" for s in steps)

    await wait_for(waiting, what="the execution to reach its wait")
    r = await api.post(f"{V1}/executions/{execution_id}/cancel/")
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "cancelled" and cancelled["execution_id"] == execution_id
    assert cancelled["message"] == "execution cancelled"
    detail = await execution(api, execution_id)
    assert datetime.fromisoformat(cancelled["cancelled_at"]) == datetime.fromisoformat(detail["completed_at"])
    # The trigger completed; the wait (stopped mid-way) and greet did not.
    assert (cancelled["nodes_completed"], cancelled["nodes_remaining"]) == (1, 2), cancelled


async def test_retry_answers_seed_004s_fields(api: httpx.AsyncClient) -> None:
    # No email integration in this workspace: the mail node fails (AUTO_004) when it runs.
    workflow_id = await create(api, "Seed 004 retry", [TRIGGER, GREET, {"id": "mail", "node_type": "action", "config": {
        "action_type": "send_email", "recipient": "{{input_data.client_email}}", "subject": "Bienvenue", "body": "Bonjour"}}],
        [edge("start", "greet"), edge("greet", "mail")])
    first = (await api.post(f"{V1}/workflows/{workflow_id}/execute/", json=SEED_EXECUTE_BODY)).json()
    failed = await wait_status(api, first["execution_id"], "failed", "completed")
    assert failed["status"] == "failed" and failed["failed_node"] == "mail", failed

    r = await api.post(f"{V1}/executions/{first['execution_id']}/retry/")
    assert r.status_code == 202, r.text
    retry = r.json()
    assert retry["original_execution_id"] == retry["retry_of"] == first["execution_id"]
    assert retry["new_execution_id"] == retry["execution_id"] != first["execution_id"]
    assert retry["retry_from_node"] == retry["resume_from"] == "mail"
    assert retry["status"] == "running" and retry["message"]
    again = await execution(api, retry["new_execution_id"])
    assert datetime.fromisoformat(retry["started_at"]) == datetime.fromisoformat(again["started_at"])
    assert again["retry_of"] == first["execution_id"]
