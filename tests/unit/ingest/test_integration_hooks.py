"""A provider's webhook call to an integration (seed 004's webhook_endpoint), the pure part:
its signature (Fluxo's and Stripe's schemes), its event, the subscribed event types."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pytest

from ingest.integration_hooks import (
    STRIPE_TOLERANCE_SECONDS,
    provider_event,
    stripe_signature_valid,
    subscribed,
    verify,
)
from ingest.webhooks import sign
from schemas.errors import InvalidInput, Unauthenticated

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
NOW = 1_800_000_000.0


def stripe(secret: str, body: bytes, stamp: int) -> str:
    return f"t={stamp},v1=" + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_stripe_signature() -> None:
    assert stripe_signature_valid(SECRET, BODY, stripe(SECRET, BODY, int(NOW)), NOW)
    # Stripe may send several v1 values (secret rolling): any one matching is enough.
    rolled = stripe("old", BODY, int(NOW)) + "," + stripe(SECRET, BODY, int(NOW)).split(",")[1]
    assert stripe_signature_valid(SECRET, BODY, rolled, NOW)
    assert stripe_signature_valid(SECRET, BODY, stripe(SECRET, BODY, int(NOW) - STRIPE_TOLERANCE_SECONDS), NOW)


@pytest.mark.parametrize("header", [
    None, "", "t=1", "v1=abc", f"t={int(NOW)},v1=", "t=x,v1=ab",
    stripe("other", BODY, int(NOW)),  # another secret
    stripe(SECRET, BODY + b" ", int(NOW)),  # another body
    stripe(SECRET, BODY, int(NOW) - STRIPE_TOLERANCE_SECONDS - 1),  # too old: a replay
    stripe(SECRET, BODY, int(NOW) + STRIPE_TOLERANCE_SECONDS + 1),
    stripe(SECRET, BODY, int(NOW)).replace("v1=", "v0="),  # only the v1 scheme counts
])
def test_stripe_signature_refused(header: str | None) -> None:
    assert not stripe_signature_valid(SECRET, BODY, header, NOW)


@pytest.mark.parametrize("headers", [
    {"x-fluxo-signature": sign(SECRET, BODY)},
    {"x-fluxo-signature": sign(SECRET, BODY).removeprefix("sha256=")},
    {"stripe-signature": stripe(SECRET, BODY, int(NOW))},
    {"x-fluxo-signature": "sha256=00", "stripe-signature": stripe(SECRET, BODY, int(NOW))},
])
def test_verify_takes_either_scheme(headers: dict[str, str]) -> None:
    verify(SECRET, BODY, headers, NOW)


@pytest.mark.parametrize("headers", [
    {}, {"x-fluxo-signature": sign("other", BODY)}, {"x-fluxo-signature": sign(SECRET, b"{}")},
    {"stripe-signature": stripe(SECRET, BODY, int(NOW) - 3600)},
])
def test_verify_refuses(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthenticated):
        verify(SECRET, BODY, headers, NOW)


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
