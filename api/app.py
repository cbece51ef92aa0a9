"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import ORJSONResponse

from api import errors, openapi
from api.limits import BodyLimit, InputGuard
from api.routers import (
    actions,
    auth,
    automation,
    catalog,
    conditions,
    contacts,
    dashboard,
    data,
    events,
    executions,
    graph,
    health,
    history,
    integrations,
    metrics,
    runs,
    statistics,
    streams,
    triggers,
    webhooks,
    websites,
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
    openapi.install(app)
    # Added first, so it runs inside BodyLimit: it reads bodies whose size is already bounded.
    app.add_middleware(InputGuard)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    v1 = APIRouter(prefix="/api/v1")
    # Seed 002's /workflows/nodes/... first: /workflows/{id}/test would otherwise take
    # POST /workflows/nodes/test (and refuse a viewer a dry run of one node).
    v1.include_router(catalog.router)
    # Specific run routes next: /workflows/{id}/{action} would otherwise catch /execute.
    v1.include_router(runs.public_router)
    v1.include_router(runs.workflows_router)
    v1.include_router(runs.executions_router)
    # Before workflows: /workflows/{workflow_id} would otherwise take /workflows/statistics
    # and /workflows/{id}/nodes|edges; seed 003's associations go first too
    # (POST /workflows/{id}/{action} catches all).
    v1.include_router(statistics.router)
    v1.include_router(graph.router)
    v1.include_router(workflow_links.router)
    # Public inbound calls first: /webhooks/execute/{token} is not a webhook id.
    v1.include_router(webhooks.public_router)
    # /triggers/process_event (events) before the /triggers CRUD.
    modules = (
        auth, workflows, events, triggers, actions, conditions, executions, contacts, integrations, webhooks,
        automation, data, dashboard, history, streams, websites,
    )
    for module in modules:
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
