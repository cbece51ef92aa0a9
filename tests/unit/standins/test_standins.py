"""The stand-ins themselves, driven over real HTTP / SMTP like a connector would."""

# Fixtures are imported by name, and pytest hands them back as same-named arguments.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import smtplib
import time
from email.message import EmailMessage
from email.utils import make_msgid

import aiohttp
import pytest
from standins.fixtures import google, slack, smtp_server, whatsapp  # noqa: F401
from standins.google import BIGQUERY_SCOPE, JWT_BEARER, SHEETS_SCOPE, GoogleStandIn
from standins.slack import SlackStandIn
from standins.smtp import SMTPStandIn
from standins.whatsapp import WhatsAppStandIn

# -- WhatsApp ---------------------------------------------------------------------------------


async def test_whatsapp_text_and_template(whatsapp: WhatsAppStandIn) -> None:
    auth = {"Authorization": f"Bearer {whatsapp.access_token}"}
    async with aiohttp.ClientSession() as http:
        text = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+966 50 123 4567",
            "type": "text",
            "text": {"body": "مرحبا", "preview_url": False},
        }
        async with http.post(whatsapp.messages_url, json=text, headers=auth) as resp:
            assert resp.status == 200
            body = await resp.json()
        tpl = {
            "messaging_product": "whatsapp",
            "to": "15551234567",
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}],
            },
        }
        async with http.post(whatsapp.messages_url, json=tpl, headers=auth) as resp:
            assert resp.status == 200
            body2 = await resp.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+966 50 123 4567", "wa_id": "966501234567"}]
    assert body["messages"][0]["id"].startswith("wamid.")
    assert body2["messages"][0]["id"] != body["messages"][0]["id"]
    assert [m["type"] for m in whatsapp.messages] == ["text", "template"]
    assert whatsapp.requests[0].json["text"]["body"] == "مرحبا"
    assert whatsapp.requests[0].bearer_token == whatsapp.access_token


async def test_whatsapp_errors(whatsapp: WhatsAppStandIn) -> None:
    msg = {
        "messaging_product": "whatsapp",
        "to": "15551234567",
        "type": "text",
        "text": {"body": "hi"},
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            whatsapp.messages_url, json=msg, headers={"Authorization": "Bearer nope"}
        ) as resp:
            assert resp.status == 401
            err = (await resp.json())["error"]
            assert (err["type"], err["code"]) == ("OAuthException", 190) and err["fbtrace_id"]
        auth = {"Authorization": f"Bearer {whatsapp.access_token}"}
        async with http.post(whatsapp.messages_url, json={**msg, "to": None}, headers=auth) as resp:
            assert resp.status == 400
            err = (await resp.json())["error"]
            assert err["code"] == 100 and "to" in err["message"]
        async with http.post(
            whatsapp.messages_url, json={**msg, "type": "fax"}, headers=auth
        ) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == 100
        whatsapp.fail_next(429)
        async with http.post(whatsapp.messages_url, json=msg, headers=auth) as resp:
            assert resp.status == 429 and (await resp.json())["error"]["code"] == 130429
        async with http.post(whatsapp.messages_url, json=msg, headers=auth) as resp:
            assert resp.status == 200
    assert len(whatsapp.messages) == 1
    assert [r.status for r in whatsapp.requests] == [401, 400, 400, 429, 200]


# -- Slack ------------------------------------------------------------------------------------


