"""A provider's webhook calls to an integration (seed 004's `webhook_endpoint`), the pure part:
is the call signed with the integration's `webhook_secret`, and which event it is.

No I/O here: api/routers/integrations.py does the HTTP, the secret and Kafka around these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.webhooks import SIGNATURE_HEADER, signature_problem
from schemas.errors import InvalidInput, Unauthenticated
from schemas.json_limits import json_problems

# Stripe's scheme (seed 004's example integration) is Fluxo's timestamped one under another
# header: `Stripe-Signature: t=<unix>,v1=<hex>`, the HMAC-SHA256 of `<t>.<body>`; one outside
# the tolerance window is refused, so a captured call cannot be replayed later.
STRIPE_HEADER = "Stripe-Signature"
SIGNATURE_HEADERS = (SIGNATURE_HEADER.lower(), STRIPE_HEADER.lower())
# The body keys a provider names its event type with (Stripe, most others: `type`).
EVENT_TYPE_KEYS = ("type", "event_type", "event")
# As POST /triggers/process_event's event_type.
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


def verify(secret: str, body: bytes, headers: Mapping[str, str], now: float, tolerance: float) -> None:
    """Refused (401) unless signed with the timestamped scheme inbound hooks use, under
    `X-Fluxo-Signature` or Stripe's `Stripe-Signature`. Header names are matched lower case.
    No legacy `sha256=` form: this endpoint is newer than timestamped signatures."""
    problems: dict[str, str] = {}
    for name in SIGNATURE_HEADERS:
        header = headers.get(name)
        if not header:
            continue
        problem = signature_problem(secret, body, header, now=now, tolerance=tolerance, signature_format="timestamped")
        if problem is None:
            return
        problems[name] = problem
    raise Unauthenticated(
        "missing or wrong signature: sign t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> with the"
        " integration's webhook_secret (X-Fluxo-Signature, or Stripe-Signature)",
        fields=problems or {SIGNATURE_HEADER: "missing"},
    )


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
