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


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.fluxo
    return state


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("authentication credentials were not provided")
    state = get_state(request)
    principal = verify(state.settings.resolved_jwt_secret(), credentials.credentials, "access")
    # Middleware (audit, rate limits) reads who the caller was after the handler ran.
    request.state.principal = principal
    return principal


def get_writer(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.role not in WRITE_ROLES:
        raise Forbidden(f"role {principal.role} cannot change anything")
    return principal


StateDep = Annotated[AppState, Depends(get_state)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
WriterDep = Annotated[Principal, Depends(get_writer)]
