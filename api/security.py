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


def verify(secret: str, token: str, kind: str) -> Principal:
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
    )