async def test_slack_webhook_and_api(slack: SlackStandIn) -> None:
    async with aiohttp.ClientSession() as http:
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
        async with http.post(slack.webhook_url, json={"text": "hello", "blocks": blocks}) as resp:
            assert resp.status == 200 and await resp.text() == "ok"
        async with http.post(slack.webhook_url, json={"username": "x"}) as resp:
            assert resp.status == 400 and await resp.text() == "no_text"
        async with http.post(
            slack.webhook_url, data=b"{not json", headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 400 and await resp.text() == "invalid_payload"

        url = slack.api_url + "/chat.postMessage"
        auth = {"Authorization": f"Bearer {slack.bot_token}"}
        async with http.post(
            url, json={"channel": "#alerts", "text": "deploy done"}, headers=auth
        ) as resp:
            assert resp.status == 200
            ok = await resp.json()
        async with http.post(url, json={"channel": "C404", "text": "x"}, headers=auth) as resp:
            assert resp.status == 200 and await resp.json() == {
                "ok": False,
                "error": "channel_not_found",
            }
        async with http.post(url, json={"channel": "general", "text": "x"}) as resp:
            assert (await resp.json())["error"] == "not_authed"
        async with http.post(
            url,
            json={"channel": "general", "text": "x"},
            headers={"Authorization": "Bearer xoxb-wrong"},
        ) as resp:
            assert (await resp.json())["error"] == "invalid_auth"
        slack.rate_limit_next(retry_after=3)
        async with http.post(url, json={"channel": "general", "text": "x"}, headers=auth) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "3"
            assert await resp.json() == {"ok": False, "error": "ratelimited"}
    assert (
        ok["ok"] is True
        and ok["channel"] == "C0000000002"
        and ok["message"]["text"] == "deploy done"
    )
    assert ok["ts"] == ok["message"]["ts"]
    assert [(m["via"], m["channel_name"]) for m in slack.messages] == [
        ("webhook", "general"),
        ("api", "alerts"),
    ]


# -- Google -----------------------------------------------------------------------------------


async def _token(http: aiohttp.ClientSession, google: GoogleStandIn, scopes: list[str]) -> str:
    assertion = google.sign_assertion(scopes)
    async with http.post(
        google.service_account["token_uri"], data={"grant_type": JWT_BEARER, "assertion": assertion}
    ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    return str(body["access_token"])


async def test_google_token_sheets_bigquery(google: GoogleStandIn) -> None:
    sa = google.service_account
    assert sa["type"] == "service_account" and sa["private_key"].startswith(
        "-----BEGIN PRIVATE KEY-----"
    )
    sid = google.spreadsheet_id
    assert sid is not None
    async with aiohttp.ClientSession() as http:
        token = await _token(http, google, [SHEETS_SCOPE, BIGQUERY_SCOPE])
        auth = {"Authorization": f"Bearer {token}"}
        url = google.append_url(sid, "Sheet1!A1")
        for values in (
            [["name", "email", "n"]],
            [["Ali", "ali@example.com", 3], ["Sara", "s@example.com", 4]],
        ):
            async with http.post(
                url,
                params={"valueInputOption": "USER_ENTERED"},
                headers=auth,
                json={"range": "Sheet1!A1", "majorDimension": "ROWS", "values": values},
            ) as resp:
                assert resp.status == 200, await resp.text()
                appended = await resp.json()
        assert appended == {
            "spreadsheetId": sid,
            "tableRange": "Sheet1!A1:C1",
            "updates": {
                "spreadsheetId": sid,
                "updatedRange": "Sheet1!A2:C3",
                "updatedRows": 2,
                "updatedColumns": 3,
                "updatedCells": 6,
            },
        }
        assert google.sheet_rows(sid, "Sheet1")[1:] == [
            ["Ali", "ali@example.com", 3],
            ["Sara", "s@example.com", 4],
        ]

        google.add_table(
            "analytics",
            "orders",
            schema=[
                {"name": "id", "type": "STRING", "mode": "REQUIRED"},
                {"name": "amount", "type": "INTEGER"},
            ],
        )
        bq = google.insert_all_url("fluxo-test", "analytics", "orders")
        rows = {
            "kind": "bigquery#tableDataInsertAllRequest",
            "skipInvalidRows": False,
            "ignoreUnknownValues": False,
            "rows": [
                {"insertId": "a1", "json": {"id": "o-1", "amount": 5}},
                {"insertId": "a2", "json": {"id": "o-2", "amount": "7"}},
            ],
        }
        for _ in range(2):  # the retry is de-duplicated by insertId
            async with http.post(bq, json=rows, headers=auth) as resp:
                assert resp.status == 200
                assert await resp.json() == {"kind": "bigquery#tableDataInsertAllResponse"}
        bad = {
            "rows": [
                {"insertId": "b1", "json": {"id": "o-3", "amount": "lots"}},
                {"insertId": "b2", "json": {"id": "o-4"}},
            ]
        }
        async with http.post(bq, json=bad, headers=auth) as resp:
            result = await resp.json()
    assert google.table_rows("analytics", "orders") == [
        {"id": "o-1", "amount": 5},
        {"id": "o-2", "amount": "7"},
    ]
    assert google.table("analytics", "orders").duplicates == 2
    assert result["insertErrors"][0]["index"] == 0
    assert result["insertErrors"][0]["errors"][0]["location"] == "amount"
    assert result["insertErrors"][1]["errors"][0]["reason"] == "stopped"


async def test_google_errors(google: GoogleStandIn) -> None:
    sid = google.spreadsheet_id
    assert sid is not None
    body = {"values": [["x"]]}
    params = {"valueInputOption": "RAW"}
    async with aiohttp.ClientSession() as http:
        # a JWT signed by a key the stand-in doesn't know
        stranger = google.new_service_account(
            client_email="stranger@fluxo-test.iam.gserviceaccount.com",
            fresh_key=True,
            register=False,
        )
        # the stand-in knows that email and key id, but with another key
        google.register_service_account(
            {**stranger, "private_key": google.service_account["private_key"]}
        )
        async with http.post(
            google.token_uri,
            data={
                "grant_type": JWT_BEARER,
                "assertion": google.sign_assertion(SHEETS_SCOPE, stranger),
            },
        ) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "error": "invalid_grant",
                "error_description": "Invalid JWT Signature.",
            }
        async with http.post(
            google.token_uri,
            data={
                "grant_type": JWT_BEARER,
                "assertion": google.sign_assertion(SHEETS_SCOPE, issued_at=int(time.time()) - 7200),
            },
        ) as resp:
            assert (await resp.json())["error"] == "invalid_grant"

        async with http.post(google.append_url(sid, "Sheet1"), params=params, json=body) as resp:
            assert (
                resp.status == 401 and (await resp.json())["error"]["status"] == "UNAUTHENTICATED"
            )
        token = await _token(http, google, [SHEETS_SCOPE])
        auth = {"Authorization": f"Bearer {token}"}
        async with http.post(
            google.append_url("missing", "Sheet1"), params=params, json=body, headers=auth
        ) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"] == {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
            }
        google.fail_next(429)
        async with http.post(
            google.append_url(sid, "Sheet1"), params=params, json=body, headers=auth
        ) as resp:
            assert resp.status == 429
            err = (await resp.json())["error"]
            assert err["status"] == "RESOURCE_EXHAUSTED" and "Quota exceeded" in err["message"]
        async with http.post(
            google.insert_all_url("fluxo-test", "analytics", "events"),
            json={"rows": [{"json": {"a": 1}}]},
            headers=auth,
        ) as resp:
            assert resp.status == 403  # a Sheets-only token
            assert (await resp.json())["error"]["status"] == "PERMISSION_DENIED"
        google.expire_tokens()
        async with http.post(
            google.append_url(sid, "Sheet1"), params=params, json=body, headers=auth
        ) as resp:
            assert resp.status == 401
    assert google.sheet_rows(sid, "Sheet1") == []


