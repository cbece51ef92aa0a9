"""GET/POST /api-keys, DELETE /api-keys/{id}: machine credentials, managed by owners and admins.

The key is answered once, at creation. The definitions topic and the `api_keys` table
hold its HMAC digest and lookup prefix only. A revocation is refused by every API
process as soon as DELETE has answered: DELETE waits until the projection applied it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request, Response

from api import keys
from api.deps import ManagerDep, StateDep
from api.pagination import PagingDep, page_response
from api.people import publish_definition
from api.security import Principal
from schemas.answers.common import Page
from schemas.answers.people import ApiKey, NewApiKey
from schemas.envelope import new_id, now
from schemas.errors import Forbidden, InvalidInput, NotFound
from schemas.records import ApiKeyDefined
from schemas.security_api import ID_PATTERN, ApiKeyCreate

router = APIRouter(prefix="/api-keys", tags=["api-keys"])

_SELECT = (
    "SELECT k.*, u.last_used_at FROM api_keys k LEFT JOIN api_key_usage u ON u.key_id = k.id"
)


def _view(row: Any) -> dict[str, Any]:
    moment = now()
    expired = row["expires_at"] is not None and row["expires_at"] <= moment
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": f"{keys.KEY_PREFIX}{row['prefix']}",
        "role": row["role"],
        "workspace_id": row["workspace_id"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "revoked_at": row["revoked_at"],
        "last_used_at": row["last_used_at"],
        "is_active": row["revoked_at"] is None and not expired,
    }


async def _save(state: StateDep, principal: Principal, record: ApiKeyDefined) -> None:
    key = f"{record.workspace_id}:api_key:{record.id}"
    await publish_definition(state, key, record, record.workspace_id, record.id)


@router.get("", response_model=Page[ApiKey])
async def list_keys(
    request: Request,
    state: StateDep,
    principal: ManagerDep,
    paging: PagingDep,
) -> dict[str, Any]:
    ws = principal.workspace_id
    count = await state.pool.fetchval("SELECT count(*) FROM api_keys WHERE workspace_id = $1", ws)
    rows = await state.pool.fetch(
        f"{_SELECT} WHERE k.workspace_id = $1 ORDER BY k.created_at DESC, k.id LIMIT $2 OFFSET $3",
        ws, paging.page_size, paging.offset,
    )
    return page_response(request, paging, count, [_view(r) for r in rows])


@router.post("", status_code=201, response_model=NewApiKey)
async def create_key(body: ApiKeyCreate, state: StateDep, principal: ManagerDep) -> dict[str, Any]:
    if keys.at_most(body.role, principal.role) != body.role:
        raise Forbidden(
            f"a {principal.role} cannot create a key with role {body.role}",
            fields={"role": f"at most {principal.role}"},
        )
    moment = now()
    if body.expires_at is not None and body.expires_at <= moment:
        raise InvalidInput("expires_at is in the past", fields={"expires_at": "must be in the future"})
    prefix, full_key = keys.new_key()
    record = ApiKeyDefined(
        id=new_id(), workspace_id=principal.workspace_id, name=body.name, prefix=prefix,
        digest=keys.digest(state.settings.resolved_api_key_secret(), full_key), role=body.role,
        created_by=principal.user_id, created_at=moment, expires_at=body.expires_at,
    )
    await _save(state, principal, record)
    row = await state.pool.fetchrow(f"{_SELECT} WHERE k.id = $1", record.id)
    # The only time the key is ever shown.
    return {**_view(row), "key": full_key}


@router.delete("/{key_id}", status_code=204)
async def revoke_key(
    state: StateDep, principal: ManagerDep, key_id: str = Path(min_length=1, max_length=100, pattern=ID_PATTERN)
) -> Response:
    row = await state.pool.fetchrow(
        "SELECT * FROM api_keys WHERE id = $1 AND workspace_id = $2", key_id, principal.workspace_id
    )
    if row is None:
        raise NotFound(f"API key {key_id} not found", fields={"id": "no such key in this workspace"})
    if row["revoked_at"] is None:
        record = ApiKeyDefined(
            id=row["id"], workspace_id=row["workspace_id"], name=row["name"], prefix=row["prefix"],
            digest=row["digest"], role=row["role"], created_by=row["created_by"], created_at=row["created_at"],
            expires_at=row["expires_at"], revoked_at=now(), revoked_by=principal.user_id,
        )
        await _save(state, principal, record)
    return Response(status_code=204)
