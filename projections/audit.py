"""The `audit_logs` read model, from `fluxo.api_call.audited.v1` on the audit topic.

Each record is one row keyed by its id: inserting twice changes nothing, so the
handler is order-independent and a replay ends with the same rows.
"""

from __future__ import annotations

from asyncpg import Connection

from schemas.envelope import Envelope
from schemas.records import ApiCallAudited


async def api_call_audited(conn: Connection, env: Envelope, d: ApiCallAudited, _: int) -> None:
    a = d.actor
    await conn.execute(
        "INSERT INTO audit_logs (id, workspace_id, occurred_at, actor_type, actor_user_id, actor_email,"
        " actor_api_key_id, action, method, route, resource_type, resource_id, status_code, outcome,"
        " client_ip, user_agent, request_id, duration_ms, changed_fields)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        " ON CONFLICT (id) DO NOTHING",
        d.id, d.workspace_id, d.occurred_at, a.type, a.user_id, a.email, a.api_key_id, d.action, d.method,
        d.route, d.resource_type, d.resource_id, d.status_code, d.outcome, d.client_ip, d.user_agent,
        d.request_id, d.duration_ms, list(d.changed_fields),
    )
