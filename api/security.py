"""Passwords (argon2) and access/refresh tokens (JWT, HS256)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from schemas.errors import Unauthenticated

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    user_id: str
    workspace_id: str
    role: str
    email: str
    # How the caller authenticated: "jwt" for people, "api_key" for machines
    # (then api_key_id names the key). The audit log records both.
    via: str = "jwt"
    api_key_id: str | None = None


def issue(secret: str, principal: Principal, kind: str, ttl: int) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": principal.user_id,
        "ws": principal.workspace_id,
        "role": principal.role,
        "email": principal.email,
        "typ": kind,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


# Verified access tokens, so a client's token is checked (HMAC, claims parsing) once, not
# on each of its requests: ~13 % of the API's CPU on ingest (a cProfile of process_event).
# A token's verification depends only on the token, the secret and the clock: the entry
# keeps its expiry, checked on every use, and the secret it was verified with.
_VERIFIED_MAX = 10_000
_verified: dict[tuple[str, str, str], tuple[float, Principal]] = {}


def verify_cached(secret: str, token: str, kind: str) -> Principal:
    """`verify`, remembering tokens that passed until they expire."""
    key = (secret, token, kind)
    hit = _verified.get(key)
    if hit is not None:
        if time.time() < hit[0]:
            return hit[1]
        _verified.pop(key, None)
        raise Unauthenticated("token expired")
    principal, expires = _verify(secret, token, kind)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()  # crude but bounded: the next requests verify again
    _verified[key] = (expires, principal)
    return principal


def verify(secret: str, token: str, kind: str) -> Principal:
    return _verify(secret, token, kind)[0]


def _verify(secret: str, token: str, kind: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("invalid token") from None
    if claims.get("typ") != kind:
        raise Unauthenticated(f"not an {kind} token")
    return Principal(
        user_id=str(claims["sub"]),
        workspace_id=str(claims["ws"]),
        role=str(claims.get("role", "viewer")),
        email=str(claims.get("email", "")),
    ), float(claims["exp"])
