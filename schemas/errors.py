"""The one error hierarchy. The API maps these to HTTP in one place (api/errors.py)."""

from __future__ import annotations

from typing import Any


class FluxoError(Exception):
    code = "FLUXO_000"

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


# -- domain ------------------------------------------------------------------
class DomainError(FluxoError):
    pass


class NotFound(DomainError):
    code = "AUTO_001"


class Conflict(DomainError):
    code = "AUTO_005"


class InvalidInput(DomainError):
    code = "AUTO_007"


class ExpressionError(InvalidInput, ValueError):
    """An expression a definition holds (a condition, a template, a cron schedule, a
    duration) that is malformed or cannot be evaluated.

    Also a ValueError: the pure modules' callers caught these as ValueErrors before
    they joined this hierarchy, and still may.
    """


class PayloadTooLarge(InvalidInput):
    code = "AUTO_007"


class MethodNotAllowed(DomainError):
    """The resource exists but does not take this HTTP method (an inbound webhook's allowed methods)."""

    code = "METHOD_NOT_ALLOWED"


class PreconditionFailed(DomainError):
    """A conditional write (`If-Match`) made against a version that is no longer current.

    `current_etag` is the resource's ETag now (answered as the `ETag` header too), so the
    client can read it again and redo its change on top of it.
    """

    code = "PRECONDITION_FAILED"

    def __init__(self, message: str, *, current_etag: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message, fields=fields)
        self.current_etag = current_etag


class Unauthenticated(DomainError):
    code = "AUTH_001"


class Forbidden(DomainError):
    code = "AUTH_003"


class RateLimited(DomainError):
    """Too many requests (or failed logins) for now; `retry_after` says when to come back."""

    code = "RATE_001"

    def __init__(self, message: str, *, retry_after: int, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message, fields=fields)
        self.retry_after = max(1, retry_after)


# -- infrastructure ----------------------------------------------------------
class InfrastructureError(FluxoError):
    code = "INFRA_001"


class Unavailable(InfrastructureError):
    """A backing service (Kafka, PostgreSQL) cannot be reached right now."""

    code = "INFRA_503"


# -- records -----------------------------------------------------------------
class PoisonRecord(FluxoError):
    """A record that can never be processed: it goes to the dead-letter topic."""

    code = "RECORD_001"


# -- processor state -----------------------------------------------------------
class StateVersionError(InfrastructureError):
    """A stored state value this process cannot read (a newer version, an unknown kind).

    Raised while restoring a changelog: the processor stops rather than run
    without state it would then overwrite. An infrastructure error: the deployment
    mixes versions (an older process reading a newer one's state), nothing a caller sent.
    """

    code = "STATE_001"


class UnknownWorkflowSnapshot(InfrastructureError):
    """A running execution names a pinned workflow snapshot the executor does not hold.

    The executor keeps every snapshot a running execution names in its changelog
    (processors/services/executor.py), so this means that changelog lost an entry: the
    record is dead-lettered with this reason rather than run against another workflow.
    """

    code = "STATE_002"
