"""Secrets at rest: AES-256-GCM with a key id, the credential id as associated data.

A sealed value reads `v1.<key id>.<base64url(nonce | ciphertext+tag)>`. The key
id lets keys rotate: new seals use the current key, old ones still open with
the key they name. Binding the credential id as associated data means a
sealed blob copied onto another credential does not open.
"""

from __future__ import annotations

import base64
import os
import secrets as pysecrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import InfrastructureError

PREFIX = "v1"


class SecretError(InfrastructureError):
    """A sealed value that cannot be opened. Never carries the value itself."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SecretBox:
    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise SecretError(f"no key with id {current!r}")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise SecretError(f"key {key_id!r} must be 32 bytes (AES-256)")
            if "." in key_id:
                raise SecretError("key ids may not contain '.'")
        self._keys = dict(keys)
        self.current = current

    def seal(self, value: Mapping[str, Any], associated: str) -> str:
        nonce = os.urandom(12)
        ciphertext = AESGCM(self._keys[self.current]).encrypt(nonce, orjson.dumps(dict(value)), associated.encode())
        return f"{PREFIX}.{self.current}.{_b64(nonce + ciphertext)}"

    def open(self, sealed: str, associated: str) -> dict[str, Any]:
        try:
            prefix, key_id, body = sealed.split(".", 2)
        except ValueError:
            raise SecretError("not a sealed value") from None
        if prefix != PREFIX or key_id not in self._keys:
            raise SecretError(f"sealed with an unknown key {key_id!r}")
        raw = _unb64(body)
        try:
            plain = AESGCM(self._keys[key_id]).decrypt(raw[:12], raw[12:], associated.encode())
        except InvalidTag:
            raise SecretError("sealed value does not open (wrong key or credential)") from None
        value = orjson.loads(plain)
        if not isinstance(value, dict):
            raise SecretError("sealed value is not an object")
        return value

    def rotate_needed(self, sealed: str) -> bool:
        return not sealed.startswith(f"{PREFIX}.{self.current}.")


def parse_keys(text: str) -> dict[str, bytes]:
    """`kid1:base64key,kid2:base64key` -> {kid: key}."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key_id, _, encoded = part.partition(":")
        if not key_id or not encoded:
            raise SecretError("FLUXO_SECRET_KEYS entries look like kid:base64key")
        keys[key_id] = _unb64(encoded)
    return keys


def local_keys(path: Path) -> str:
    """Local mode: one generated key kept in the state folder (never a default)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"local1:{_b64(pysecrets.token_bytes(32))}")
        path.chmod(0o600)
    return path.read_text().strip()
