"""custom_code nodes and custom-code conditions: run user code in the sandbox pool.

The code sees `context` (trigger data, user, event, earlier node outputs) and
returns a JSON-able result. Time, memory and security failures are typed,
not retried (the same code would fail the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.connectors.base import Connector, ConnectorContext, ConnectorError
from processors.connectors.checks import ACTION_TYPES, validate_code
from processors.sandbox import CodeError, CodePool, Limits
from schemas.records import NodeWorkOrdered
from schemas.workflow import NodeType

_pool: CodePool | None = None


def install_pool(pool: CodePool | None) -> None:
    """The worker owns the pool's lifecycle; connectors only use it."""
    global _pool
    _pool = pool


def _limits(config: Mapping[str, Any], timeout: float) -> Limits:
    base = Limits()
    cpu = config.get("cpu_seconds")
    memory = config.get("memory_mb")
    return Limits(
        cpu_seconds=float(cpu) if isinstance(cpu, int | float) and 0 < cpu <= 30 else base.cpu_seconds,
        memory_mb=int(memory) if isinstance(memory, int) and 16 <= memory <= 512 else base.memory_mb,
        wall_seconds=min(max(1.0, timeout), 60.0),
    )


async def run_code(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    config = order.config
    if _pool is None:
        raise ConnectorError("CODE_UNAVAILABLE", "the code sandbox is not running in this worker", retryable=True)
    code = str(config.get("code", config.get("custom_code")))
    raw_context = config.get("context")
    context: Mapping[str, Any] = raw_context if isinstance(raw_context, Mapping) else {}
    language = str(config.get("language", "python")).lower()
    try:
        result = await _pool.run(language, code, dict(context), _limits(config, order.timeout_seconds))
    except CodeError as exc:
        raise ConnectorError(exc.code, exc.message, retryable=exc.code == "CODE_UNAVAILABLE") from None
    if order.node_type == NodeType.CONDITION:
        # A custom-code condition: `result` decides the branch.
        return {"result": bool(result), "value": result}
    return {"result": result}


CODE = Connector(action_types=ACTION_TYPES["code"], run=run_code, validate=validate_code)
