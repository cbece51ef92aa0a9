"""Inbound webhooks, the pure part: signatures, header filtering, input parsing, log bounds."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.webhooks import (
    LOG_BODY_BYTES,
    MAX_HEADER_VALUE,
    MAX_LOG_HEADERS,
    BodyError,
    bounded,
    logged_headers,
    new_token,
    parse_input,
    sign,
    signature_valid,
)

SECRET = "a-long-enough-shared-secret"


def test_a_token_is_url_safe_long_and_fresh() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 24
        assert all(c.isalnum() or c in "-_" for c in token)


def test_sign_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"amount": 42}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == f"sha256={expected}"


@given(st.binary(max_size=500))
def test_a_signature_verifies_its_own_body_only(body: bytes) -> None:
    header = sign(SECRET, body)
    assert signature_valid(SECRET, body, header)
    assert not signature_valid(SECRET, body + b" ", header)
    assert not signature_valid("another-secret-entirely", body, header)


def test_signature_forms() -> None:
    body = b"{}"
    digest = sign(SECRET, body).removeprefix("sha256=")
    assert signature_valid(SECRET, body, digest)  # bare hex
    assert signature_valid(SECRET, body, f"SHA256={digest.upper()}")  # case does not matter
    assert signature_valid(SECRET, body, f"  sha256={digest} ")
    for bad in (None, "", "sha256=", "sha256=zz", f"sha1={digest}", digest[:-1]):
        assert not signature_valid(SECRET, body, bad)


def test_logged_headers_drop_credentials_cookies_and_signatures() -> None:
    headers = [
        ("Authorization", "Bearer abc"), ("Proxy-Authorization", "Basic x"), ("Cookie", "s=1"),
        ("X-Fluxo-Signature", "sha256=00"), ("X-Hub-Signature-256", "sha256=11"), ("X-API-Key", "k"),
        ("X-Fluxo-Token", "t"), ("X-Auth-Token", "t"), ("X-Client-Secret", "s"), ("X-Session-Id", "s"),
        ("Content-Type", "application/json"), ("User-Agent", "curl/8"), ("X-GitHub-Event", "push"),
    ]
    assert logged_headers(headers) == {
        "content-type": "application/json", "user-agent": "curl/8", "x-github-event": "push",
    }


def test_logged_headers_are_bounded() -> None:
    many = [(f"x-h{i}", "v" * (MAX_HEADER_VALUE + 10)) for i in range(MAX_LOG_HEADERS + 10)]
    kept = logged_headers(many)
    assert len(kept) == MAX_LOG_HEADERS
    assert all(len(v) == MAX_HEADER_VALUE for v in kept.values())
    assert logged_headers([("x-nul", "a\x00b")]) == {"x-nul": "a\ufffdb"}


def test_parse_input_json_object_form_and_query() -> None:
    assert parse_input(b'{"a": 1}', "application/json", {"q": "1"}, "POST") == {"a": 1}
    assert parse_input(b'{"a": 1}', None, {}, "PUT") == {"a": 1}
    assert parse_input(b"a=1&b=two", "application/x-www-form-urlencoded; charset=utf-8", {}, "POST") == {"a": "1", "b": "two"}
    # A GET, or an empty body, takes the query parameters as its input.
    assert parse_input(b"", "application/json", {"q": "1"}, "POST") == {"q": "1"}
    assert parse_input(b"ignored", None, {"page": "2"}, "GET") == {"page": "2"}


@pytest.mark.parametrize(("body", "why"), [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"text"', "must be a JSON object"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_parse_input_refuses_what_is_not_an_object(body: bytes, why: str) -> None:
    with pytest.raises(BodyError, match=why):
        parse_input(body, "application/json", {}, "POST")


def test_parse_input_refuses_what_postgresql_cannot_store() -> None:
    with pytest.raises(BodyError, match="name: contains a NUL character"):
        parse_input(b"name=a%00b", "application/x-www-form-urlencoded", {}, "POST")
    with pytest.raises(BodyError, match="q: contains a NUL character"):
        parse_input(b"", None, {"q": "\x00"}, "GET")
    with pytest.raises(BodyError, match="nested deeper than 32 levels"):
        parse_input(b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "application/json", {}, "POST")


def test_parse_input_refuses_bad_form_data() -> None:
    with pytest.raises(BodyError, match="form"):
        parse_input(b"a=1&&&=", "application/x-www-form-urlencoded", {}, "POST")


def test_bounded_keeps_json_as_json_and_text_as_text() -> None:
    assert bounded(b'{"a": [1, 2]}') == ({"a": [1, 2]}, False)
    assert bounded(b"plain text") == ("plain text", False)
    assert bounded(b"") == (None, False)
    assert bounded({"error": {"code": "X"}}) == ({"error": {"code": "X"}}, False)
    assert bounded(b'{"k": "a\\u0000b"}') == ({"k": "a\ufffdb"}, False)


@given(st.integers(min_value=LOG_BODY_BYTES + 1, max_value=3 * LOG_BODY_BYTES))
def test_bounded_cuts_large_bodies(size: int) -> None:
    raw = orjson.dumps({"blob": "x" * size})
    value, cut = bounded(raw)
    assert cut and isinstance(value, str) and len(value.encode()) <= LOG_BODY_BYTES
    value, cut = bounded({"blob": "y" * size})
    assert cut and isinstance(value, str) and len(value.encode()) <= LOG_BODY_BYTES
