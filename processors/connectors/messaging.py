"""WhatsApp Business Cloud API and Slack (incoming webhooks and chat.postMessage)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from processors.connectors.base import (
    INTEGRATION_MISSING,
    Connector,
    ConnectorContext,
    ConnectorError,
    test_mode_output,
)
from processors.connectors.checks import (
    ACTION_TYPES,
    validate_message,
    validate_slack,
    validate_whatsapp,
)
from processors.connectors.http import request
from processors.engine.machine import MESSAGE_SENT, message_event_id
from schemas.records import NodeWorkOrdered

GRAPH_URL = "https://graph.facebook.com"
SLACK_API_URL = "https://slack.com/api"
_DIGITS = re.compile(r"\D")


# -- WhatsApp -----------------------------------------------------------------------


def whatsapp_payload(order: NodeWorkOrdered) -> dict[str, Any]:
    config = order.config
    to = _DIGITS.sub("", str(config.get("to") or config.get("phone") or config.get("recipient")))
    if not 6 <= len(to) <= 15:
        raise ConnectorError("AUTO_007", "config.to is not a phone number in international format", retryable=False)
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        # Echoed back in status webhooks: lets a repeated delivery be recognised.
        "biz_opaque_callback_data": order.idempotency_key,
    }
    template = config.get("template")
    if isinstance(template, Mapping):
        language = template.get("language", "en_US")
        payload["type"] = "template"
        payload["template"] = {
            "name": str(template["name"]),
            "language": language if isinstance(language, Mapping) else {"code": str(language)},
            **({"components": template["components"]} if template.get("components") else {}),
        }
    else:
        text = config.get("message") or config.get("text") or config.get("body")
        payload["type"] = "text"
        payload["text"] = {"body": str(text), "preview_url": bool(config.get("preview_url", False))}
    return payload


async def run_whatsapp(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    integration = ctx.integration(order.config, "whatsapp")
    assert integration is not None
    token = integration.value("access_token") or integration.value("api_key")
    phone_number_id = integration.value("phone_number_id")
    if not token or not phone_number_id:
        raise ConnectorError(INTEGRATION_MISSING, "the WhatsApp integration needs phone_number_id and access_token", retryable=False)
    base = str(integration.value("base_url") or GRAPH_URL).rstrip("/")
    version = str(integration.value("api_version") or "v21.0")
    payload = whatsapp_payload(order)
    status, _, body = await request(
        ctx, "POST", f"{base}/{version}/{phone_number_id}/messages",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=orjson.dumps(payload), params=None, timeout=order.timeout_seconds,
    )
    if status >= 400 or not isinstance(body, Mapping):
        error = body.get("error", {}) if isinstance(body, Mapping) else {}
        code = error.get("code", status) if isinstance(error, Mapping) else status
        message = error.get("message", f"answered {status}") if isinstance(error, Mapping) else f"answered {status}"
        raise ConnectorError(f"WHATSAPP_{code}", f"WhatsApp: {message}", retryable=status >= 500 or status == 429)
    messages = body.get("messages") or [{}]
    return {
        "status": "sent",
        "channel": "whatsapp",
        "message_id": messages[0].get("id"),
        "to": payload["to"],
        "wa_id": (body.get("contacts") or [{}])[0].get("wa_id"),
        "type": payload["type"],
    }


# -- send_message (seed 003) -------------------------------------------------------------


async def run_message(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    """A reply in the event's conversation. The executor records it as a MESSAGE_SENT event;
    it is delivered through the workspace's WhatsApp integration only when one is set."""
    config = order.config
    text = config.get("message") or config.get("text") or config.get("body")
    reply: dict[str, Any] = {
        "content": None if text is None else str(text),
        "conversation_id": config.get("conversation_id"),
        "event_type": MESSAGE_SENT,
        "event_id": message_event_id(order.execution_id, order.node_id, order.attempt, order.iteration),
    }
    named = bool(config.get("integration_id") or config.get("integration"))
    integration = ctx.integration(config, "whatsapp", required=named)
    if integration is None:
        return {"status": "sent", "delivery": "event_only", **reply}
    if integration.test_mode:
        return {**test_mode_output(order, integration), "delivery": "test_mode", **reply}
    if not (config.get("to") or config.get("phone") or config.get("recipient")):
        # The conversation may live on another channel: the event is the reply.
        return {"status": "sent", "delivery": "event_only", "delivery_note": "the contact has no phone number", **reply}
    sent = await run_whatsapp(order, ctx)
    return {**sent, "delivery": "whatsapp", **reply}


# -- Slack ----------------------------------------------------------------------------


async def run_slack(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    config = order.config
    integration = ctx.integration(config, "slack")
    assert integration is not None
    message: dict[str, Any] = {"text": str(config.get("text") or config.get("message") or "")}
    if config.get("blocks"):
        message["blocks"] = config["blocks"]
    channel = config.get("channel") or integration.value("default_channel")
    bot_token = integration.value("bot_token")
    if bot_token and channel:
        api = str(integration.value("api_url") or SLACK_API_URL).rstrip("/")
        status, headers, body = await request(
            ctx, "POST", f"{api}/chat.postMessage",
            headers={"Authorization": f"Bearer {bot_token}", "Content-Type": "application/json; charset=utf-8"},
            data=orjson.dumps({**message, "channel": str(channel)}), params=None, timeout=order.timeout_seconds,
        )
        if status == 429:
            raise ConnectorError("SLACK_RATE_LIMITED", f"Slack rate limit (retry after {headers.get('Retry-After', '?')}s)", retryable=True)
        if status >= 400 or not isinstance(body, Mapping):
            raise ConnectorError(f"SLACK_HTTP_{status}", f"Slack answered {status}", retryable=status >= 500)
        if not body.get("ok"):
            error = str(body.get("error", "unknown_error"))
            raise ConnectorError(f"SLACK_{error.upper()}", f"Slack: {error}", retryable=error in ("ratelimited", "service_unavailable", "internal_error"))
        return {"status": "sent", "channel": body.get("channel"), "ts": body.get("ts"), "via": "chat.postMessage"}
    webhook = integration.value("webhook_url")
    if not webhook:
        raise ConnectorError(INTEGRATION_MISSING, "the Slack integration needs webhook_url, or bot_token and a channel", retryable=False)
    # The webhook URL is itself a credential: errors below never repeat it.
    try:
        status, _, body = await request(
            ctx, "POST", str(webhook), headers={"Content-Type": "application/json"},
            data=orjson.dumps(message), params=None, timeout=order.timeout_seconds,
        )
    except ConnectorError as exc:
        raise ConnectorError(exc.code, "Slack webhook: " + exc.message.replace(str(webhook), "<webhook>"), retryable=exc.retryable) from None
    if status == 429 or status >= 500:
        raise ConnectorError(f"SLACK_HTTP_{status}", f"Slack webhook answered {status}", retryable=True)
    if status >= 400:
        raise ConnectorError(f"SLACK_{str(body).strip().upper() or status}", f"Slack webhook: {body}", retryable=False)
    return {"status": "sent", "via": "webhook", "response": body}


WHATSAPP = Connector(action_types=ACTION_TYPES["whatsapp"], run=run_whatsapp, validate=validate_whatsapp, integration_type="whatsapp")
# No integration_type: without a messaging integration the reply is the event alone.
MESSAGE = Connector(action_types=ACTION_TYPES["message"], run=run_message, validate=validate_message)
SLACK = Connector(action_types=ACTION_TYPES["slack"], run=run_slack, validate=validate_slack, integration_type="slack")
