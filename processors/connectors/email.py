"""send_email over SMTP (aiosmtplib): STARTTLS or implicit TLS, auth, text or HTML.

The SMTP server and credentials come from the workspace's email integration.
The Message-ID derives from the idempotency key, so a repeated delivery of
the same step carries the same Message-ID and the receiving side (or a human)
can tell it is the same message.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import aiosmtplib

from processors.connectors.base import (
    INTEGRATION_MISSING,
    Connector,
    ConnectorContext,
    ConnectorError,
    Integration,
)
from processors.connectors.checks import ACTION_TYPES, validate_email
from processors.connectors.guard import address_allowed, host_allowed
from processors.expressions.templates import TemplateError, render_value
from schemas.envelope import now
from schemas.records import NodeWorkOrdered


def _recipients(config: Mapping[str, Any]) -> list[str]:
    value = config.get("recipient") or config.get("to")
    items = value if isinstance(value, list) else str(value).split(",")
    recipients = [str(v).strip() for v in items if str(v).strip()]
    for address in recipients:
        if "@" not in address or any(c in address for c in "\r\n<>"):
            raise ConnectorError("AUTO_007", "config.recipient is not an email address", retryable=False)
    return recipients


def build_message(order: NodeWorkOrdered, sender: str, sender_name: str | None, reply_to: str | None) -> EmailMessage:
    config = order.config
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = ", ".join(_recipients(config))
    message["Subject"] = str(config["subject"])
    if reply_to or config.get("reply_to"):
        message["Reply-To"] = str(config.get("reply_to") or reply_to)
    domain = sender.rsplit("@", 1)[-1]
    digest = hashlib.sha256(order.idempotency_key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@{domain}>"
    message["X-Fluxo-Idempotency-Key"] = order.idempotency_key
    body = config.get("body")
    html = config.get("html") or (body if config.get("is_html") else None)
    text = body if not config.get("is_html") else config.get("text")
    if text:
        message.set_content(str(text))
        if html:
            message.add_alternative(str(html), subtype="html")
    else:
        message.set_content(str(html or ""), subtype="html")
    return message


def apply_template(order: NodeWorkOrdered, integration: Integration) -> NodeWorkOrdered:
    """A named template (kept in the integration's `templates`) fills subject, body and html
    that the node does not set itself, rendered against the execution context."""
    name = order.config.get("template")
    if not isinstance(name, str):
        return order
    templates = integration.value("templates") or {}
    template = templates.get(name) if isinstance(templates, Mapping) else None
    if not isinstance(template, Mapping):
        raise ConnectorError("AUTO_007", f"no email template {name!r} in integration {integration.name}", retryable=False)
    raw_context = order.config.get("context")
    context: Mapping[str, Any] = raw_context if isinstance(raw_context, Mapping) else {}
    fields = {k: template[k] for k in ("subject", "body", "html", "is_html") if k in template and k not in order.config}
    try:
        rendered = render_value(fields, dict(context), now=now())
    except TemplateError as exc:
        raise ConnectorError("TEMPLATE_ERROR", f"email template {name}: {exc.path}: {exc}", retryable=False) from None
    config = {k: v for k, v in order.config.items() if k != "context"}
    return order.model_copy(update={"config": {**config, **rendered}})


async def _guard_host(host: str, allowed: tuple[str, ...]) -> None:
    """The SSRF rule applies to SMTP servers too: no private addresses unless allowed."""
    if host_allowed(host, allowed):
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        raise ConnectorError("SMTP_CONNECTION", f"cannot resolve SMTP host {host}", retryable=True) from None
    for info in infos:
        if not address_allowed(str(info[4][0])):
            raise ConnectorError("SSRF_BLOCKED", f"refused to connect to {host}: {info[4][0]} is not a public address", retryable=False)


async def run_email(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    integration = ctx.integration(order.config, "email")
    assert integration is not None
    order = apply_template(order, integration)
    if "subject" not in order.config:
        raise ConnectorError("AUTO_007", "config.subject is required", retryable=False)
    host = integration.value("host") or integration.value("smtp_host")
    port = int(integration.value("port") or integration.value("smtp_port") or 587)
    sender = str(order.config.get("from") or integration.value("from_email") or integration.value("username") or "")
    if not host or "@" not in sender:
        raise ConnectorError(INTEGRATION_MISSING, "the email integration needs host and from_email", retryable=False)
    await _guard_host(str(host), ctx.allowed_hosts)
    security = str(integration.value("security") or ("tls" if port == 465 else "starttls")).lower()
    message = build_message(order, sender, integration.value("from_name"), integration.value("reply_to"))
    context = ssl.create_default_context()
    if integration.value("verify_tls") is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    username, password = integration.value("username"), integration.value("password")
    try:
        errors, response = await aiosmtplib.send(
            message,
            hostname=str(host),
            port=port,
            username=str(username) if username else None,
            password=str(password) if password else None,
            use_tls=security == "tls",
            start_tls=True if security == "starttls" else (False if security == "none" else None),
            tls_context=context,
            timeout=order.timeout_seconds,
        )
    except aiosmtplib.SMTPAuthenticationError:
        raise ConnectorError("SMTP_AUTH", "the SMTP server refused the credentials", retryable=False) from None
    except aiosmtplib.SMTPRecipientsRefused:
        raise ConnectorError("SMTP_RECIPIENTS", "the SMTP server refused every recipient", retryable=False) from None
    except aiosmtplib.SMTPResponseException as exc:
        retry = 400 <= exc.code < 500
        raise ConnectorError(f"SMTP_{exc.code}", f"the SMTP server answered {exc.code}", retryable=retry) from None
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        raise ConnectorError("SMTP_CONNECTION", f"could not deliver to {host}:{port}: {type(exc).__name__}", retryable=True) from None
    return {
        "status": "sent",
        "message_id": message["Message-ID"],
        "recipients": _recipients(order.config),
        "refused": sorted(errors),
        "smtp_response": response,
        "subject": message["Subject"],
    }


EMAIL = Connector(action_types=ACTION_TYPES["email"], run=run_email, validate=validate_email, integration_type="email")
