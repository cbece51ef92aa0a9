"""WhatsApp, Slack and Google Sheets (with the BigQuery fallback) over real HTTP
against local servers that speak their documented APIs."""

# ruff: noqa: F811
from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Processes
from pipeline import api, assert_secrets_nowhere, wait_status  # noqa: F401 - fixtures
from standins.fixtures import google, slack, whatsapp  # noqa: F401 - fixtures
from standins.google import GoogleStandIn
from standins.slack import SlackStandIn
from standins.whatsapp import WhatsAppStandIn

from infra.settings import Settings

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}
# Every test here greps the process logs for the credentials it used.
pytestmark = pytest.mark.process_logs


async def _integration(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await api.post("/api/v1/integrations", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _run(api: httpx.AsyncClient, node: dict[str, Any], input_data: dict[str, Any], user: dict[str, Any] | None = None) -> dict[str, Any]:
    created = await api.post("/api/v1/workflows", json={
        "name": f"run {node['id']}", "trigger_type": "manual", "nodes": [TRIGGER, node],
        "edges": [{"source_node": "trigger", "target_node": node["id"]}],
    })
    assert created.status_code == 201, created.text
    started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute",
                             json={"input_data": input_data, "execution_context": {"user": user or {}}})
    done = await wait_status(api, started.json()["execution_id"], "completed", "failed")
    return next(s for s in reversed(done["execution_details"]) if s["node_id"] == node["id"]) | {"execution": done}


async def test_whatsapp_text_and_template_messages(api: httpx.AsyncClient, whatsapp: WhatsAppStandIn, settings: Settings, processes: Processes) -> None:
    await _integration(api, {"name": "WA", "type": "messaging", "provider": "whatsapp", "configuration": {
        "phone_number_id": whatsapp.phone_number_id, "access_token": whatsapp.access_token,
        "base_url": whatsapp.base_url, "api_version": whatsapp.api_version}})
    step = await _run(api, {"id": "wa", "node_type": "action", "config": {
        "action_type": "send_message", "to": "{{user.phone}}", "message": "مرحبا {{user.first_name}}، طلبك {{input_data.order}} جاهز"}},
        {"order": "A-7"}, {"phone": "+971 50 123 4567", "first_name": "ليلى"})
    assert step["status"] == "completed", step
    sent = whatsapp.messages[0]
    assert sent["to"] == "971501234567" and sent["payload"]["text"]["body"] == "مرحبا ليلى، طلبك A-7 جاهز"
    assert step["output_data"]["message_id"] == sent["id"]
    assert whatsapp.requests[0].json["biz_opaque_callback_data"].endswith(":wa:1")
    template = await _run(api, {"id": "tpl", "node_type": "action", "config": {
        "action_type": "whatsapp", "to": "971501234567", "template": {"name": "order_update", "language": "ar"}}}, {})
    assert template["status"] == "completed" and whatsapp.messages[1]["type"] == "template"
    whatsapp.expire_token()
    expired = await _run(api, {"id": "wa2", "node_type": "action", "config": {"action_type": "send_message", "to": "971501234567", "message": "x"}}, {})
    assert expired["status"] == "failed" and expired["error"]["code"] == "WHATSAPP_190"
    assert whatsapp.access_token not in str(expired["execution"])
    await assert_secrets_nowhere(settings, processes, [whatsapp.access_token])


async def test_slack_by_webhook_and_by_bot_token(api: httpx.AsyncClient, slack: SlackStandIn, settings: Settings, processes: Processes) -> None:
    hook_id = await _integration(api, {"name": "Slack hook", "type": "messaging", "provider": "slack",
                                       "configuration": {"webhook_url": slack.webhook_url}})
    step = await _run(api, {"id": "s1", "node_type": "action", "config": {
        "action_type": "slack", "integration_id": hook_id, "text": "New lead: {{input_data.name}}"}}, {"name": "Ada"})
    assert step["status"] == "completed", step
    assert slack.messages[0]["via"] == "webhook" and slack.messages[0]["text"] == "New lead: Ada"
    bot_id = await _integration(api, {"name": "Slack bot", "type": "messaging", "provider": "slack",
                                      "configuration": {"bot_token": slack.bot_token, "api_url": slack.api_url}})
    posted = await _run(api, {"id": "s2", "node_type": "action", "config": {
        "action_type": "slack", "integration_id": bot_id, "channel": "alerts", "text": "disk full"}}, {})
    assert posted["status"] == "completed" and posted["output_data"]["channel"] == slack.channels["alerts"]
    missing = await _run(api, {"id": "s3", "node_type": "action", "config": {
        "action_type": "slack", "integration_id": bot_id, "channel": "nowhere", "text": "x"}}, {})
    assert missing["error"]["code"] == "SLACK_CHANNEL_NOT_FOUND"
    slack.rate_limit_next(retry_after=1)
    limited = await _run(api, {"id": "s4", "node_type": "action", "config": {
        "action_type": "slack", "integration_id": bot_id, "channel": "general", "text": "y", "retry": {"max_retries": 1, "backoff_seconds": 0.2}}}, {})
    assert limited["status"] == "completed" and limited["attempt"] == 2
    assert slack.webhook_url not in str(step["execution"])
    await assert_secrets_nowhere(settings, processes, [slack.webhook_url, slack.bot_token])


async def test_sheets_rows_with_the_bigquery_fallback(api: httpx.AsyncClient, google: GoogleStandIn, settings: Settings, processes: Processes) -> None:
    await _integration(api, {"name": "Google", "type": "storage", "provider": "google_sheets", "configuration": {
        "service_account": google.service_account, "sheets_base_url": google.sheets_base_url,
        "bigquery_base_url": google.bigquery_base_url, "bigquery_dataset": "analytics", "bigquery_table": "events"}})
    node = {"id": "sheet", "node_type": "action", "config": {
        "action_type": "google_sheets", "spreadsheet_id": google.spreadsheet_id, "range": "Sheet1!A1",
        "values": {"name": "{{input_data.name}}", "email": "{{input_data.email}}", "city": "الرياض"}}}
    step = await _run(api, node, {"name": "Omar", "email": "omar@x.io"})
    assert step["status"] == "completed", step
    assert step["output_data"]["path"] == "sheets"
    assert google.sheet_rows(google.spreadsheet_id, "Sheet1")[-1] == ["Omar", "omar@x.io", "الرياض"]
    google.fail_next(429)  # quota exceeded on the next Sheets call
    fallback = await _run(api, node, {"name": "Mona", "email": "mona@x.io"})
    assert fallback["status"] == "completed", fallback
    assert fallback["output_data"]["path"] == "bigquery" and "RESOURCE_EXHAUSTED" in fallback["output_data"]["fallback_reason"]
    assert google.table_rows("analytics", "events") == [{"name": "Mona", "email": "mona@x.io", "city": "الرياض"}]
    assert google.service_account["private_key"] not in str(fallback["execution"])
    key_body = google.service_account["private_key"].splitlines()[1]  # one line of the PEM body
    await assert_secrets_nowhere(settings, processes, [key_body])


async def test_connection_checks_and_test_mode(api: httpx.AsyncClient, whatsapp: WhatsAppStandIn, slack: SlackStandIn, google: GoogleStandIn) -> None:
    wa = await _integration(api, {"name": "WA test", "type": "messaging", "provider": "whatsapp", "settings": {"test_mode": True},
                                  "configuration": {"phone_number_id": whatsapp.phone_number_id, "access_token": whatsapp.access_token,
                                                    "base_url": whatsapp.base_url, "api_version": whatsapp.api_version}})
    bot = await _integration(api, {"name": "Slack check", "type": "messaging", "provider": "slack",
                                   "configuration": {"bot_token": slack.bot_token, "api_url": slack.api_url}})
    goog = await _integration(api, {"name": "Google check", "type": "storage", "provider": "google_sheets",
                                    "configuration": {"service_account": google.service_account}})
    for integration_id in (wa, bot, goog):
        checked = (await api.post(f"/api/v1/integrations/{integration_id}/test")).json()
        assert checked["success"] is True and len(checked["checks"]) == 2, checked
    wrong = await _integration(api, {"name": "Slack wrong", "type": "messaging", "provider": "slack",
                                     "configuration": {"bot_token": "xoxb-wrong", "api_url": slack.api_url}})
    failed = (await api.post(f"/api/v1/integrations/{wrong}/test")).json()
    assert failed["success"] is False and "invalid_auth" in failed["checks"][1]["detail"]
    # Test mode: the node runs, nothing is sent.
    step = await _run(api, {"id": "wa", "node_type": "action", "config": {
        "action_type": "send_message", "integration_id": wa, "to": "971501234567", "message": "hi"}}, {})
    assert step["status"] == "completed" and step["output_data"]["test_mode"] is True
    assert whatsapp.messages == []