# -- SMTP -------------------------------------------------------------------------------------


def _mail(smtp: SMTPStandIn) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Fluxo <noreply@fluxo.test>"
    msg["To"] = "ahmed@example.com, sara@example.com"
    msg["Subject"] = "تم تأكيد طلبك"
    msg["Message-ID"] = make_msgid(domain="fluxo.test")
    msg.set_content("نص الرسالة")
    msg.add_alternative("<p>نص <b>الرسالة</b></p>", subtype="html")
    return msg


def _send(smtp: SMTPStandIn, password: str, *, starttls: bool = False) -> EmailMessage:
    msg = _mail(smtp)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
        if starttls:
            client.starttls(context=smtp.client_ssl_context())
        client.login(smtp.username, password)
        client.send_message(msg)
    return msg


async def test_smtp_delivery_and_errors(smtp_server: SMTPStandIn) -> None:
    sent = await asyncio.to_thread(_send, smtp_server, smtp_server.password)
    [got] = await smtp_server.wait_for_messages(1)
    assert got.subject == "تم تأكيد طلبك"
    assert got.from_ == "Fluxo <noreply@fluxo.test>"
    assert got.to == ["ahmed@example.com", "sara@example.com"]
    assert got.message_id == sent["Message-ID"]
    assert got.text is not None and got.text.strip() == "نص الرسالة"
    assert got.html is not None and "<b>الرسالة</b>" in got.html
    assert got.auth_login == smtp_server.username and got.rcpt_tos == [
        "ahmed@example.com",
        "sara@example.com",
    ]

    with pytest.raises(smtplib.SMTPAuthenticationError):
        await asyncio.to_thread(_send, smtp_server, "wrong")
    smtp_server.fail_next(451, stage="DATA")
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await asyncio.to_thread(_send, smtp_server, smtp_server.password)
    assert exc.value.smtp_code == 451
    assert len(smtp_server.messages) == 1
    # smtplib tries each offered mechanism (PLAIN, LOGIN) before giving up on the wrong password
    attempts = smtp_server.auth_attempts
    assert attempts[0] == ("PLAIN", smtp_server.username, True) and attempts[-1][2] is True
    assert {ok for _m, _l, ok in attempts[1:-1]} == {False}


