"""A provider's webhook call to an integration (seed 004's webhook_endpoint), the pure part:
its signature (Fluxo's and Stripe's schemes), its event, the subscribed event types."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pytest

from ingest.integration_hooks import provider_event, subscribed, verify
from ingest.webhooks import sign, sign_legacy
from schemas.errors import InvalidInput, Unauthenticated

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
NOW = 1_800_000_000.0
TOLERANCE = 300.0


def stripe(secret: str, body: bytes, stamp: int) -> str:
    # Written out by hand, as Stripe documents it, so the test does not take our sign() on trust.
    return f"t={stamp},v1=" + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("headers", [
    {"x-fluxo-signature": sign(SECRET, BODY, int(NOW))},
    {"stripe-signature": stripe(SECRET, BODY, int(NOW))},
    # Stripe may send several v1 values (secret rolling): any one matching is enough.
    {"stripe-signature": stripe("old", BODY, int(NOW)) + "," + stripe(SECRET, BODY, int(NOW)).split(",")[1]},
    {"stripe-signature": stripe(SECRET, BODY, int(NOW) - int(TOLERANCE))},
    {"x-fluxo-signature": "t=1,v1=00", "stripe-signature": stripe(SECRET, BODY, int(NOW))},
])
def test_verify_takes_either_header(headers: dict[str, str]) -> None:
    verify(SECRET, BODY, headers, NOW, TOLERANCE)


@pytest.mark.parametrize("headers", [
    {}, {"stripe-signature": ""}, {"stripe-signature": "t=1"}, {"stripe-signature": "v1=abc"},
    {"stripe-signature": f"t={int(NOW)},v1="}, {"stripe-signature": "t=x,v1=ab"},
    {"x-fluxo-signature": sign("other", BODY, int(NOW))},  # another secret
    {"x-fluxo-signature": sign(SECRET, b"{}", int(NOW))},  # another body
    {"stripe-signature": stripe(SECRET, BODY, int(NOW) - int(TOLERANCE) - 1)},  # too old: a replay
    {"stripe-signature": stripe(SECRET, BODY, int(NOW) + int(TOLERANCE) + 1)},
    {"stripe-signature": stripe(SECRET, BODY, int(NOW)).replace("v1=", "v0=")},  # only the v1 scheme counts
    {"x-fluxo-signature": sign_legacy(SECRET, BODY)},  # no replayable legacy form on this endpoint
])
def test_verify_refuses(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthenticated):
        verify(SECRET, BODY, headers, NOW, TOLERANCE)


@pytest.mark.parametrize(("data", "event_type", "provider_id"), [
    ({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"amount": 5}}}, "payment_intent.succeeded", "evt_1"),
    ({"event_type": "ORDER_PAID"}, "ORDER_PAID", None),
    ({"event": "order:paid", "id": 42}, "order:paid", "42"),
    ({"type": "a", "event_type": "b"}, "a", None),  # `type` first
    ({"type": 5, "event_type": "b"}, "b", None),  # a non-string type is not a type
    ({"type": "a", "id": ""}, "a", None),
    ({"type": "a", "id": {"x": 1}}, "a", None),
])
def test_provider_event(data: dict[str, Any], event_type: str, provider_id: str | None) -> None:
    event = provider_event(orjson.dumps(data))
    assert (event.event_type, event.data, event.provider_id) == (event_type, data, provider_id)


@pytest.mark.parametrize(("body", "field"), [
    (b"", "body"), (b"{not json", "body"), (b"[1]", "body"), (b'"x"', "body"),
    (b"{}", "body.type"), (b'{"type": ""}', "body.type"), (b'{"type": "has space"}', "body.type"),
    (orjson.dumps({"type": "x" * 101}), "body.type"),
    (orjson.dumps({"type": "a", "note": "nul\x00"}), "body.note"),
])
def test_provider_event_refused(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        provider_event(body)
    assert field in caught.value.fields


@pytest.mark.parametrize(("settings", "event_type", "taken"), [
    ({}, "a", True),
    ({"webhook_events": []}, "a", True),
    ({"webhook_events": "a"}, "b", True),  # not a list: no filter
    ({"webhook_events": ["a", "b"]}, "a", True),
    ({"webhook_events": ["a", "b"]}, "c", False),
])
def test_subscribed(settings: dict[str, Any], event_type: str, taken: bool) -> None:
    assert subscribed(event_type, settings) is taken
