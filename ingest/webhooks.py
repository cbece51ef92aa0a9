"""Inbound webhooks, the pure part: tokens, signatures, what a call's input is, what its log keeps.

No I/O here: the API router (api/routers/webhooks.py) does the HTTP, Kafka and
PostgreSQL around these functions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

import orjson

from schemas.errors import InvalidInput
from schemas.json_limits import json_problems
from schemas.upcasting import WEBHOOK_TOKEN_PREFIX

SIGNATURE_HEADER = "X-Fluxo-Signature"
# The older form: HMAC of the body alone (no timestamp, so a captured call can be replayed).
SIGNATURE_PREFIX = "sha256="
SignatureFormat = Literal["timestamped", "legacy"]
# What a token's display prefix keeps (schemas.upcasting.WEBHOOK_TOKEN_PREFIX, for v1 records).
TOKEN_PREFIX_LENGTH = WEBHOOK_TOKEN_PREFIX
_HOOK_PATH = re.compile(r"^(.*/(?:hooks|webhooks/execute)/)([^/]{1," + str(TOKEN_PREFIX_LENGTH) + r"})[^/]*")
# What a log keeps of a request or response body; more is cut (and flagged).
LOG_BODY_BYTES = 16 * 1024
MAX_LOG_HEADERS = 50
MAX_HEADER_VALUE = 500

# Headers a log never keeps: credentials, cookies, signatures, and anything named like one.
_DROPPED_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-fluxo-token",
    SIGNATURE_HEADER.lower(), "idempotency-key-secret",
})
_DROPPED_PARTS = ("auth", "cookie", "signature", "secret", "token", "password", "api-key", "apikey", "session")


class BodyError(InvalidInput, ValueError):
    """The request body is not an input a workflow can take. `str(exc)` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, fields={"body": f"{message}; send a JSON object"})


def new_token() -> str:
    """A URL-safe token of 43 characters (32 random bytes)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is kept of a webhook token (records, read model, lookup): its SHA-256, hex.

    A plain hash is enough: a token is 32 random bytes, nothing to guess from its digest.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    """The token's first characters, shown to tell webhooks apart (like an API key's prefix)."""
    return token[:TOKEN_PREFIX_LENGTH]


def redacted_path(path: str) -> str:
    """A call's path for the log: the token in `/hooks/{token}` (or `/webhooks/execute/{token}`)
    cut to its display prefix and `...`. Idempotent, so an already redacted path stays as it is."""
    return _HOOK_PATH.sub(r"\1\2...", path, count=1)


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Fluxo-Signature` value a sender puts on `body` at `timestamp` (unix seconds):
    `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    return f"t={timestamp},v1={_mac(secret, str(timestamp).encode() + b'.' + body)}"


def sign_legacy(secret: str, body: bytes) -> str:
    """The older `sha256=<hex HMAC-SHA256 of the body>` value (taken only by `legacy` webhooks)."""
    return SIGNATURE_PREFIX + _mac(secret, body)


def signature_problem(
    secret: str, body: bytes, header: str | None, *, now: float, tolerance: float, signature_format: SignatureFormat
) -> str | None:
    """Why the signature header does not prove the body came from the secret's holder just
    now, or None when it does. Digests are compared in constant time.

    Timestamped form: `t=<unix seconds>,v1=<hex>` (several `v1=` may be given, e.g. while
    rotating a secret; unknown keys are ignored), refused outside `tolerance` seconds of
    `now` either way. The legacy `sha256=<hex>` form (or the bare hex) is taken only when
    `signature_format` is `legacy`.
    """
    if not header or not header.strip():
        return "missing: send t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">"
    given = header.strip()
    if given.lower().startswith(SIGNATURE_PREFIX) or ("=" not in given and "," not in given):
        if signature_format != "legacy":
            return ("the sha256=<hex> form is not taken by this webhook (signature_format is timestamped):"
                    " send t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")
        digest = given[len(SIGNATURE_PREFIX):] if given.lower().startswith(SIGNATURE_PREFIX) else given
        return None if hmac.compare_digest(digest.lower().encode(), _mac(secret, body).encode()) else "does not match"
    stamp: str | None = None
    candidates: list[str] = []
    for part in given.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            stamp = value.strip()
        elif key == "v1":
            candidates.append(value.strip().lower())
    if stamp is None or not stamp.isdigit() or len(stamp) > 12 or not candidates:
        return "malformed: expected t=<unix seconds>,v1=<hex>"
    expected = _mac(secret, stamp.encode() + b"." + body).encode()
    # Every candidate is compared (no early exit): the time taken says nothing about which matched.
    matched = [hmac.compare_digest(candidate.encode(), expected) for candidate in candidates]
    if not any(matched):
        return "does not match"
    age = now - int(stamp)
    if age > tolerance:
        return f"stale: signed {age:.0f}s ago, outside the {tolerance:g}s window (a replayed call?)"
    if -age > tolerance:
        return f"from the future: signed {-age:.0f}s ahead of this server's clock, outside the {tolerance:g}s window"
    return None


def logged_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The request headers a log may keep: no credentials, cookies or signatures; bounded."""
    kept: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in _DROPPED_HEADERS or any(part in lowered for part in _DROPPED_PARTS):
            continue
        if len(kept) >= MAX_LOG_HEADERS:
            break
        kept[lowered] = _clean(value[:MAX_HEADER_VALUE])
    return kept


def parse_input(body: bytes, content_type: str | None, query: Mapping[str, str], method: str) -> dict[str, Any]:
    """The execution's input: the JSON object (or form fields) of the body, or the query of a GET."""
    data = _read_input(body, content_type, query, method)
    # The input becomes the execution's context, stored in PostgreSQL: a value it cannot hold
    # (a NUL character, say) must be refused here, not wedge the projection later.
    problems = json_problems(data)
    if problems:
        field, problem = next(iter(problems.items()))
        raise BodyError(f"{field}: {problem}")
    return data


def _read_input(body: bytes, content_type: str | None, query: Mapping[str, str], method: str) -> dict[str, Any]:
    if method == "GET" or not body.strip():
        return dict(query)
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise BodyError("the body is not valid form data") from None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BodyError("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BodyError("the body must be a JSON object")
    return data


def bounded(value: Any, limit: int = LOG_BODY_BYTES) -> tuple[Any, bool]:
    """A JSON-storable copy of a body for the log, and whether it was cut.

    Bytes become the parsed JSON when they are JSON, else text. Anything over
    `limit` bytes once serialised is kept as a text preview of `limit` bytes.
    """
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        if not raw:
            return None, False
        if len(raw) > limit:
            return _clean(raw[:limit].decode(errors="replace")), True
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _clean(raw.decode(errors="replace")), False
    value = _clean(value)
    encoded = orjson.dumps(value, default=str)
    if len(encoded) > limit:
        return encoded[:limit].decode(errors="replace"), True
    return value, False


def _clean(value: Any) -> Any:
    # PostgreSQL's jsonb refuses the NUL character: a log row must never wedge the projection.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
