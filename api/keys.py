"""API keys and invitation tokens: how they look, how they are stored. Pure.

A key is `fx_<8-char lookup prefix>_<secret>`. Only its HMAC-SHA256 under the server's
key (FLUXO_API_KEY_SECRET) is kept, with the prefix that finds the row to compare it
with: a leaked table or topic gives no usable key, and a guess costs no database scan.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

KEY_PREFIX = "fx_"
INVITATION_PREFIX = "fxi_"
_ALPHABET = string.ascii_lowercase + string.digits
_KEY = re.compile(r"^fx_([a-z0-9]{8})_([A-Za-z0-9_-]{32,64})$")

ROLE_RANK = {"viewer": 0, "editor": 1, "admin": 2, "owner": 3}


def digest(server_key: str, token: str) -> str:
    return hmac.new(server_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def new_key() -> tuple[str, str]:
    """(lookup prefix, full key)."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return prefix, f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


def lookup_prefix(token: str) -> str | None:
    """The prefix of a well-formed key, else None (then it is not a key at all)."""
    match = _KEY.match(token)
    return match.group(1) if match else None


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def matches(server_key: str, token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(server_key, token), stored_digest)


def new_invitation_token() -> str:
    return f"{INVITATION_PREFIX}{secrets.token_urlsafe(32)}"


def at_most(role: str, ceiling: str) -> str:
    """The lower of two roles: a key never acts above its creator's current role."""
    return role if ROLE_RANK[role] <= ROLE_RANK[ceiling] else ceiling
