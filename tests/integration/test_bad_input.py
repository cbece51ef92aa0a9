# ruff: noqa: F811 - pytest fixtures imported by name
"""Malformed and hostile input to the endpoints the engine and connectors added:
a clear 4xx naming the field at fault, and nothing written."""

from __future__ import annotations

from typing import Any

import httpx
from conftest import wait_for
from pipeline import api, executions_of, wait_status  # noqa: F401 - fixtures

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


def fields(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"], body
    return dict(body["error"]["fields"])


async def _manual(api: httpx.AsyncClient, **extra: Any) -> str:
    created = await api.post("/api/v1/workflows", json={
        "name": "manual", "trigger_type": "manual", "nodes": [TRIGGER], "edges": [], **extra})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_run_endpoints_refuse_bad_bodies_and_write_nothing(api: httpx.AsyncClient) -> None:
    workflow_id = await _manual(api)
    r = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": [1, 2]})
    assert r.status_code == 422 and "input_data" in fields(r)
    r = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {}, "surprise": True})
    assert r.status_code == 422 and "surprise" in fields(r)
    r = await api.post(f"/api/v1/workflows/{workflow_id}/execute", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    huge = {"input_data": {"blob": "x" * 600_000}}
    r = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json=huge)
    assert r.status_code == 413 and "body" in fields(r)
    assert await executions_of(api, workflow_id) == []
    assert (await api.post("/api/v1/workflows/nope/execute", json={})).status_code == 404
    assert (await api.post(f"/api/v1/workflows/{workflow_id}/test", json={"test_data": "text"})).status_code == 422
    r = await api.post("/api/v1/executions/nope/cancel", json={"reason": "x" * 600})
    assert r.status_code == 422 and "reason" in fields(r)
    assert (await api.post("/api/v1/executions/nope/retry")).status_code == 404
    done = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={})
    finished = await wait_status(api, done.json()["execution_id"], "completed")
    assert (await api.post(f"/api/v1/executions/{finished['id']}/retry")).status_code == 409
    assert (await api.post(f"/api/v1/executions/{finished['id']}/cancel")).status_code == 409


async def test_a_record_too_large_for_kafka_is_a_413_not_a_broker_error(api: httpx.AsyncClient) -> None:
    # Each request is under the body limit; the execution record (definition + input) would not be.
    big = {"id": "big", "node_type": "transform", "config": {"mapping": {"pad": "y" * 450_000}}}
    workflow_id = await _manual(api, nodes=[TRIGGER, big], edges=[{"source_node": "trigger", "target_node": "big"}])
    r = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {"pad": "z" * 450_000}})
    assert r.status_code == 413 and "body" in fields(r)
    assert await executions_of(api, workflow_id) == []


