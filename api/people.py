"""Users as records: read a user's current snapshot back from the projection, change it, write it.

A user is one `fluxo.user.defined.v1` snapshot keyed `{home workspace}:user:{id}`
(memberships, profile and preferences included), so every change of one user stays
in one partition, in order, and compaction keeps the latest. A change is
read-modify-write: a PostgreSQL advisory lock per user makes concurrent changes
(two invitations, a profile edit) wait for each other, across API processes too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
import orjson

from api.state import AppState
from schemas.envelope import RecordData, make_envelope
from schemas.errors import NotFound, Unavailable
from schemas.outputs import Output
from schemas.records import Membership, Role, UserDefined, UserPreferences, UserProfile
from schemas.topics import DEFINITIONS

# Creating a user checks that its email and username are free, then writes: one at a time.
NEW_USERS_LOCK = "fluxo:new-users"


def user_key(home_workspace_id: str, user_id: str) -> str:
    return f"{home_workspace_id}:user:{user_id}"


async def load_user(conn: asyncpg.Connection | asyncpg.Pool, user_id: str) -> tuple[UserDefined, str] | None:
    """(the user's current snapshot, the workspace its records are keyed under)."""
    row = await conn.fetchrow(
        "SELECT id, email, username, password_hash, is_active, created_at, home_workspace_id, profile,"
        " preferences FROM users WHERE id = $1",
        user_id,
    )
    if row is None:
        return None
    members = await conn.fetch(
        "SELECT workspace_id, role FROM memberships WHERE user_id = $1 ORDER BY workspace_id", user_id
    )
    user = UserDefined(
        id=row["id"], email=row["email"], username=row["username"], password_hash=row["password_hash"],
        memberships=tuple(Membership(workspace_id=m["workspace_id"], role=m["role"]) for m in members),
        is_active=row["is_active"], created_at=row["created_at"],
        profile=UserProfile.model_validate(orjson.loads(row["profile"] or "{}")),
        preferences=UserPreferences.model_validate(orjson.loads(row["preferences"] or "{}")),
    )
    home = row["home_workspace_id"] or (members[0]["workspace_id"] if members else user_id)
    return user, home


async def publish_definition(state: AppState, key: str, record: RecordData, workspace_id: str, subject: str) -> None:
    """Write a definitions record and answer once the projection shows it (read-your-writes)."""
    envelope = make_envelope(record, source="api/people", workspace_id=workspace_id, subject=subject)
    topic, partition, offset = await state.publish(Output.of(DEFINITIONS, key, envelope))
    if not await state.wait_projected(topic, partition, offset):
        raise Unavailable("the change was recorded but is not visible yet: read it again shortly")


@asynccontextmanager
async def locked(state: AppState, name: str) -> AsyncIterator[asyncpg.Connection]:
    # Transaction-scoped, so the lock ends with the transaction however the caller leaves
    # (a cancelled request included): the pool does not reset sessions (api/state.py).
    async with state.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)
        yield conn


async def change_user(state: AppState, user_id: str, change: Callable[[UserDefined], UserDefined]) -> UserDefined:
    async with locked(state, f"fluxo:user:{user_id}") as conn:
        found = await load_user(conn, user_id)
        if found is None:
            raise NotFound(f"user {user_id} not found")
        current, home = found
        updated = change(current)
        if updated != current:
            await publish_definition(state, user_key(home, user_id), updated, home, user_id)
        return updated


def with_membership(user: UserDefined, workspace_id: str, role: Role | None) -> UserDefined:
    """The user with their role in a workspace set (None: removed from it)."""
    others = tuple(m for m in user.memberships if m.workspace_id != workspace_id)
    if role is None:
        return user.model_copy(update={"memberships": others})
    return user.model_copy(update={"memberships": (*others, Membership(workspace_id=workspace_id, role=role))})


AVATAR_COLORS = ("#2563EB", "#7C3AED", "#DB2777", "#DC2626", "#EA580C", "#CA8A04", "#16A34A", "#0D9488", "#0891B2", "#4F46E5")


def avatar_color(user_id: str, chosen: str | None) -> str:
    """The chosen colour, else a stable one of the palette: the same person always looks the same."""
    if chosen:
        return chosen
    return AVATAR_COLORS[sum(user_id.encode()) % len(AVATAR_COLORS)]


def initials(first_name: str, last_name: str, username: str) -> str:
    letters = (first_name[:1] + last_name[:1]) or username[:2]
    return letters.upper()
