"""Read models of inbound webhooks: the `webhooks` definitions and the `webhook_logs` of their calls.

Both handlers are order-independent (a definition upserts by version, a call
inserts by its id and a deletion keeps a tombstone row), so a replay, which may
interleave the definitions and trigger-log topics differently, ends with the
same rows.
"""

from __future__ import annotations

from typing import Any

import orjson
from asyncpg import Connection

from ingest.webhooks import redacted_path
from schemas.envelope import Envelope

# A call succeeded when it started an execution (immediate mode) or got its result (last_node mode).
SUCCESSFUL = frozenset({"accepted", "completed"})


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def webhook_defined(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    await conn.execute(
        "INSERT INTO webhooks (id, workspace_id, version, name, description, workflow_id, token_digest, methods,"
        " auth_mode, sealed, response_mode, response_timeout_seconds, is_active, deleted, created_by,"
        " created_at, updated_at, token_prefix, signature_format)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,"
        " description = EXCLUDED.description, workflow_id = EXCLUDED.workflow_id,"
        " token_digest = EXCLUDED.token_digest, token_prefix = EXCLUDED.token_prefix,"
        " signature_format = EXCLUDED.signature_format,"
        " methods = EXCLUDED.methods, auth_mode = EXCLUDED.auth_mode, sealed = EXCLUDED.sealed,"
        " response_mode = EXCLUDED.response_mode,"
        " response_timeout_seconds = EXCLUDED.response_timeout_seconds, is_active = EXCLUDED.is_active,"
        " deleted = EXCLUDED.deleted, updated_at = EXCLUDED.updated_at"
        " WHERE webhooks.version <= EXCLUDED.version AND webhooks.workspace_id = EXCLUDED.workspace_id",
        d.id, d.workspace_id, d.version, d.name, d.description, d.workflow_id, d.token_digest, list(d.methods),
        d.auth_mode, d.secret_sealed, d.response_mode, d.response_timeout_seconds, d.is_active, d.deleted,
        d.created_by, d.created_at, d.updated_at, d.token_prefix, d.signature_format,
    )


async def webhook_called(conn: Connection, env: Envelope, d: Any, _: int) -> None:
    if d.start is not None and d.start.logged_later:
        return  # a last_node call: its log line is the record of its final outcome, written next
    await conn.execute(
        "INSERT INTO webhook_logs (id, workspace_id, webhook_id, workflow_id, execution_id, test, method,"
        " path, query, headers, request_body, request_size, request_truncated, response_status,"
        " response_body, response_truncated, duration_ms, outcome, error, success, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, $14,"
        " $15::jsonb, $16, $17, $18, $19, $20, $21) ON CONFLICT (id) DO NOTHING",
        d.call_id, env.workspaceid, d.webhook_id, d.workflow_id, d.execution_id, d.test, d.method,
        # Redacted again: calls logged before tokens were kept as digests carry the token.
        redacted_path(d.path), _json(d.query), _json(d.headers), _json(d.request_body), d.request_size,
        d.request_truncated, d.response_status, _json(d.response_body), d.response_truncated,
        d.duration_ms, d.outcome, d.error, d.outcome in SUCCESSFUL, d.received_at,
    )
