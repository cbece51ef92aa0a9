"""A provider's webhook calls to an integration (seed 004's `webhook_endpoint`), the pure part:
is the call signed with the integration's `webhook_secret`, and which event it is.

No I/O here: api/routers/integrations.py does the HTTP, the secret and Kafka around these.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.webhooks import signature_valid
from schemas.errors import InvalidInput, Unauthenticated
from schemas.json_limits import json_problems

# Stripe's scheme (seed 004's example integration): `Stripe-Signature: t=<unix>,v1=<hex>`,
# the HMAC-SHA256 of `<t>.<body>`; a signature older (or newer) than this is refused, so a
# captured call cannot be replayed later.
STRIPE_HEADER = "Stripe-Signature"
STRIPE_TOLERANCE_SECONDS = 300
# The body keys a provider names its event type with (Stripe, most others: `type`).
EVENT_TYPE_KEYS = ("type", "event_type", "event")
# As POST /triggers/process_event's event_type.
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


def stripe_signature_valid(secret: str, body: bytes, header: str | None, now: float, tolerance: float = STRIPE_TOLERANCE_SECONDS) -> bool:
    """Stripe's signature check: any `v1` of the header matches and `t` is within tolerance."""
    if not header:
        return False
    stamp: str | None = None
    given: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            stamp = value
        elif key == "v1" and value:
            given.append(value.lower())
    if stamp is None or not stamp.isdigit() or not given or abs(now - int(stamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest().encode()
    return any(hmac.compare_digest(v.encode(), expected) for v in given)


def verify(secret: str, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Refused (401) unless signed: Fluxo's `X-Fluxo-Signature: sha256=<hex>` of the body, as
    inbound hooks are, or Stripe's `Stripe-Signature`. Header names are matched lower case."""
    if signature_valid(secret, body, headers.get("x-fluxo-signature")):
        return
    if stripe_signature_valid(secret, body, headers.get(STRIPE_HEADER.lower()), now):
        return
    raise Unauthenticated("missing or wrong signature: sign the body with the integration's webhook_secret"
                          " (X-Fluxo-Signature: sha256=<hex>, or Stripe-Signature)")


@dataclass(frozen=True)
class ProviderEvent:
    event_type: str
    data: dict[str, Any]
    # The provider's id of the event (Stripe's `evt_…`): a redelivery writes the same event.
    provider_id: str | None


def provider_event(body: bytes) -> ProviderEvent:
    """The event in a provider's call: a JSON object naming its type (422 otherwise)."""
    try:
        data = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not valid JSON", fields={"body": "must be a JSON object"}) from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", fields={"body": "must be a JSON object"})
    problems = json_problems(data)
    if problems:
        field, problem = next(iter(problems.items()))
        raise InvalidInput(f"{field}: {problem}", fields={f"body.{field}" if field else "body": problem})
    named = next((data[k] for k in EVENT_TYPE_KEYS if isinstance(data.get(k), str)), None)
    if named is None or not _EVENT_TYPE.match(named):
        raise InvalidInput("the event type is missing or invalid",
                           fields={"body.type": "the event type (type, event_type or event): letters, digits, _ . : -, at most 100"})
    provider_id = data.get("id")
    return ProviderEvent(named, data, str(provider_id)[:200] if isinstance(provider_id, str | int) and provider_id != "" else None)


def subscribed(event_type: str, settings: Mapping[str, Any]) -> bool:
    """Seed 004's `settings.webhook_events`: when it lists events, only those are taken."""
    wanted = settings.get("webhook_events")
    if not isinstance(wanted, list) or not wanted:
        return True
    return event_type in {str(w) for w in wanted}
