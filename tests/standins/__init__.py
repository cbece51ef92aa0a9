"""Local stand-ins for the SaaS APIs our connectors call.

Each HTTP stand-in is a real aiohttp server on 127.0.0.1 (ephemeral port) that
speaks the documented wire format of the service: same paths, same auth
checks, same success and error shapes. Tests point a connector at
``standin.base_url`` and assert on ``standin.requests`` (every request, as
received) or on the service state the stand-in keeps (messages posted, rows
appended, mail delivered).

Scripted failures: ``standin.fail_next(status, body=None, times=1)`` makes the
next matching request(s) fail with the service's own error shape.

Fixtures for tests: ``from standins.fixtures import whatsapp, slack, google, smtp_server``.
"""

from standins.base import FailRule, RecordedRequest, StandIn
from standins.google import GoogleStandIn, make_service_account
from standins.slack import SlackStandIn
from standins.smtp import ReceivedMessage, SMTPStandIn
from standins.whatsapp import WhatsAppStandIn

__all__ = [
    "FailRule",
    "GoogleStandIn",
    "ReceivedMessage",
    "RecordedRequest",
    "SMTPStandIn",
    "SlackStandIn",
    "StandIn",
    "WhatsAppStandIn",
    "make_service_account",
]
