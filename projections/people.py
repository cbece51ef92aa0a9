"""Read models of people and their credentials: users (with memberships, profile and
preferences), API keys and invitations.

Each record is the full snapshot of its item, keyed so that every snapshot of one item
lands in one partition: applying them in log order leaves the latest.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import orjson
from asyncpg import Connection

from schemas.envelope import Envelope

log = logging.getLogger("fluxo.projection.people")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def user_defined(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    # The API refuses a taken email or username before writing; should two writers still
    # race, the later record loses here instead of stopping the projection for everyone.
    try:
        async with conn.transaction():
            await _upsert_user(conn, env, d)
    except asyncpg.UniqueViolationError as exc:
        log.warning("user %s not applied: %s", d.id, exc.detail or exc)


async def _upsert_user(conn: Connection, env: Envelope, d: Any) -> None:
    await conn.execute(
        "INSERT INTO users (id, email, username, password_hash, is_active, created_at, home_workspace_id,"
        " first_name, last_name, profile, preferences)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, username = EXCLUDED.username,"
        " password_hash = EXCLUDED.password_hash, is_active = EXCLUDED.is_active,"
        " home_workspace_id = COALESCE(users.home_workspace_id, EXCLUDED.home_workspace_id),"
        " first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"
        " profile = EXCLUDED.profile, preferences = EXCLUDED.preferences",
        d.id, d.email.lower(), d.username, d.password_hash, d.is_active, d.created_at, env.workspaceid,
        d.profile.first_name, d.profile.last_name, _json(d.profile.model_dump(mode="json")),
        _json(d.preferences.model_dump(mode="json")),
    )
    await conn.execute("DELETE FROM memberships WHERE user_id = $1", d.id)
    await conn.executemany(
        "INSERT INTO memberships (user_id, workspace_id, role) VALUES ($1, $2, $3)",
        [(d.id, m.workspace_id, m.role) for m in d.memberships],
    )


async def api_key_defined(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, workspace_id, name, prefix, digest, role, created_by, created_at,"
        " expires_at, revoked_at, revoked_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, expires_at = EXCLUDED.expires_at,"
        " revoked_at = EXCLUDED.revoked_at, revoked_by = EXCLUDED.revoked_by"
        # A key never moves to another workspace, and a revoked key stays revoked.
        " WHERE api_keys.workspace_id = EXCLUDED.workspace_id AND api_keys.revoked_at IS NULL",
        d.id, d.workspace_id, d.name, d.prefix, d.digest, d.role, d.created_by, d.created_at,
        d.expires_at, d.revoked_at, d.revoked_by,
    )


async def invitation_defined(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "INSERT INTO invitations (id, workspace_id, email, role, token_digest, invited_by, created_at,"
        " expires_at, accepted_at, accepted_by, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (id) DO UPDATE SET accepted_at = EXCLUDED.accepted_at,"
        " accepted_by = EXCLUDED.accepted_by, revoked_at = EXCLUDED.revoked_at"
        " WHERE invitations.workspace_id = EXCLUDED.workspace_id",
        d.id, d.workspace_id, d.email.lower(), d.role, d.token_digest, d.invited_by, d.created_at,
        d.expires_at, d.accepted_at, d.accepted_by, d.revoked_at,
    )
