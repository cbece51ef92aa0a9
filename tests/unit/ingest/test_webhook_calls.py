"""Inbound webhooks, the pure part: signatures (timestamped, legacy), token digests, header
filtering, path redaction, input parsing, log bounds."""

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
    redacted_path,
    sign,
    sign_legacy,
    signature_problem,
    token_digest,
    token_prefix,
)

SECRET = "a-long-enough-shared-secret"


def test_a_token_is_url_safe_long_and_fresh() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 24
        assert all(c.isalnum() or c in "-_" for c in token)


NOW = 1_780_000_000.0
WINDOW = 300.0


def problem(header: str | None, body: bytes = b"{}", *, now: float = NOW, legacy: bool = False,
            secret: str = SECRET) -> str | None:
    return signature_problem(secret, body, header, now=now, tolerance=WINDOW,
                             signature_format="legacy" if legacy else "timestamped")


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"amount": 42}'
    expected = hmac.new(SECRET.encode(), b"1780000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body, 1_780_000_000) == f"t=1780000000,v1={expected}"
    legacy = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign_legacy(SECRET, body) == f"sha256={legacy}"


@given(st.binary(max_size=500), st.integers(min_value=-300, max_value=300))
def test_a_signature_verifies_its_own_body_within_the_window_only(body: bytes, skew: int) -> None:
    header = sign(SECRET, body, int(NOW) + skew)
    for legacy in (False, True):
        assert problem(header, body, legacy=legacy) is None
        assert problem(header, body + b" ", legacy=legacy) == "does not match"
        assert problem(header, body, secret="another-secret-entirely", legacy=legacy) == "does not match"


def test_good_tampered_stale_and_future() -> None:
    body = b'{"order": "A-1"}'
    assert problem(sign(SECRET, body, int(NOW)), body) is None
    assert problem(sign(SECRET, body, int(NOW) - 300), body) is None  # the window's edges are in
    assert problem(sign(SECRET, body, int(NOW) + 300), body) is None
    stale = problem(sign(SECRET, body, int(NOW) - 301), body)
    assert stale is not None and stale.startswith("stale: signed 301s ago, outside the 300s window")
    future = problem(sign(SECRET, body, int(NOW) + 3600), body)
    assert future is not None and future.startswith("from the future: signed 3600s ahead")
    # The timestamp is signed: moving it to now breaks the signature.
    old = sign(SECRET, body, int(NOW) - 3600)
    moved = old.replace(f"t={int(NOW) - 3600}", f"t={int(NOW)}")
    assert problem(moved, body) == "does not match"
    assert problem(sign(SECRET, b'{"order": "A-2"}', int(NOW)), body) == "does not match"
    # A forged signature with an old timestamp says it does not match (not that it is stale).
    assert problem(f"t={int(NOW) - 3600},v1={'0' * 64}", body) == "does not match"


def test_timestamped_header_forms() -> None:
    body = b"{}"
    good = sign(SECRET, body, int(NOW))
    t, v1 = good.split(",")
    assert problem(f"  {good} ", body) is None
    assert problem(f"{v1}, {t}", body) is None  # order does not matter
    assert problem(f"{t},v1={'0' * 64},{v1}", body) is None  # several v1 (a secret being rotated)
    assert problem(f"{t},v0=abc,{v1},x=y", body) is None  # unknown keys are ignored
    assert problem(f"{t},v1={v1.removeprefix('v1=').upper()}", body) is None
    for bad in (v1, t, f"t=abc,{v1}", f"t=-5,{v1}", f"t=1.5,{v1}", f"t=,{v1}", f"t={'9' * 13},{v1}",
                "t=1,v2=abc", f"sha1={'0' * 64}", "nonsense=1", ","):
        assert problem(bad, body) == "malformed: expected t=<unix seconds>,v1=<hex>", bad
    for missing in (None, "", "   "):
        reason = problem(missing, body)
        assert reason is not None and reason.startswith("missing:")


def test_the_legacy_form_only_where_the_webhook_allows_it() -> None:
    body = b"{}"
    legacy = sign_legacy(SECRET, body)
    digest = legacy.removeprefix("sha256=")
    for form in (legacy, digest, f"SHA256={digest.upper()}", f"  sha256={digest} "):
        assert problem(form, body, legacy=True) is None, form
        refused = problem(form, body)
        assert refused is not None and "signature_format is timestamped" in refused, form
    for bad in ("sha256=", "sha256=zz", digest[:-1], sign_legacy("another-secret-entirely", body)):
        assert problem(bad, body, legacy=True) == "does not match", bad
    assert problem(sign_legacy(SECRET, b"[]"), body, legacy=True) == "does not match"
    # A legacy signature has no timestamp to check: it is its weakness, and why it is opt-in.
    assert problem(legacy, body, legacy=True, now=NOW + 10**6) is None


def test_a_token_is_kept_as_its_digest_and_prefix() -> None:
    token = new_token()
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert len(token_digest(token)) == 64 and token not in token_digest(token)
    assert token_digest(token) != token_digest(new_token())
    assert token_prefix(token) == token[:8] and len(token_prefix(token)) == 8


def test_a_logged_path_keeps_the_tokens_prefix_only() -> None:
    token = new_token()
    for path in (f"/api/v1/hooks/{token}", f"/api/v1/webhooks/execute/{token}", f"/hooks/{token}"):
        redacted = redacted_path(path)
        assert token not in redacted and redacted == path.replace(token, token[:8] + "...")
        assert redacted_path(redacted) == redacted  # idempotent: a redacted path stays
    assert redacted_path("/api/v1/hooks/abc") == "/api/v1/hooks/abc..."
    assert redacted_path("/api/v1/webhooks/wh-1/test") == "/api/v1/webhooks/wh-1/test"
    assert redacted_path("/api/v1/workflows/wf/trigger") == "/api/v1/workflows/wf/trigger"


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
