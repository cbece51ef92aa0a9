"""GET /health: Kafka, PostgreSQL, and each processor's liveness and consumer lag."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import ORJSONResponse

from api.deps import StateDep
from api.services.health import health_report
from schemas.answers.operations import HealthReport

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthReport)
async def health(state: StateDep) -> ORJSONResponse:
    ready, report = await health_report(state)
    return ORJSONResponse(report, status_code=200 if ready else 503)
