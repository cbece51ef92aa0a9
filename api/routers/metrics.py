"""Prometheus metrics, under the names seed 001 specified, plus consumer lag, at /metrics
and seed 001's /api/automation/metrics.

Counters come from the `connector_metrics` projection (maintained as results
arrive); lag is read from Kafka at scrape time. Public like /health.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import ORJSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from api.deps import PrincipalDep, StateDep
from api.services.health import PROCESSORS, health_report, processor_view, projection_view
from api.state import AppState
from projections.fold import METRIC_BUCKETS
from schemas.answers.operations import HealthReport, QueueStatus

router = APIRouter(tags=["operations"])
log = logging.getLogger("fluxo.api")


class _Snapshot:
    """A collector over metric families computed before the scrape is rendered."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


async def _families(state: AppState) -> list[Metric]:
    executions = CounterMetricFamily(
        "automation_executions", "Connector executions (node steps that call out), by outcome",
        labels=["connector_type", "status", "workflow_id"],
    )
    duration = HistogramMetricFamily(
        "automation_execution_duration_seconds", "Duration of connector executions",
        labels=["connector_type", "workflow_id"],
    )
    rows = await state.pool.fetch(
        "SELECT connector_type, status, workflow_id, sum(count) AS count, sum(duration_sum) AS duration_sum,"
        " array_agg(buckets) AS buckets FROM connector_metrics GROUP BY connector_type, status, workflow_id"
    )
    histograms: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        executions.add_metric([row["connector_type"], row["status"], row["workflow_id"]], float(row["count"]))
        entry = histograms.setdefault((row["connector_type"], row["workflow_id"]), {"count": 0.0, "sum": 0.0, "buckets": [0] * len(METRIC_BUCKETS)})
        entry["count"] += float(row["count"])
        entry["sum"] += float(row["duration_sum"])
        for buckets in row["buckets"]:
            entry["buckets"] = [a + b for a, b in zip(entry["buckets"], buckets, strict=False)]
    for (connector, workflow_id), entry in histograms.items():
        bounds = [(str(bound), float(count)) for bound, count in zip(METRIC_BUCKETS, entry["buckets"], strict=True)]
        duration.add_metric([connector, workflow_id], bounds + [("+Inf", entry["count"])], entry["sum"])
    lag = GaugeMetricFamily("fluxo_consumer_lag", "Records not yet processed, per consumer group and partition",
                            labels=["group", "topic", "partition"])
    queue = GaugeMetricFamily("automation_queue_size", "Work orders waiting for a node worker")
    views: dict[str, Any] = {}
    for name, specs in PROCESSORS.items():
        try:
            views[name] = await asyncio.wait_for(processor_view(state, name, specs), 3.0)
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
            log.warning("metrics: no lag for %s: %s", name, type(exc).__name__)
            continue
    try:
        views["projection"] = await asyncio.wait_for(projection_view(state), 3.0)
    except Exception as exc:  # noqa: BLE001
        log.warning("metrics: no projection lag: %s", type(exc).__name__)
    for name, view in views.items():
        for p in view.get("partitions", []):
            lag.add_metric([view.get("group", name), p["topic"], str(p["partition"])], float(p["lag"]))
    queue.add_metric([], float(views.get("worker", {}).get("lag", 0)))
    dead = CounterMetricFamily(
        "fluxo_dead_letters", "Records a consumer could not accept, sent to the dead-letter topic",
        labels=["consumer", "topic"],
    )
    for row in await state.pool.fetch(
        "SELECT consumer, original_topic, count(*) AS n FROM dead_letters GROUP BY consumer, original_topic"
    ):
        dead.add_metric([row["consumer"], row["original_topic"]], float(row["n"]))
    return [executions, duration, lag, queue, dead]


_PROMETHEUS: dict[int | str, dict[str, Any]] = {200: {"description": "Prometheus text exposition format"}}


# Documented as text/plain (a string): the answer's own media type adds a format version.
# /api/automation/metrics is seed 001's name for it (beside its /api/automation/health).
@router.get("/metrics", response_class=PlainTextResponse, responses=_PROMETHEUS)
@router.get("/api/automation/metrics", response_class=PlainTextResponse, responses=_PROMETHEUS)
async def metrics(state: StateDep) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await _families(state)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/health", response_model=HealthReport)
@router.get("/api/automation/health", response_model=HealthReport)
async def health_aliases(state: StateDep) -> ORJSONResponse:
    ready, report = await health_report(state)
    return ORJSONResponse(report, status_code=200 if ready else 503)


@router.get("/queue/status", response_model=QueueStatus)
@router.get("/api/automation/queue/status", response_model=QueueStatus)
async def queue_status(state: StateDep, _: PrincipalDep) -> dict[str, Any]:
    # Not public like /health: API.md keeps only health, metrics, login and hooks open.
    worker = await processor_view(state, "worker", PROCESSORS["worker"])
    return {"queue_size": worker["lag"], "workers": worker["members"], "partitions": worker["partitions"]}
