"""pytest fixtures for the stand-ins: ``from standins.fixtures import whatsapp, slack, google, smtp_server``.

Each fixture is function-scoped: a fresh server (new port, empty state) per test,
stopped afterwards. They are async fixtures running in the test session's
event loop (the project sets ``asyncio_default_fixture_loop_scope = "session"``).

Servers listen on 127.0.0.1: a connector guarded against private addresses
(``processors.connectors.guard``) has to allow ``127.0.0.1`` for these tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from standins.google import GoogleStandIn
from standins.slack import SlackStandIn
from standins.smtp import SMTPStandIn
from standins.whatsapp import WhatsAppStandIn


@pytest_asyncio.fixture
async def whatsapp() -> AsyncIterator[WhatsAppStandIn]:
    """WhatsApp Cloud API. Send to ``whatsapp.messages_url`` with
    ``Authorization: Bearer {whatsapp.access_token}``."""
    standin = WhatsAppStandIn(
        access_token="EAAGfluxoTestToken0123456789",
        phone_number_id="106540352242922",
        api_version="v21.0",
    )
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    """Slack: ``slack.webhook_url`` (-> #general) and ``slack.api_url`` + ``/chat.postMessage``
    with ``Authorization: Bearer {slack.bot_token}``. Channels: general=C0000000001, alerts=C0000000002."""
    standin = SlackStandIn(bot_token="xoxb-1-2-fluxotestbottoken")
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


@pytest_asyncio.fixture
async def google() -> AsyncIterator[GoogleStandIn]:
    """Google OAuth + Sheets + BigQuery. ``google.service_account`` is a registered key
    file dict (token_uri -> this server). Pre-created: spreadsheet ``google.spreadsheet_id``
    (sheet ``Sheet1``) and BigQuery table ``fluxo-test.analytics.events`` (no schema)."""
    standin = GoogleStandIn(project_id="fluxo-test")
    await standin.start()
    standin.spreadsheet_id = standin.add_spreadsheet("1FluxoTestSpreadsheet0000000000000000000000")
    standin.add_table("analytics", "events")
    try:
        yield standin
    finally:
        await standin.stop()


@pytest_asyncio.fixture
async def smtp_server() -> AsyncIterator[SMTPStandIn]:
    """SMTP with AUTH PLAIN/LOGIN required (no TLS): ``smtp_server.host``/``.port``,
    ``.username``/``.password``; delivered mail in ``smtp_server.messages``.
    For TLS, build ``SMTPStandIn(starttls=True)`` or ``(implicit_tls=True)`` yourself."""
    standin = SMTPStandIn(username="fluxo@test.local", password="smtp-test-password")
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()
