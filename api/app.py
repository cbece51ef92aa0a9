"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import ORJSONResponse

from api import errors
from api.limits import BodyLimit
from api.routers import (
    actions,
    auth,
    automation,
    conditions,
    contacts,
    data,
    events,
    executions,
    health,
    integrations,
    metrics,
    runs,
    triggers,
    workflow_links,
    workflows,
)
from api.state import AppState
from infra.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.fluxo = await AppState.open(settings)
        try:
            yield
        finally:
            await app.state.fluxo.close()

    app = FastAPI(
        title="Fluxo",
        version="1",
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    v1 = APIRouter(prefix="/api/v1")
    # Specific run routes first: /workflows/{id}/{action} would otherwise catch /execute.
    v1.include_router(runs.public_router)
    v1.include_router(runs.workflows_router)
    v1.include_router(runs.executions_router)
    # Seed 003's associations before workflows (its POST /workflows/{id}/{action} catches all);
    # /triggers/process_event (events) before the /triggers CRUD.
    v1.include_router(workflow_links.router)
    for module in (auth, workflows, events, triggers, actions, conditions, executions, contacts, integrations, automation, data):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
