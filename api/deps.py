"""Dependencies: the app state, and the authenticated principal scoping every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security import Principal, verify
from api.state import AppState
from schemas.errors import Forbidden, Unauthenticated

_bearer = HTTPBearer(auto_error=False)

WRITE_ROLES = {"owner", "admin", "editor"}


# Async on purpose: FastAPI runs plain `def` dependencies in its thread pool, a
# thread hop per dependency per request (measured under `fluxo bench`'s ingest load).
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.fluxo
    return state


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("authentication credentials were not provided")
    state: AppState = request.app.state.fluxo
    principal = verify(state.settings.resolved_jwt_secret(), credentials.credentials, "access")
    # Middleware (audit, rate limits) reads who the caller was after the handler ran.
    request.state.principal = principal
    return principal


async def get_writer(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.role not in WRITE_ROLES:
        raise Forbidden(f"role {principal.role} cannot change anything")
    return principal


StateDep = Annotated[AppState, Depends(get_state)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
WriterDep = Annotated[Principal, Depends(get_writer)]