async def test_webhook_and_automation_endpoints_refuse_bad_input(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/v1/workflows", json={"name": "hook", "trigger_type": "webhook", "nodes": [TRIGGER], "edges": []})
    workflow = created.json()
    await api.post(f"/api/v1/workflows/{workflow['id']}/activate")
    token = workflow["trigger_config"]["webhook_token"]
    public = httpx.AsyncClient(base_url=str(api.base_url))
    async with public:
        path = f"/api/v1/workflows/{workflow['id']}/trigger"
        r = await public.post(path, params={"token": token}, content=b"x" * 300_000)
        assert r.status_code == 413
        r = await public.post(path, params={"token": token}, content=b"\xff\xfe garbage")
        assert r.status_code == 422 and "body" in fields(r)
        r = await public.post(path, params={"token": "t" * 500}, json={})
        assert r.status_code == 422 and "token" in fields(r)
    assert await executions_of(api, workflow["id"]) == []
    r = await api.post("/api/v1/automation/email/send", json={"leadId": "", "config": {}})
    assert r.status_code == 422 and "leadId" in fields(r)  # named as the caller sent it
    r = await api.post("/api/v1/automation/code/execute", json={"lead_id": "l", "config": "return 1"})
    assert r.status_code == 422 and "config" in fields(r)


async def test_integration_and_read_endpoints_refuse_bad_input(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/integrations", json={"name": "x", "type": "Email!", "provider": "smtp", "configuration": {}})
    assert r.status_code == 422 and "type" in fields(r)
    r = await api.post("/api/v1/integrations", json={"name": "x", "type": "email", "provider": "smtp", "configuration": "host=a"})
    assert r.status_code == 422 and "configuration" in fields(r)
    r = await api.post("/api/v1/integrations", json={"name": "", "type": "email", "provider": "smtp", "configuration": {"host": "h", "from_email": "a@b.c"}})
    assert r.status_code == 422 and "name" in fields(r)
    assert (await api.patch("/api/v1/integrations/nope", json={"name": "y"})).status_code == 404
    r = await api.patch("/api/v1/integrations/nope", json={"secret_sauce": 1})
    assert r.status_code == 422 and "secret_sauce" in fields(r)
    assert (await api.get("/api/v1/integrations", params={"type": "x" * 100})).status_code == 422
    assert (await api.get("/api/v1/tables/bad name!/records")).status_code == 422
    assert (await api.get("/api/v1/contacts", params={"page_size": 0})).status_code == 422
    assert (await api.get("/api/v1/executions/nope")).status_code == 404
    listed = (await api.get("/api/v1/integrations")).json()["results"]
    assert all(i["name"] != "x" for i in listed), "a refused integration must not exist"


async def test_json_a_record_or_a_row_cannot_hold_is_refused_where_it_is(api: httpx.AsyncClient) -> None:
    """NUL characters (PostgreSQL refuses them: the projection would stop on the record),
    trees deeper than 32, integers beyond 64 bits, NaN: 422 naming the place, nothing written."""
    r = await api.post("/api/v1/triggers/process_event", json={"event_type": "PING", "user_id": "nul-1",
                                                               "data": {"note": "a\u0000b"}})
    assert r.status_code == 422 and fields(r) == {"data.note": "contains a NUL character"}
    deep: Any = {"field": "event.data.x", "operator": "equals", "value": 1}
    for _ in range(40):
        deep = {"operator": "not", "conditions": [deep]}
    r = await api.post("/api/v1/triggers", json={"name": "refused-deep", "trigger_type": "event", "event_type": "PING", "filters": deep})
    assert r.status_code == 422 and list(fields(r)) == ["filters" + ".conditions.0" * 15 + ".conditions"]
    r = await api.post("/api/v1/workflows", content=b'{"name": "refused-bigint", "trigger_config": {"limit": 123456789012345678901234}}',
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and fields(r) == {"trigger_config.limit": "integer out of range (64 bits)"}
    r = await api.post("/api/v1/workflows", content=b'{"name": "refused-nan", "nodes": [{"node_type": "trigger", "position": {"x": NaN}}]}',
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "NaN" in fields(r)["body"]
    assert (await api.get("/api/v1/contacts", params={"search": "a\x00"})).status_code == 422
    # Nothing of it was written, and the pipeline still takes the same event without the NUL.
    assert (await api.get("/api/v1/workflows", params={"search": "refused-"})).json()["count"] == 0
    assert (await api.get("/api/v1/triggers", params={"search": "refused-deep"})).json()["count"] == 0
    ok = await api.post("/api/v1/triggers/process_event", json={"event_type": "PING", "user_id": "nul-1", "data": {"note": "ab"}})
    assert ok.status_code == 202

    async def projected() -> bool:
        return (await api.get("/api/v1/contacts/nul-1")).status_code == 200

    await wait_for(projected, timeout=30, what="the clean event's contact")


async def test_unknown_query_parameters_are_refused_by_name(api: httpx.AsyncClient) -> None:
    """Issue 19: a misspelt filter used to be ignored (the whole list came back, taken for the
    filtered one); now it is a 422 naming each unknown parameter, on every route."""
    r = await api.get("/api/v1/workflows", params={"stauts": "active"})
    assert r.status_code == 422, r.text
    assert fields(r) == {"stauts": "unknown query parameter"}
    r = await api.get("/api/v1/executions", params={"page": 1, "colour": "red", "size": 3})
    assert r.status_code == 422 and fields(r) == {"colour": "unknown query parameter", "size": "unknown query parameter"}
    # Writes, single resources, the health check, seed spellings: all the same.
    before = (await api.get("/api/v1/workflows", params={"page_size": 1})).json()["count"]
    r = await api.post("/api/v1/workflows", params={"dry": "1"}, json={"name": "refused", "trigger_type": "manual"})
    assert r.status_code == 422 and fields(r) == {"dry": "unknown query parameter"}, r.text
    assert (await api.get("/api/v1/workflows", params={"page_size": 1})).json()["count"] == before
    workflow_id = await _manual(api)
    r = await api.get(f"/api/v1/workflows/{workflow_id}", params={"verison": 1})
    assert r.status_code == 422 and fields(r) == {"verison": "unknown query parameter"}
    assert (await api.get("/health", params={"verbose": "1"})).status_code == 422
    r = await api.get("/api/v1/workflow/api/workflow-executions/", params={"stat": "FAILED"})
    assert r.status_code == 422 and fields(r) == {"stat": "unknown query parameter"}
    # What is declared passes, the seeds' own queries included.
    assert (await api.get(f"/api/v1/workflows/{workflow_id}", params={"version": 1})).status_code == 200
    for path, params in (
        ("/api/v1/workflow/api/workflows/", {"status": "ACTIVE", "page": 1, "page_size": 10}),
        ("/api/v1/workflow/api/triggers/", {"trigger_type": "MESSAGE_RECEIVED", "is_active": "true"}),
        ("/api/v1/workflow/api/workflow-executions/", {"status": "COMPLETED", "workflow": workflow_id}),
        ("/api/v1/workflow/api/actions/parameter_templates/", {"action_type": "send_message"}),
        ("/api/v1/executions", {"workflow": workflow_id, "date_from": "2026-01-01", "date_to": "2026-12-31"}),
    ):
        r = await api.get(path, params=params)
        assert r.status_code == 200, (path, r.text)


async def test_an_inbound_webhook_still_takes_any_query_as_input(api: httpx.AsyncClient) -> None:
    workflow_id = await _manual(api)
    assert (await api.post(f"/api/v1/workflows/{workflow_id}/activate")).status_code == 200
    created = await api.post("/api/v1/webhooks", json={"name": "by get", "workflow_id": workflow_id, "methods": ["GET"]})
    assert created.status_code == 201, created.text
    r = await api.get(f"/api/v1/hooks/{created.json()['token']}", params={"order": "A-1", "anything": "goes"})
    assert r.status_code == 202, r.text
    done = await wait_status(api, r.json()["execution_id"], "completed")
    assert done["input_data"] == {"order": "A-1", "anything": "goes"}, done
