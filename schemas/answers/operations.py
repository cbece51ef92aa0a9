"""Answers of the operations routes: health, queue status (api/routers/health.py,
metrics.py). /metrics answers Prometheus text, documented as a string."""

from __future__ import annotations

from pydantic import Field

from schemas.answers.common import Answer


class ServiceHealth(Answer):
    """`brokers` for Kafka when up; `error` (the exception's type) when down."""

    status: str = Field(description="up or down")
    brokers: int | None = None
    error: str | None = None


class PartitionLag(Answer):
    topic: str
    partition: int
    end_offset: int
    committed: int
    lag: int


class ProcessorHealth(Answer):
    """A consumer group's lag by partition; only `error` (and `alive`) when it could not
    be read. The projection's `alive` is null: its offsets live in PostgreSQL."""

    alive: bool | None = None
    lag: int | None = None
    partitions: list[PartitionLag] | None = None
    group: str | None = None
    state: str | None = None
    members: int | None = None
    error: str | None = None


class DirectoryHealth(Answer):
    """The API's in-memory directory of principals, keys and webhook tokens."""

    status: str = Field(description="ready once caught up with the definitions topic, else catching_up")
    staleness_seconds: float | None = Field(
        default=None, description="how old the directory's last confirmed catch-up is; trusted up to bound_seconds"
    )
    bound_seconds: float


class HealthReport(Answer):
    """200 when ready; the same report with 503 when a service or a processor is down, or
    while the API's directory is still catching up with the definitions topic."""

    kafka: ServiceHealth
    postgres: ServiceHealth
    directory: DirectoryHealth | None = None
    processors: dict[str, ProcessorHealth] = Field(description="matcher, executor, worker, timers, projection")
    status: str = Field(description="ready or degraded")


class QueueStatus(Answer):
    queue_size: int = Field(description="the worker group's lag: node work waiting")
    workers: int
    partitions: list[PartitionLag]
