"""Seed 001's connector endpoints and custom code, through the whole pipeline."""

# ruff: noqa: F811
from __future__ import annotations

from typing import Any

import httpx
from conftest import wait_for
from pipeline import api, create_active, executions_of, wait_status  # noqa: F401 - fixtures
from standins.fixtures import smtp_server  # noqa: F401 - fixture
from standins.smtp import SMTPStandIn

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


async def test_email_send_for_a_lead_then_status_and_logs(api: httpx.AsyncClient, smtp_server: SMTPStandIn) -> None:
    r = await api.post("/api/v1/integrations", json={"name": "SMTP", "type": "email", "provider": "smtp", "configuration": {
        "host": smtp_server.host, "port": smtp_server.port, "security": "none", "from_email": "crm@fluxo.test",
        "username": smtp_server.username, "password": smtp_server.password}})
    assert r.status_code == 201, r.text
    # The lead is known from its events (contacts projection).
    await api.post("/api/v1/triggers/process_event", json={"event_type": "USER_CREATED", "user_id": "lead-123",
                                                           "data": {"email": "ahmed@example.com", "name": "أحمد محمد"}})

    async def known() -> bool:
        return (await api.get("/api/v1/contacts/lead-123")).status_code == 200

    await wait_for(known, timeout=30, what="the lead's contact")
    sent = await api.post("/api/v1/automation/email/send", json={
        "leadId": "lead-123", "workflowId": "wf-seed-001", "nodeId": "email-1",
        "config": {"subject": "مرحباً {{lead.name}}", "body": "عزيزي {{lead.name}}, شكراً لاهتمامك"}})
    assert sent.status_code == 202, sent.text
    execution_id = sent.json()["executionId"]
    messages = await smtp_server.wait_for_messages(1, timeout=60)
    assert messages[0].subject == "مرحباً أحمد محمد" and messages[0].to == ["ahmed@example.com"]
    await wait_status(api, execution_id, "completed")
    status = (await api.get(f"/api/v1/automation/execution/{execution_id}/status")).json()
    assert status["status"] == "completed" and status["result"]["status"] == "sent"
    logs = (await api.get("/api/v1/automation/workflow/wf-seed-001/logs")).json()
    assert [(x["connector_type"], x["action_type"], x["status"], x["lead_id"]) for x in logs["results"]] == [("email", "send_email", "succeeded", "lead-123")]
    bad = await api.post("/api/v1/automation/email/send", json={"config": {}})
    assert bad.status_code == 422 and "lead_id" in str(bad.json()["error"]["fields"])
    assert (await api.get("/api/v1/automation/workflow/nothing/logs")).status_code == 404


async def test_code_execute_in_both_languages_and_a_runaway_script(api: httpx.AsyncClient) -> None:
    py = await api.post("/api/v1/automation/code/execute", json={"lead_id": "lead-9", "lead": {"score": 120},
                        "config": {"language": "python", "code": "result = {'vip': context['lead']['score'] > 100}"}})
    js = await api.post("/api/v1/automation/code/execute", json={"lead_id": "lead-9", "lead": {"score": 120},
                        "config": {"language": "javascript", "code": "return {double: context.lead.score * 2, name: '{{ not a template }}'}"}})
    loop = await api.post("/api/v1/automation/code/execute", json={"lead_id": "lead-9",
                          "config": {"language": "python", "code": "while True:\n    pass", "cpu_seconds": 0.5}})
    done_py = await wait_status(api, py.json()["execution_id"], "completed", "failed")
    done_js = await wait_status(api, js.json()["execution_id"], "completed", "failed")
    done_loop = await wait_status(api, loop.json()["execution_id"], "completed", "failed")
    assert done_py["output_data"]["result"] == {"vip": True}, done_py
    assert done_js["output_data"]["result"] == {"double": 240, "name": "{{ not a template }}"}, done_js
    assert done_loop["status"] == "failed" and done_loop["failed_node"] == "custom_code"
    step = next(s for s in done_loop["execution_details"] if s["node_id"] == "custom_code")
    assert step["error"]["code"] == "CODE_TIMEOUT"