async def test_smtp_starttls() -> None:
    async with SMTPStandIn(starttls=True, require_starttls=True) as smtp:
        await asyncio.to_thread(_send, smtp, smtp.password, starttls=True)
        assert smtp.messages[0].tls is True


async def test_smtp_requires_auth_and_implicit_tls() -> None:
    async with SMTPStandIn(implicit_tls=True, reject_recipients={"gone@example.com"}) as smtp:

        def deliver() -> None:
            with smtplib.SMTP_SSL(
                smtp.host, smtp.port, context=smtp.client_ssl_context(), timeout=5
            ) as client:
                with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                    client.sendmail("a@fluxo.test", ["b@example.com"], b"Subject: x\r\n\r\nx")
                assert refused.value.smtp_code == 530
                client.login(smtp.username, smtp.password)
                with pytest.raises(smtplib.SMTPRecipientsRefused):
                    client.sendmail("a@fluxo.test", ["gone@example.com"], b"Subject: x\r\n\r\nx")
                client.sendmail("a@fluxo.test", ["b@example.com"], b"Subject: x\r\n\r\nbody")

        await asyncio.to_thread(deliver)
        [got] = smtp.messages
        assert got.tls is True and got.rcpt_tos == ["b@example.com"] and got.subject == "x"


# -- shared machinery -------------------------------------------------------------------------


async def test_delay_and_wait_for_requests(slack: SlackStandIn) -> None:
    slack.delay_next(0.5)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TimeoutError):
            async with http.post(
                slack.webhook_url,
                json={"text": "slow"},
                timeout=aiohttp.ClientTimeout(total=0.1),
            ):
                pass
        async with http.post(slack.webhook_url, json={"text": "fast"}) as resp:
            assert resp.status == 200
        # the timed-out request is still handled: the client can't know it was delivered
        answered = await slack.wait_for_requests(2, timeout=5)
    assert {r.json["text"] for r in answered} == {"slow", "fast"}
    assert sorted(m["text"] for m in slack.messages) == ["fast", "slow"]
