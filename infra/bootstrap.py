"""Local mode: the first workspace and its owner, from FLUXO_ADMIN_EMAIL / FLUXO_ADMIN_PASSWORD."""

from __future__ import annotations

import asyncpg

from api.people import load_user, user_key
from api.security import hash_password, verify_password
from infra.kafka_io import make_producer, send_output
from infra.settings import Settings
from schemas.envelope import deterministic_id, make_envelope, now
from schemas.outputs import Output
from schemas.records import Membership, UserDefined, WorkspaceDefined
from schemas.topics import DEFINITIONS


async def bootstrap_admin(settings: Settings) -> tuple[str, str]:
    """Publish the owner and workspace records (the owner as the projection has it, if it does).

    Ids derive from the admin email, so running this again changes nothing
    but a changed password. The owner's record is written even when unchanged: the
    API authenticates from the definitions topic (api/directory_feed.py), which must hold
    the owner whatever PostgreSQL already knows. Returns (workspace id, user id).
    """
    email = settings.admin_email.lower()
    workspace_id = deterministic_id("workspace", email)
    user_id = deterministic_id("user", email)
    conn = await asyncpg.connect(settings.dsn)
    try:
        existing = await load_user(conn, user_id)
        created = await conn.fetchval("SELECT created_at FROM workspaces WHERE id = $1", workspace_id)
    finally:
        await conn.close()
    # The workspace record is always written again (compacted topic, same key):
    # settings such as the SSRF allow-list follow the configuration.
    unchanged_user = existing is not None and verify_password(existing[0].password_hash, settings.admin_password)
    stamp = now()
    owner = Membership(workspace_id=workspace_id, role="owner")
    if existing is not None:
        # A new password keeps what the owner did since: other workspaces, profile, preferences.
        user = existing[0]
        user = user.model_copy(update={
            "password_hash": user.password_hash if unchanged_user else hash_password(settings.admin_password),
            "memberships": (*(m for m in user.memberships if m.workspace_id != workspace_id), owner),
        })
    else:
        user = UserDefined(
            id=user_id,
            email=email,
            username=email.split("@")[0],
            password_hash=hash_password(settings.admin_password),
            memberships=(owner,),
            created_at=stamp,
        )
    records = [
        Output.of(
            DEFINITIONS,
            f"{workspace_id}:workspace:{workspace_id}",
            make_envelope(
                WorkspaceDefined(
                    id=workspace_id,
                    name=settings.admin_workspace,
                    created_at=created or stamp,
                    allowed_hosts=settings.bootstrap_allowed_hosts(),
                ),
                source="infra/bootstrap", workspace_id=workspace_id,
            ),
        ),
        Output.of(
            DEFINITIONS,
            user_key(existing[1] if existing else workspace_id, user_id),
            make_envelope(user, source="infra/bootstrap", workspace_id=existing[1] if existing else workspace_id),
        ),
    ]
    producer = make_producer(settings)
    await producer.start()
    try:
        for out in records:
            await send_output(producer, settings, out)
        await producer.flush()
    finally:
        await producer.stop()
    return workspace_id, user_id
