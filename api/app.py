"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import ORJSONResponse

from api import errors, openapi
from api.audit import AuditLog
from api.headers import SecurityHeaders
from api.limits import BodyLimit, InputGuard
from api.paths import SeedPaths
from api.query import refuse_unknown_query
from api.ratelimit import RateLimitHeaders, RateLimits, rate_limit
from api.routers import (
    actions,
    api_keys,
    audit_logs,
    auth,
    automation,
    catalog,
    conditions,
    console,
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
    users,
    webhooks,
    websites,
    workflow_links,
    workflows,
    workspaces,
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
    app.state.rate_limits = RateLimits(settings)
    # Added first, so it runs inside BodyLimit: it reads bodies whose size is already bounded.
    app.add_middleware(InputGuard)
    # Outermost last: security headers and CORS go on every answer, a 413 or 429 included.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(RateLimitHeaders)
    # Audit inside CORS and the security headers (its 503 gets them too), outside the
    # rest: refusals by the body limit are audited as well.
    app.add_middleware(AuditLog, max_body_bytes=settings.max_request_bytes, timeout_seconds=settings.audit_timeout_seconds)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "Idempotency-Key", "If-Match"],
        expose_headers=["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "ETag"],
        max_age=600,
    )
    app.add_middleware(SecurityHeaders, hsts=settings.mode != "local")
    # Outermost: every layer inside (audit, rate limits, routing) sees the one canonical path
    # (a trailing slash and seed 003's base URL are spellings of it: api/paths.py).
    app.add_middleware(SeedPaths)
    # After the rate limit: refused calls count too. Unknown query parameters are a 422 on
    # every route (api/query.py), the health and metrics routes included.
    checked = [Depends(refuse_unknown_query)]
    v1 = APIRouter(prefix="/api/v1", dependencies=[Depends(rate_limit), *checked])
    # The ingest endpoint first: routes are matched in order, one by one (~300 of them),
    # and POST /triggers/process_event is the hottest path; nothing before it shares its path.
    v1.include_router(events.router)
    # Seed 002's /workflows/nodes/... next: /workflows/{id}/test would otherwise take
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
    # A provider's signed calls to an integration: no JWT (api/routers/integrations.py).
    v1.include_router(integrations.public_router)
    modules = (
        auth, api_keys, users, workspaces, workflows, triggers, actions, conditions, executions, contacts, integrations, webhooks,
        automation, data, dashboard, history, streams, websites, audit_logs,
    )
    for module in modules:
        v1.include_router(module.router)
    v1.include_router(console.router)
    # Seed names for routes that live with their kind.
    v1.include_router(runs.history_router)
    v1.include_router(integrations.dashboard_router)
    app.include_router(v1)
    app.include_router(health.router, dependencies=checked)
    app.include_router(metrics.router, dependencies=checked)
    app.include_router(console.pages)  # static files of a single-page app: any query is the page's own
    return app
