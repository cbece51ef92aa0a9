"""Plain-SQL numbered migrations (infra/migrations/NNNN_name.sql), applied at start."""

from __future__ import annotations

from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every Fluxo process.
_LOCK_KEY = 0x466C75786F


def available() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append((int(number), name, path))
    return found


async def migrate(dsn: str, schema: str | None = None) -> list[str]:
    """Apply pending migrations, each in its own transaction. Returns the ones applied.

    With `schema`, into that schema (a replay check's scratch copy).
    """
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema} if schema else None)
    applied: list[str] = []
    try:
        # Several processes may start at once; one migrates, the others wait.
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for number, name, path in available():
            if number in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", number, name
                )
            applied.append(path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        await conn.close()
    return applied