async def test_a_custom_code_condition_chooses_the_branch(api: httpx.AsyncClient) -> None:
    code = ("user_score = context.get('user', {}).get('score', 0)\n"
            "message_length = len(context.get('event', {}).get('data', {}).get('content', ''))\n"
            "result = user_score > 100 and message_length > 10")
    workflow_id = await create_active(api, {
        "name": "custom logic", "trigger_type": "event", "trigger_config": {"event_type": "MESSAGE_RECEIVED"},
        "nodes": [TRIGGER, {"id": "logic", "node_type": "condition", "config": {"use_custom_code": True, "custom_code": code}},
                  {"id": "vip", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "vip"}},
                  {"id": "std", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "standard"}}],
        "edges": [{"source_node": "trigger", "target_node": "logic"},
                  {"source_node": "logic", "target_node": "vip", "label": "true"},
                  {"source_node": "logic", "target_node": "std", "label": "false"}],
    })
    await api.post("/api/v1/triggers/process_event", json={"event_type": "MESSAGE_RECEIVED", "user_id": "m-1",
                   "user": {"score": 150}, "data": {"content": "do you have a coupon?"}})
    await api.post("/api/v1/triggers/process_event", json={"event_type": "MESSAGE_RECEIVED", "user_id": "m-2",
                   "user": {"score": 10}, "data": {"content": "do you have a coupon?"}})

    async def both() -> list[dict[str, Any]] | None:
        runs = await executions_of(api, workflow_id, status="completed")
        return runs if len(runs) == 2 else None

    runs = await wait_for(both, timeout=60, what="two executions")
    paths = {r["user_id"]: r["execution_path"] for r in runs}
    assert paths == {"m-1": ["trigger", "logic", "vip"], "m-2": ["trigger", "logic", "std"]}


async def test_create_record_then_query_it_back(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/v1/workflows", json={
        "name": "new client task", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "task", "name": "Créer Tâche", "node_type": "action",
                            "outputs": [{"name": "task_id", "type": "integer"}],
                            "config": {"action_type": "create_record", "table": "taches", "data": {
                                "titre": "Suivi client {{input_data.client_name}}", "description": "Contacter le nouveau client",
                                "priorite": "haute", "assigne_a": "commercial@company.com", "date_echeance": "{{now() + 7 days}}"}}}],
        "edges": [{"source_node": "trigger", "target_node": "task"}],
    })
    workflow_id = created.json()["id"]
    for name in ("Dupont", "Martin"):
        started = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {"client_name": name}})
        await wait_status(api, started.json()["execution_id"], "completed")

    async def two_rows() -> dict[str, Any] | None:
        r = (await api.get("/api/v1/tables/taches/records")).json()
        return r if r["count"] >= 2 else None

    rows = await wait_for(two_rows, timeout=30, what="the projected rows")
    assert {x["data"]["titre"] for x in rows["results"]} >= {"Suivi client Dupont", "Suivi client Martin"}
    query = await api.post("/api/v1/workflows", json={
        "name": "find task", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "find", "node_type": "database_query", "config": {
            "action_type": "database_query", "table": "taches", "where": {"titre": "Suivi client {{input_data.who}}"}, "limit": 5}}],
        "edges": [{"source_node": "trigger", "target_node": "find"}],
    })
    started = await api.post(f"/api/v1/workflows/{query.json()['id']}/execute", json={"input_data": {"who": "Martin"}})
    done = await wait_status(api, started.json()["execution_id"], "completed", "failed")
    assert done["status"] == "completed", done
    found = done["output_data"]
    assert found["count"] == 1 and found["rows"][0]["priorite"] == "haute"
    raw_sql = await api.post("/api/v1/workflows", json={
        "name": "sql", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "q", "node_type": "database_query", "config": {"table": "taches", "query": "DROP TABLE x"}}],
        "edges": [{"source_node": "trigger", "target_node": "q"}],
    })
    # GET /validate calls it invalid, so the run is refused before it starts (seed issue 19, item 8).
    refused = await api.post(f"/api/v1/workflows/{raw_sql.json()['id']}/execute", json={})
    assert refused.status_code == 422, refused.text
    assert "raw SQL is not accepted" in refused.json()["error"]["fields"]["nodes.1.config.query"], refused.text
