"""Node worker: performs side effects for work orders and reports the results.

At-least-once towards the outside world (a crash between the call and the
commit repeats the call), which is why every call carries the idempotency key
`execution:node:attempt`. The result records themselves are written in the
same transaction as the consumer offsets, so each result is recorded once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from infra.kafka_io import Output
from infra.settings import Settings
from processors.connectors.base import Connector, ConnectorContext, ConnectorError
from processors.connectors.http import run_http
from processors.machine import result_id
from processors.runtime import Incoming, StateStore
from schemas.envelope import Envelope, RecordData, make_envelope, now
from schemas.records import NodeError, NodeFailed, NodeSucceeded, NodeWorkOrdered
from schemas.topics import EXECUTIONS, NODE_WORK, TopicSpec

log = logging.getLogger("fluxo.worker")

CONNECTORS: dict[str, Connector] = {
    "webhook": run_http,
    "http_request": run_http,
    "http": run_http,
}


class NodeWorker:
    name = "worker"
    inputs: tuple[TopicSpec, ...] = (NODE_WORK,)
    state_topic: TopicSpec | None = None

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(64)

    async def start(self, settings: Settings) -> None:
        self._limit = asyncio.Semaphore(settings.worker_concurrency)
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.worker_concurrency),
        )

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]:
        # The whole batch runs concurrently, bounded: one slow target does not
        # hold up the others beyond its own timeout.
        results = await asyncio.gather(*(self._one(item) for item in batch))
        return [out for out in results if out is not None]

    async def _one(self, item: Incoming) -> Output | None:
        order = item.data
        if not isinstance(order, NodeWorkOrdered):
            log.warning("ignoring %s on the node-work topic", item.envelope.type)
            return None
        assert self._http is not None
        started = now()
        connector = CONNECTORS.get(order.action_type)
        result: RecordData
        try:
            if connector is None:
                raise ConnectorError(
                    "AUTO_004",
                    f"no connector for action_type {order.action_type!r} in this engine version",
                    retryable=False,
                )
            async with self._limit:
                output = await asyncio.wait_for(
                    connector(order, ConnectorContext(http=self._http)), order.timeout_seconds + 1
                )
            result = NodeSucceeded(
                execution_id=order.execution_id,
                node_id=order.node_id,
                node_type=order.node_type,
                attempt=order.attempt,
                iteration=order.iteration,
                input=order.config,
                output=output,
                started_at=started,
                completed_at=now(),
            )
            kind = "succeeded"
        except (ConnectorError, asyncio.TimeoutError) as exc:
            error = (
                NodeError(code=exc.code, message=exc.message, retryable=exc.retryable)
                if isinstance(exc, ConnectorError)
                else NodeError(code="AUTO_006", message="node timed out", retryable=True)
            )
            result = _failed(order, error, started)
            kind = "failed"
        except Exception as exc:  # noqa: BLE001 - a connector bug fails the node, not the worker
            log.exception("connector %s crashed", order.action_type)
            result = _failed(order, NodeError(code="CONNECTOR_ERROR", message=repr(exc)), started)
            kind = "failed"
        return Output.of(EXECUTIONS, order.execution_id, _envelope(item.envelope, order, result, kind))


def _failed(order: NodeWorkOrdered, error: NodeError, started: Any) -> NodeFailed:
    return NodeFailed(
        execution_id=order.execution_id,
        node_id=order.node_id,
        node_type=order.node_type,
        attempt=order.attempt,
        iteration=order.iteration,
        input=order.config,
        error=error,
        started_at=started,
        completed_at=now(),
    )


def _envelope(cause: Envelope, order: NodeWorkOrdered, data: RecordData, kind: str) -> Envelope:
    return make_envelope(
        data,
        id=result_id(kind, order),
        source="processor/worker",
        workspace_id=cause.workspaceid,
        subject=cause.subject,
        execution_id=order.execution_id,
        correlation_id=cause.correlationid,
        causation_id=cause.id,
        depth=cause.depth,
    )
