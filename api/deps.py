"""Dependencies: the app state, and the authenticated principal scoping every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.authn import authenticate
from api.security import Principal
from api.state import AppState
from schemas.errors import Forbidden

# Declared for the OpenAPI document (either scheme works); api/authn.py reads the headers.
_bearer = HTTPBearer(auto_error=False, description="A JWT access token, or an API key (fx_...)")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (fx_...)")

WRITE_ROLES = {"owner", "admin", "editor"}
MANAGER_ROLES = {"owner", "admin"}


# Async on purpose: FastAPI runs plain `def` dependencies in its thread pool, a
# thread hop per dependency per request (measured under `fluxo bench`'s ingest load).
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.fluxo
    return state


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    return await authenticate(request)


async def get_writer(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.role not in WRITE_ROLES:
        raise Forbidden(f"role {principal.role} cannot change anything")
    return principal


def get_person(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A person signed in with a token. Credentials and people are managed by people only:
    a leaked API key must not be able to mint keys or invite accounts that outlive it."""
    if principal.via != "jwt":
        raise Forbidden("this needs a person's sign-in, not an API key")
    return principal


def get_manager(principal: Annotated[Principal, Depends(get_person)]) -> Principal:
    if principal.role not in MANAGER_ROLES:
        raise Forbidden(f"role {principal.role} cannot manage keys or members: owner or admin only")
    return principal


StateDep = Annotated[AppState, Depends(get_state)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
WriterDep = Annotated[Principal, Depends(get_writer)]
PersonDep = Annotated[Principal, Depends(get_person)]
ManagerDep = Annotated[Principal, Depends(get_manager)]
