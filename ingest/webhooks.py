"""Inbound webhooks, the pure part: tokens, signatures, what a call's input is, what its log keeps.

No I/O here: the API router (api/routers/webhooks.py) does the HTTP, Kafka and
PostgreSQL around these functions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from schemas.errors import InvalidInput
from schemas.json_limits import json_problems

SIGNATURE_HEADER = "X-Fluxo-Signature"
SIGNATURE_PREFIX = "sha256="
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
    """What a webhook token is looked up by (sha256 hex): the one place that says how."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, body: bytes) -> str:
    """The `X-Fluxo-Signature` value a sender puts on `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """HMAC-SHA256 of the raw body, compared in constant time. A missing header is invalid."""
    if not header:
        return False
    given = header.strip()
    if given.lower().startswith(SIGNATURE_PREFIX):
        given = given[len(SIGNATURE_PREFIX):]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.lower().encode(), expected.encode())


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
