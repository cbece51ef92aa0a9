"""Who is calling: a person's JWT access token, or a machine's API key.

`Authorization: Bearer <JWT or fx_ key>` or `X-API-Key: fx_...`. The token proves who
and which workspace; the role is read from the current membership, so a removed member
or a lowered role takes effect within FLUXO_DIRECTORY_BOUND_SECONDS, not when the token
expires. An API key acts as its creator, in its workspace, with its own role capped by
the creator's current one. The outcome is kept on the request: the rate limiter and the
handler ask once.

Memberships and keys are read from the API's in-memory directory (api/directory_feed.py),
not PostgreSQL. A refusal is confirmed first: the directory catches up with everything
Kafka acknowledged before the call arrived (a key or an account created a moment ago by
another API process), then answers again. While the directory is older than the bound it
is not trusted and PostgreSQL answers, as before it existed.
"""

from __future__ import annotations

import time

from fastapi import Request

from api import keys
from api.security import Principal, verify, verify_cached
from api.state import AppState
from infra.db_errors import DATABASE_DOWN
from ingest.directory import key_holder, member_role
from schemas.envelope import now
from schemas.errors import Unauthenticated

# While PostgreSQL is down, ingest (which only needs Kafka) must go on: a caller the
# database vouched for within this window is taken at its last answer. A person never
# seen keeps the role signed into the short-lived token; an unknown API key gets 503.
OUTAGE_GRACE_SECONDS = 600.0
_vouched: dict[tuple[str, str], tuple[float, Principal]] = {}


def _remember(key: tuple[str, str], principal: Principal) -> Principal:
    _vouched[key] = (time.monotonic(), principal)
    return principal


def _recalled(key: tuple[str, str]) -> Principal | None:
    seen = _vouched.get(key)
    if seen is None or time.monotonic() - seen[0] > OUTAGE_GRACE_SECONDS:
        return None
    return seen[1]


def credentials_of(request: Request) -> str | None:
    """The bearer token, else the X-API-Key header (another Authorization scheme is no credential)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


async def authenticate(request: Request) -> Principal:
    done: Principal | Unauthenticated | None = getattr(request.state, "authentication", None)
    if done is None:
        try:
            done = await _authenticate(request)
        except Unauthenticated as exc:
            done = exc
        request.state.authentication = done
    if isinstance(done, Unauthenticated):
        raise done
    # Middleware (audit, rate limits) reads who the caller was after the handler ran.
    request.state.principal = done
    return done


async def _authenticate(request: Request) -> Principal:
    token = credentials_of(request)
    if token is None:
        raise Unauthenticated("authentication credentials were not provided")
    state: AppState = request.app.state.fluxo
    feed = state.directory
    arrived = time.monotonic()
    if await feed.usable():
        try:
            return _from_memory(state, token)
        except Unauthenticated:
            if await feed.sync(arrived):
                return _from_memory(state, token)
    return await _from_database(state, token)


def _from_memory(state: AppState, token: str) -> Principal:
    directory = state.directory.directory
    if keys.looks_like_key(token):
        moment = now()
        holder = key_holder(
            directory, keys.lookup_prefix(token), keys.digest(state.settings.resolved_api_key_secret(), token), moment
        )
        key = holder.key
        state.key_usage.note(key.id, moment)
        return Principal(
            user_id=key.created_by, workspace_id=key.workspace_id, role=keys.at_most(key.role, holder.creator_role),
            email=holder.creator_email, via="api_key", api_key_id=key.id,
        )
    claims = verify_cached(state.settings.resolved_jwt_secret(), token, "access")
    role, email = member_role(directory, claims.user_id, claims.workspace_id)
    return Principal(claims.user_id, claims.workspace_id, role, email)


async def _from_database(state: AppState, token: str) -> Principal:
    if keys.looks_like_key(token):
        return await _from_key(state, token)
    claims = verify(state.settings.resolved_jwt_secret(), token, "access")
    vouched = ("jwt", f"{claims.user_id}:{claims.workspace_id}")
    try:
        row = await state.pool.fetchrow(
            "SELECT m.role, u.email FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.user_id = $1 AND m.workspace_id = $2 AND u.is_active",
            claims.user_id, claims.workspace_id,
        )
    except DATABASE_DOWN:
        return _recalled(vouched) or claims
    if row is None:
        _vouched.pop(vouched, None)
        raise Unauthenticated("this account is no longer a member of that workspace")
    return _remember(vouched, Principal(claims.user_id, claims.workspace_id, row["role"], row["email"]))


async def _from_key(state: AppState, token: str) -> Principal:
    prefix = keys.lookup_prefix(token)
    row = None
    vouched = ("key", keys.digest(state.settings.resolved_api_key_secret(), token))
    if prefix is not None:
        try:
            row = await state.pool.fetchrow(
            "SELECT k.id, k.workspace_id, k.digest, k.role, k.created_by, k.expires_at, k.revoked_at,"
            " m.role AS creator_role, u.email FROM api_keys k"
            " LEFT JOIN memberships m ON m.user_id = k.created_by AND m.workspace_id = k.workspace_id"
            " LEFT JOIN users u ON u.id = k.created_by AND u.is_active WHERE k.prefix = $1",
            prefix,
        )
        except DATABASE_DOWN:
            known = _recalled(vouched)
            if known is None:
                raise
            return known
    if row is None or not keys.matches(state.settings.resolved_api_key_secret(), token, row["digest"]):
        raise Unauthenticated("invalid API key")
    moment = now()
    if row["revoked_at"] is not None:
        raise Unauthenticated("this API key was revoked")
    if row["expires_at"] is not None and row["expires_at"] <= moment:
        raise Unauthenticated("this API key has expired")
    if row["creator_role"] is None or row["email"] is None:
        raise Unauthenticated("the person who created this API key is no longer a member of its workspace")
    state.key_usage.note(row["id"], moment)
    return _remember(vouched, Principal(
        user_id=row["created_by"], workspace_id=row["workspace_id"], role=keys.at_most(row["role"], row["creator_role"]),
        email=row["email"], via="api_key", api_key_id=row["id"],
    ))
