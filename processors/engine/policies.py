"""Durations, retry policies and backoff for the state machine. Pure."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from processors.engine.kinds import WAIT_ACTIONS
from schemas.errors import ExpressionError
from schemas.workflow import Node, NodeType, WorkflowSettings

UNIT_SECONDS = {
    "ms": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
# A wait longer than this is almost certainly a unit mistake.
MAX_WAIT_SECONDS = 366 * 86400


class DurationError(ExpressionError):
    """A wait, delay or retry setting that is not a usable duration."""


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError(f"{field} must be a number")
    try:
        number = float(value)
    except (ValueError, OverflowError) as exc:
        raise DurationError(f"{field} must be a finite number, got {str(value)[:40]!r}") from exc
    if math.isnan(number):
        raise DurationError(f"{field} must be a number, not NaN")
    if number < 0:
        raise DurationError(f"{field} must be zero or positive")
    return number


def wait_seconds(config: Mapping[str, Any], now: datetime) -> float:
    """How long a delay/wait node (or a `wait` action) waits.

    Accepts `{"delay_seconds": 5}`, `{"seconds": 5}`, `{"duration": 10, "unit": "minutes"}`,
    `{"delay": {"value": 2, "unit": "hours"}}`, `{"minutes": 3}`, `{"days": 1}` or
    `{"until": "<ISO datetime>"}` (already rendered from templates).
    """
    if "until" in config:
        until = config["until"]
        try:
            at = until if isinstance(until, datetime) else datetime.fromisoformat(str(until))
        except ValueError as exc:
            raise DurationError(f"until is not an ISO datetime: {until!r}") from exc
        if at.tzinfo is None:
            raise DurationError("until needs a timezone (e.g. 2026-01-01T09:00:00Z)")
        seconds_until = max(0.0, (at - now).total_seconds())
        if seconds_until > MAX_WAIT_SECONDS:
            raise DurationError(f"a wait may last at most {MAX_WAIT_SECONDS // 86400} days")
        return seconds_until
    seconds: float | None = None
    for key in ("delay_seconds", "wait_seconds", "seconds"):
        if key in config:
            seconds = _number(config[key], key)
            break
    else:
        spec = config.get("delay", config.get("wait"))
        if isinstance(spec, Mapping):
            seconds = _unit_value(spec.get("value", spec.get("duration")), spec.get("unit", "seconds"), "delay")
        elif spec is not None:
            seconds = _number(spec, "delay")
        elif "duration" in config:
            seconds = _unit_value(config["duration"], config.get("unit", "seconds"), "duration")
        else:
            for unit in ("minutes", "hours", "days", "weeks"):
                if unit in config:
                    seconds = _number(config[unit], unit) * UNIT_SECONDS[unit]
                    break
    if seconds is None:
        raise DurationError("a wait needs delay_seconds, duration and unit, or until")
    if seconds > MAX_WAIT_SECONDS:
        raise DurationError(f"a wait may last at most {MAX_WAIT_SECONDS // 86400} days")
    return seconds


def _unit_value(value: Any, unit: Any, field: str) -> float:
    number = _number(value, field)
    name = str(unit).strip().lower()
    if name not in UNIT_SECONDS:
        raise DurationError(f"unknown unit {unit!r}; use one of seconds, minutes, hours, days, weeks")
    return number * UNIT_SECONDS[name]


def pre_delay_seconds(config: Mapping[str, Any]) -> float:
    """A seed-003 action's own `delay` (seconds) before it runs; 0 when absent or invalid."""
    value = config.get("delay")
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return 0.0  # absent, invalid or NaN
    return float(min(value, MAX_WAIT_SECONDS))


def fixed_wait_seconds(node: Node) -> float | None:
    """How long a node waits when that is known before it runs (a delay node or a wait action
    with a fixed duration, an action's own `delay`); None for a templated or `until` wait."""
    config = node.config
    is_wait = node.node_type == NodeType.DELAY or (
        node.node_type == NodeType.ACTION and str(config.get("action_type", "")).lower() in WAIT_ACTIONS
    )
    if not is_wait:
        seconds = pre_delay_seconds(config) if node.node_type == NodeType.ACTION else 0.0
        return seconds or None
    if "until" in config or "{{" in str(config):
        return None
    try:
        # No `until` here, so the clock is not read: any instant gives the same answer.
        return wait_seconds(config, datetime(1970, 1, 1, tzinfo=UTC))
    except DurationError:
        return None  # the config check reports it


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    backoff_seconds: float
    max_backoff_seconds: float

    def allows(self, attempt: int) -> bool:
        """May a failed `attempt` (1-based) be retried?"""
        return attempt <= self.max_retries

    def delay(self, key: str, attempt: int) -> float:
        """Exponential backoff with 'equal jitter', deterministic per (key, attempt).

        Deterministic so that re-running the state machine over the same input
        schedules the same wake-up, yet different executions spread out.
        """
        if self.backoff_seconds <= 0:
            return 0.0
        ceiling = float(min(self.max_backoff_seconds, self.backoff_seconds * 2.0 ** (attempt - 1)))
        digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        return ceiling / 2 + fraction * ceiling / 2


def retry_policy(node: Node, settings: WorkflowSettings) -> RetryPolicy:
    """A node's own `retry` config wins over the workflow's settings."""
    own = node.config.get("retry")
    base = settings.retry_backoff_seconds
    cap = settings.retry_max_backoff_seconds
    if isinstance(own, Mapping):
        return RetryPolicy(
            max_retries=_bounded_int(own.get("max_retries", own.get("max_attempts", 0)), 0, 20),
            backoff_seconds=_bounded_float(own.get("backoff_seconds", base), 0, 3600),
            max_backoff_seconds=_bounded_float(own.get("max_backoff_seconds", cap), 0, 86400),
        )
    if "max_retries" in node.config:
        return RetryPolicy(_bounded_int(node.config["max_retries"], 0, 20), base, cap)
    if not settings.retry_on_failure:
        return RetryPolicy(0, base, cap)
    return RetryPolicy(settings.max_retries, base, cap)


def _bounded_int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return low
    return int(max(low, min(high, value)))


def _bounded_float(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return float(low)
    return float(max(low, min(high, value)))
