# ruff: noqa: F811 - pytest fixtures imported by name
"""Connectors through the whole pipeline: integrations with sealed secrets,
email over real SMTP, and the SSRF guard on outgoing HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from conftest import Processes, wait_for
from pipeline import (  # noqa: F401 - fixtures
    Sink,
    _grep_topics,
    api,
    create_active,
    execution,
    executions_of,
    sink,
    wait_status,
)
from standins.fixtures import smtp_server  # noqa: F401 - fixture
from standins.smtp import SMTPStandIn

from infra.bootstrap import bootstrap_admin
from infra.settings import Settings

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True
# Every process writes its log to a file: the secrets test reads them all.
pytestmark = pytest.mark.process_logs

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source_node": source, "target_node": target, **extra}


async def _smtp_integration(api: httpx.AsyncClient, smtp: SMTPStandIn) -> dict[str, Any]:
    r = await api.post("/api/v1/integrations", json={
        "name": "Team SMTP", "type": "email", "provider": "smtp",
        "configuration": {"host": smtp.host, "port": smtp.port, "security": "none", "from_email": "team@fluxo.test",
                          "from_name": "Fluxo Team", "username": smtp.username, "password": smtp.password},
    })
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_integration_secrets_are_write_only_and_survive_partial_updates(api: httpx.AsyncClient, smtp_server: SMTPStandIn) -> None:
    created = await _smtp_integration(api, smtp_server)
    assert created["configuration"]["password_configured"] is True
    assert "password" not in created["configuration"] and smtp_server.password not in str(created)
    integration_id = created["id"]
    patched = await api.patch(f"/api/v1/integrations/{integration_id}", json={"configuration": {"from_name": "Ops"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["configuration"]["from_name"] == "Ops" and patched.json()["configuration"]["password_configured"]
    tested = await api.post(f"/api/v1/integrations/{integration_id}/test")
    assert tested.json()["success"] is True, tested.text
    wrong = await api.patch(f"/api/v1/integrations/{integration_id}", json={"configuration": {"password": "not-it"}})
    assert wrong.status_code == 200
    failed = (await api.post(f"/api/v1/integrations/{integration_id}/test")).json()
    assert failed["success"] is False and "refused" in failed["checks"][-1]["detail"]
    listed = await api.get("/api/v1/integrations", params={"type": "email"})
    # Other test modules share this workspace's read model: check membership and the filter.
    assert integration_id in [i["id"] for i in listed.json()["results"]]
    assert {i["type"] for i in listed.json()["results"]} == {"email"}
    assert integration_id not in [i["id"] for i in (await api.get("/api/v1/integrations", params={"type": "storage"})).json()["results"]]
    missing = await api.post("/api/v1/integrations", json={"name": "x", "type": "messaging", "provider": "whatsapp", "configuration": {}})
    assert missing.status_code == 422 and "configuration.access_token" in missing.json()["error"]["fields"]
    assert (await api.delete(f"/api/v1/integrations/{integration_id}")).status_code == 204
    assert (await api.get(f"/api/v1/integrations/{integration_id}")).status_code == 404


async def test_send_email_delivers_over_smtp_with_non_latin_text(api: httpx.AsyncClient, smtp_server: SMTPStandIn, settings: Settings) -> None:
    integration = await _smtp_integration(api, smtp_server)
    workflow_id = await create_active(api, {
        "name": "welcome mail", "trigger_type": "event", "trigger_config": {"event_type": "LEAD_CREATED"},
        "nodes": [TRIGGER, {"id": "mail", "node_type": "action", "config": {
            "action_type": "send_email", "recipient": "{{user.email}}",
            "subject": "مرحباً {{user.name}}", "body": "عزيزي {{user.name}}, شكراً لاهتمامك"}}],
        "edges": [edge("trigger", "mail")],
    })
    await api.post("/api/v1/triggers/process_event", json={
        "event_type": "LEAD_CREATED", "user_id": "lead-123", "user": {"name": "أحمد محمد", "email": "ahmed@example.com"}})
    messages = await smtp_server.wait_for_messages(1, timeout=60)
    message = messages[0]
    assert message.subject == "مرحباً أحمد محمد"
    assert message.text is not None and message.text.strip() == "عزيزي أحمد محمد, شكراً لاهتمامك"
    assert message.to == ["ahmed@example.com"] and "team@fluxo.test" in (message.from_ or "")
    runs = await wait_for(lambda: executions_of(api, workflow_id, status="completed"), timeout=30, what="completed")
    detail = await execution(api, runs[0]["id"])
    step = next(s for s in detail["execution_details"] if s["node_id"] == "mail")
    assert step["output_data"]["message_id"] == message.message_id
    assert message.header("X-Fluxo-Idempotency-Key") == f"{runs[0]['id']}:mail:1"
    assert step["output_data"]["integration_id"] == integration["id"]

    async def used() -> bool:
        r = await api.get(f"/api/v1/integrations/{integration['id']}")
        return bool(r.json()["usage_statistics"]["calls_total"] == 1)

    await wait_for(used, timeout=30, what="usage statistics")
    # The SMTP password is in no topic, only sealed.
    leaks = await _grep_topics(settings, smtp_server.password.encode())
    assert leaks == [], f"secret found in {leaks}"


async def test_smtp_rejection_fails_the_node_without_leaking_the_secret(api: httpx.AsyncClient, smtp_server: SMTPStandIn) -> None:
    r = await api.post("/api/v1/integrations", json={
        "name": "Bad SMTP", "type": "email", "provider": "smtp",
        "configuration": {"host": smtp_server.host, "port": smtp_server.port, "security": "none",
                          "from_email": "team@fluxo.test", "username": smtp_server.username, "password": "wrong-password-xyz"},
    })
    integration_id = r.json()["id"]
    created = await api.post("/api/v1/workflows", json={
        "name": "mail with bad creds", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "mail", "node_type": "action", "config": {
            "action_type": "send_email", "integration_id": integration_id, "recipient": "a@b.co", "subject": "s", "body": "b"}}],
        "edges": [edge("trigger", "mail")],
    })
    started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute", json={"input_data": {}})
    done = await wait_status(api, started.json()["execution_id"], "failed")
    step = next(s for s in done["execution_details"] if s["node_id"] == "mail")
    assert step["error"]["code"] == "SMTP_AUTH"
    assert "wrong-password-xyz" not in str(done)
    assert smtp_server.messages == []


async def test_ssrf_targets_are_refused_unless_the_workspace_allows_them(api: httpx.AsyncClient, sink: Sink, settings: Settings) -> None:
    # A second workspace with no allow-list (the bootstrapped one allows loopback in local mode).
    strict = settings.model_copy(update={"admin_email": "strict@fluxo.test", "admin_workspace": "Strict", "allowed_hosts": ""})
    await bootstrap_admin(strict)

    async def token() -> str | None:
        r = await api.post("/api/v1/auth/login", json={"email": "strict@fluxo.test", "password": settings.admin_password})
        return r.json()["access_token"] if r.status_code == 200 else None

    strict_token = await wait_for(token, timeout=30, what="strict workspace login")
    headers = {"Authorization": f"Bearer {strict_token}"}
    port = sink.base.rsplit(":", 1)[1]
    targets = {
        "loopback": f"http://127.0.0.1:{port}/x",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "localhost": f"http://localhost:{port}/x",
        "private": "http://10.1.2.3/internal",
        "ipv6-loopback": f"http://[::1]:{port}/x",
    }
    for name, url in targets.items():
        created = await api.post("/api/v1/workflows", headers=headers, json={
            "name": f"ssrf {name}", "trigger_type": "manual",
            "nodes": [TRIGGER, {"id": "call", "node_type": "http_request", "config": {"url": url, "method": "GET"}}],
            "edges": [edge("trigger", "call")],
        })
        assert created.status_code == 201, created.text
        started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute", headers=headers, json={})
        done = await wait_status_as(api, headers, started.json()["execution_id"])
        step = next(s for s in done["execution_details"] if s["node_id"] == "call")
        assert step["error"]["code"] == "SSRF_BLOCKED", (name, step["error"])
        assert "not a public address" in step["error"]["message"]
    assert sink.calls == []
    # The same call from the default workspace (loopback allowed) goes through.
    created = await api.post("/api/v1/workflows", json={
        "name": "allowed", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "call", "node_type": "http_request", "config": {"url": targets["loopback"], "method": "GET"}}],
        "edges": [edge("trigger", "call")],
    })
    started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute", json={})
    assert (await wait_status(api, started.json()["execution_id"], "completed", "failed"))["status"] == "completed"
    assert len(sink.calls) == 1


async def wait_status_as(api: httpx.AsyncClient, headers: dict[str, str], execution_id: str) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/executions/{execution_id}", headers=headers)
        return r.json() if r.status_code == 200 and r.json()["status"] in ("completed", "failed") else None

    return await wait_for(finished, timeout=60, what="execution end")





async def test_no_secret_in_any_topic_log_or_answer(api: httpx.AsyncClient, smtp_server: SMTPStandIn, settings: Settings, processes: Processes) -> None:
    """Use credentials every way we can (send, fail, test, update), then grep for them everywhere."""
    good = await _smtp_integration(api, smtp_server)
    wrong_password = "W-r0ng-Pa55-4-grep"
    bad = await api.post("/api/v1/integrations", json={"name": "Bad", "type": "email", "provider": "smtp", "configuration": {
        "host": smtp_server.host, "port": smtp_server.port, "security": "none", "from_email": "x@fluxo.test",
        "username": smtp_server.username, "password": wrong_password}})
    answers = [good, bad.json()]
    for integration_id, name in ((good["id"], "ok"), (bad.json()["id"], "bad")):
        created = await api.post("/api/v1/workflows", json={
            "name": f"mail {name}", "trigger_type": "manual",
            "nodes": [TRIGGER, {"id": "mail", "node_type": "action", "config": {
                "action_type": "send_email", "integration_id": integration_id, "recipient": "a@b.co", "subject": "s", "body": "b"}}],
            "edges": [edge("trigger", "mail")],
        })
        started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute", json={})
        answers.append(await wait_status(api, started.json()["execution_id"], "completed", "failed"))
        answers.append((await api.post(f"/api/v1/integrations/{integration_id}/test")).json())
        answers.append((await api.get(f"/api/v1/integrations/{integration_id}")).json())
    answers.append((await api.patch(f"/api/v1/integrations/{good['id']}", json={"configuration": {"from_name": "x"}})).json())
    answers.append((await api.get("/api/v1/integrations")).json())
    answers.append((await api.get("/api/v1/executions", params={"page_size": 100})).json())
    secrets = [smtp_server.password, wrong_password]
    for secret in secrets:
        assert secret not in orjson.dumps(answers).decode(), "a secret in an API answer"
        assert await _grep_topics(settings, secret.encode()) == [], "a secret in a topic"
    processes.stop_all()  # flush and close every log
    assert processes.logs, "the processes should have written logs"
    for path in processes.logs:
        text = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in text, f"a secret in {path.name}"


async def test_send_email_over_starttls_and_implicit_tls(api: httpx.AsyncClient) -> None:
    for mode, server in (("starttls", SMTPStandIn(require_starttls=True)), ("tls", SMTPStandIn(implicit_tls=True))):
        async with server:
            r = await api.post("/api/v1/integrations", json={"name": f"SMTP {mode}", "type": "email", "provider": "smtp", "configuration": {
                "host": server.host, "port": server.port, "security": mode, "verify_tls": False,
                "from_email": "tls@fluxo.test", "username": server.username, "password": server.password}})
            created = await api.post("/api/v1/workflows", json={
                "name": f"mail over {mode}", "trigger_type": "manual",
                "nodes": [TRIGGER, {"id": "mail", "node_type": "action", "config": {
                    "action_type": "send_email", "integration_id": r.json()["id"], "recipient": "a@b.co",
                    "subject": "Über TLS", "html": "<p>Bonjour</p>"}}],
                "edges": [edge("trigger", "mail")],
            })
            started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute", json={})
            done = await wait_status(api, started.json()["execution_id"], "completed", "failed")
            assert done["status"] == "completed", (mode, done)
            message = (await server.wait_for_messages(1, timeout=30))[0]
            assert message.tls and message.subject == "Über TLS" and message.html is not None and "Bonjour" in message.html


async def test_a_named_email_template_from_the_integration(api: httpx.AsyncClient, smtp_server: SMTPStandIn) -> None:
    r = await api.post("/api/v1/integrations", json={"name": "Templated", "type": "email", "provider": "smtp", "configuration": {
        "host": smtp_server.host, "port": smtp_server.port, "security": "none", "from_email": "hello@fluxo.test",
        "username": smtp_server.username, "password": smtp_server.password,
        "templates": {"welcome": {"subject": "Bienvenue {{user.first_name}} !", "body": "Votre code : {{input_data.code}}"}}}})
    created = await api.post("/api/v1/workflows", json={
        "name": "templated mail", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "mail", "node_type": "action", "config": {
            "action_type": "send_email", "integration_id": r.json()["id"], "template": "welcome"}}],
        "edges": [edge("trigger", "mail")],
    })
    started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute", json={
        "input_data": {"code": "X-42"}, "execution_context": {"user": {"first_name": "Élodie", "email": "elodie@example.fr"}}})
    done = await wait_status(api, started.json()["execution_id"], "completed", "failed")
    assert done["status"] == "completed", done
    message = (await smtp_server.wait_for_messages(1))[0]
    assert message.subject == "Bienvenue Élodie !" and message.to == ["elodie@example.fr"]
    assert message.text is not None and message.text.strip() == "Votre code : X-42"
    missing = await api.post("/api/v1/workflows", json={
        "name": "no such template", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "mail", "node_type": "action", "config": {
            "action_type": "send_email", "integration_id": r.json()["id"], "template": "nope", "recipient": "a@b.co"}}],
        "edges": [edge("trigger", "mail")],
    })
    # Checked before any run (issue 19 item 13): the run is refused with the field, as /validate says.
    started = await api.post(f"/api/v1/workflows/{missing.json()['id']}/execute", json={})
    assert started.status_code == 422, started.text
    assert "no email template 'nope'" in started.json()["error"]["fields"]["nodes.1.config.template"]
