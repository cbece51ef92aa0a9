"""The pure parts of the security core: key format, lockout policy, rate budgets, headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from api import keys
from api.headers import SecurityHeaders
from api.lockout import Failures, Policy, after_failure, locked_for
from api.ratelimit import RateLimits, route_template
from infra.settings import Settings

T0 = datetime(2025, 1, 1, tzinfo=UTC)
POLICY = Policy(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=5))


# -- keys --------------------------------------------------------------------------
def test_a_new_key_has_its_lookup_prefix_and_only_its_digest_matches() -> None:
    prefix, key = keys.new_key()
    assert key.startswith(f"fx_{prefix}_") and keys.lookup_prefix(key) == prefix
    stored = keys.digest("server-key", key)
    assert len(stored) == 64 and key not in stored
    assert keys.matches("server-key", key, stored)
    assert not keys.matches("another-server-key", key, stored)
    assert not keys.matches("server-key", key + "x", stored)
    assert keys.new_key()[1] != key


@pytest.mark.parametrize("token", ["", "fx_", "fx_ABCDEFGH_" + "a" * 43, "fx_abcdefg_" + "a" * 43, "fx_abcdefgh_short",
                                   "fx_abcdefgh_" + "a" * 43 + "!", "xx_abcdefgh_" + "a" * 43])
def test_malformed_keys_have_no_prefix(token: str) -> None:
    assert keys.lookup_prefix(token) is None


def test_a_key_never_acts_above_its_creator() -> None:
    assert keys.at_most("owner", "admin") == "admin"
    assert keys.at_most("viewer", "owner") == "viewer"
    assert keys.at_most("editor", "editor") == "editor"


# -- lockout -----------------------------------------------------------------------
def test_locked_after_the_last_allowed_failure_for_the_lockout_time() -> None:
    state = None
    for n in range(1, 3):
        state = after_failure(state, T0 + timedelta(seconds=n), POLICY)
        assert state.failures == n and locked_for(state, T0 + timedelta(seconds=n)) == 0
    state = after_failure(state, T0 + timedelta(seconds=3), POLICY)
    assert state.locked_until == T0 + timedelta(seconds=3) + POLICY.lockout
    assert locked_for(state, T0 + timedelta(seconds=4)) == pytest.approx(299)
    assert locked_for(state, state.locked_until) == 0


def test_a_window_that_ran_out_starts_the_count_again() -> None:
    state = after_failure(after_failure(None, T0, POLICY), T0 + timedelta(minutes=1), POLICY)
    assert state.failures == 2
    later = after_failure(state, T0 + timedelta(minutes=16), POLICY)
    assert later.failures == 1 and later.window_started_at == T0 + timedelta(minutes=16) and later.locked_until is None


def test_a_failure_after_the_lockout_ended_does_not_lock_at_once() -> None:
    long_window = Policy(max_failures=2, window=timedelta(hours=1), lockout=timedelta(minutes=1))
    locked = Failures(failures=2, window_started_at=T0, locked_until=T0 + timedelta(minutes=1))
    after = after_failure(locked, T0 + timedelta(minutes=2), long_window)
    assert after.failures == 1 and after.locked_until is None


@given(st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=30))
def test_never_locked_before_max_failures_in_a_window(gaps: list[int]) -> None:
    state, moment = None, T0
    for gap in gaps:
        moment += timedelta(seconds=gap)
        state = after_failure(state, moment, POLICY)
        assert 1 <= state.failures <= len(gaps)
        assert (state.locked_until is not None) == (state.failures >= POLICY.max_failures)
        assert state.window_started_at <= moment < state.window_started_at + POLICY.window


# -- rate budgets ------------------------------------------------------------------
def test_each_route_spends_from_its_budget() -> None:
    limits = RateLimits(Settings(
        rate_limit_default="100/minute", rate_limit_ingest="1000/minute",
        rate_limit_routes={"POST /api/v1/workflows": "10/minute", "/api/v1/users/profile": "5/second"},
    ))
    assert limits.budget("GET", "/api/v1/workflows")[0] == "default"
    assert limits.budget("POST", "/api/v1/workflows")[1].amount == 10
    assert limits.budget("PUT", "/api/v1/users/profile")[1].amount == 5
    for path in ("/api/v1/triggers/process_event", "/api/v1/hooks/{token}", "/api/v1/webhooks/execute/{token}"):
        name, item = limits.budget("POST", path)
        assert name == "ingest" and item.amount == 1000


async def test_spending_counts_down_per_caller_and_budget() -> None:
    limits = RateLimits(Settings(rate_limit_default="2/minute", rate_limit_ingest="1/minute"))
    first = await limits.spend("user:a", "GET", "/api/v1/workflows")
    assert (first.allowed, first.limit, first.remaining) == (True, 2, 1) and 0 < first.reset_seconds <= 60
    assert (await limits.spend("user:a", "GET", "/api/v1/executions")).remaining == 0
    assert not (await limits.spend("user:a", "GET", "/api/v1/workflows")).allowed
    assert (await limits.spend("user:b", "GET", "/api/v1/workflows")).allowed
    assert (await limits.spend("user:a", "POST", "/api/v1/triggers/process_event")).allowed


def test_the_settings_refuse_a_rate_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="not a rate limit"):
        Settings(rate_limit_default="lots")
    with pytest.raises(ValueError, match="not a rate limit"):
        Settings(rate_limit_routes={"/api/v1/x": "often"})


@pytest.mark.parametrize(("path", "relative", "params", "template"), [
    ("/api/v1/triggers/process_event", "/triggers/process_event", {}, "/api/v1/triggers/process_event"),
    ("/api/v1/hooks/abc", "/hooks/{token}", {"token": "abc"}, "/api/v1/hooks/{token}"),
    ("/api/v1/workflows/w1/nodes/n1", "/workflows/{id}/nodes/{node_id}", {"id": "w1", "node_id": "n1"},
     "/api/v1/workflows/{id}/nodes/{node_id}"),
    ("/api/v1/x/1", "/y/{n}", {"n": 1}, "/api/v1/x/1"),  # not what it seems: the path as it is
])
def test_the_route_template_is_the_full_one(path: str, relative: str, params: dict[str, object], template: str) -> None:
    class Route:
        path_format = relative

    assert route_template({"path": path, "route": Route(), "path_params": params}) == template


# -- production settings -------------------------------------------------------------
def test_production_refuses_a_missing_api_key_secret() -> None:
    base: dict[str, object] = {
        "mode": "production", "jwt_secret": "j" * 40, "secret_keys": "k1:" + "A" * 44,
        "admin_password": "not-the-default", "kafka_bootstrap_servers": "kafka:9092",
        "database_url": "postgresql://db/fluxo",
    }
    with pytest.raises(ValueError, match="FLUXO_API_KEY_SECRET"):
        Settings(**base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="FLUXO_API_KEY_SECRET"):
        Settings(**base, api_key_secret="short")  # type: ignore[arg-type]
    assert Settings(**base, api_key_secret="s" * 40).resolved_api_key_secret() == "s" * 40  # type: ignore[arg-type]


@pytest.mark.parametrize("hsts", [True, False])
async def test_security_headers_and_hsts_outside_local_mode(hsts: bool) -> None:
    app = FastAPI()

    @app.get("/api/v1/thing")
    async def thing() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(SecurityHeaders, hsts=hsts)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/api/v1/thing")
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert ("strict-transport-security" in r.headers) is hsts
        docs = await client.get("/docs")
        assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        assert "cache-control" not in docs.headers


def _token(secret: str, ttl: int, kind: str = "access") -> str:
    from api.security import Principal, issue

    return issue(secret, Principal("u1", "ws", "owner", "a@b.c"), kind, ttl)


def test_a_cached_verification_answers_as_the_full_one() -> None:
    from api.security import verify, verify_cached

    token = _token("s" * 32, 60)
    assert verify_cached("s" * 32, token, "access") == verify("s" * 32, token, "access")
    assert verify_cached("s" * 32, token, "access").user_id == "u1"  # from the cache now


@pytest.mark.parametrize("case", ["other secret", "refresh as access", "tampered", "garbage"])
def test_a_token_refused_by_verify_is_refused_by_the_cache_too(case: str) -> None:
    from api.security import verify_cached
    from schemas.errors import Unauthenticated

    secret = "s" * 32
    token = _token(secret, 60, "refresh" if case == "refresh as access" else "access")
    verify_cached(secret, token, "refresh" if case == "refresh as access" else "access")  # cached under its own kind
    presented = {"tampered": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "garbage": "x.y.z"}.get(case, token)
    with pytest.raises(Unauthenticated):
        verify_cached("t" * 32 if case == "other secret" else secret, presented, "access")


def test_a_cached_token_expires_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as clock

    from api import security
    from schemas.errors import Unauthenticated

    token = _token("s" * 32, 5)
    security.verify_cached("s" * 32, token, "access")
    real = clock.time
    monkeypatch.setattr(security.time, "time", lambda: real() + 6)
    with pytest.raises(Unauthenticated, match="expired"):
        security.verify_cached("s" * 32, token, "access")
