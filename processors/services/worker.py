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
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from infra.crypto import SecretBox, SecretError
from infra.settings import Settings
from processors.connectors.base import (
    INTEGRATION_MISSING,
    Connector,
    ConnectorContext,
    ConnectorError,
    Integration,
    IntegrationLookup,
    test_mode_output,
)
from processors.connectors.code import install_pool
from processors.connectors.guard import GuardedResolver
from processors.connectors.records import install_db
from processors.connectors.registry import CONNECTORS
from processors.engine.machine import result_id, work_result
from processors.sandbox import CodePool
from processors.services.definitions import DefinitionsView
from processors.streams.runner import Incoming
from processors.streams.state import StateStore
from schemas.envelope import Envelope, RecordData, make_envelope, now
from schemas.outputs import Output
from schemas.records import NodeError, NodeWorkOrdered
from schemas.topics import EXECUTIONS, NODE_WORK, TopicSpec

log = logging.getLogger("fluxo.worker")

class NodeWorker:
    name = "worker"
    inputs: tuple[TopicSpec, ...] = (NODE_WORK,)
    state_topic: TopicSpec | None = None

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, ...], aiohttp.ClientSession] = {}
        self._limit = asyncio.Semaphore(64)
        self._concurrency = 64
        # Bulkhead: one target (host, or connector without a URL) gets at most a share of the
        # concurrency, so a hanging one cannot hold every slot while healthy ones wait.
        self._targets: dict[str, asyncio.Semaphore] = {}
        self._per_target = 16
        # Work orders running or waiting for a slot (processors/pipelined.py).
        self.max_in_flight = 4096
        self.definitions = DefinitionsView()
        self._box: SecretBox | None = None
        self._code: CodePool | None = None
        self._db: asyncpg.Pool | None = None

    async def start(self, settings: Settings) -> None:
        self._concurrency = settings.worker_concurrency
        self._limit = asyncio.Semaphore(settings.worker_concurrency)
        self._per_target = max(1, settings.worker_concurrency // 4)
        self._box = settings.secret_box()
        self._code = CodePool(size=settings.code_pool_size)
        await self._code.start()
        install_pool(self._code)
        # Read-only use: database_query nodes read the projected data tables.
        self._db = await asyncpg.create_pool(settings.dsn, min_size=1, max_size=4)
        install_db(self._db)
        await self.definitions.start(settings)

    async def stop(self) -> None:
        for session in self._sessions.values():
            await session.close()
        if self._code is not None:
            install_pool(None)
            await self._code.stop()
        if self._db is not None:
            install_db(None)
            await self._db.close()
        await self.definitions.stop()

    def _session(self, allowed: tuple[str, ...]) -> aiohttp.ClientSession:
        """One HTTP client per SSRF allow-list: the resolver enforces it on every connection."""
        session = self._sessions.get(allowed)
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._concurrency, resolver=GuardedResolver(allowed=allowed))
            session = aiohttp.ClientSession(connector=connector)
            self._sessions[allowed] = session
        return session

    def _lookup(self, workspace_id: str) -> IntegrationLookup:
        def lookup(wanted: str | None, integration_type: str) -> Integration | None:
            found = self.definitions.integration(workspace_id, wanted, integration_type)
            if found is None:
                return None
            secrets: dict[str, Any] = {}
            if found.secrets_sealed:
                assert self._box is not None
                try:
                    secrets = self._box.open(found.secrets_sealed, found.id)
                except SecretError as exc:
                    raise ConnectorError(INTEGRATION_MISSING, f"integration {found.id}: {exc}", retryable=False) from None
            return Integration(
                id=found.id, integration_type=found.integration_type, name=found.name,
                config=found.config, secrets=secrets, test_mode=found.test_mode,
            )

        return lookup

    def context(self, workspace_id: str) -> ConnectorContext:
        allowed = self.definitions.allowed_hosts(workspace_id)
        return ConnectorContext(
            http=self._session(allowed), workspace_id=workspace_id, allowed_hosts=allowed,
            integrations=self._lookup(workspace_id), extra={"used": []},
        )

    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]:
        if batch:
            await self.definitions.catch_up()
        results = await asyncio.gather(*(self._one(item) for item in batch))
        return [out for out in results if out is not None]

    async def prepare(self) -> None:
        await self.definitions.catch_up()

    async def one(self, item: Incoming) -> Output | None:
        """One work order, on its own (processors/pipelined.py runs the worker this way)."""
        return await self._one(item)

    def _target(self, order: NodeWorkOrdered) -> asyncio.Semaphore:
        url = order.config.get("url")
        target = (urlsplit(url).netloc or url) if isinstance(url, str) else order.action_type
        limit = self._targets.get(target)
        if limit is None:
            limit = self._targets[target] = asyncio.Semaphore(self._per_target)
        return limit

    async def _one(self, item: Incoming) -> Output | None:
        order = item.data
        if not isinstance(order, NodeWorkOrdered):
            log.warning("ignoring %s on the node-work topic", item.envelope.type)
            return None
        started = now()
        connector = CONNECTORS.get(order.action_type)
        result: RecordData
        ctx: ConnectorContext | None = None
        outcome: dict[str, Any] | NodeError
        try:
            if connector is None:
                raise ConnectorError(
                    "AUTO_004",
                    f"no connector for action_type {order.action_type!r} in this engine version",
                    retryable=False,
                )
            ctx = self.context(item.envelope.workspaceid)
            async with self._target(order), self._limit:
                output = await asyncio.wait_for(_call(connector, order, ctx), order.timeout_seconds + 1)
            if ctx.extra["used"]:
                output = {**output, "integration_id": ctx.extra["used"][-1]}
            outcome = output
        except (TimeoutError, ConnectorError) as exc:
            used = ctx.extra["used"][-1] if ctx is not None and ctx.extra["used"] else None
            outcome = (
                NodeError(code=exc.code, message=exc.message, retryable=exc.retryable, integration_id=used)
                if isinstance(exc, ConnectorError)
                else NodeError(code="AUTO_006", message="node timed out", retryable=True, integration_id=used)
            )
        except Exception as exc:
            log.exception("connector %s crashed", order.action_type)
            outcome = NodeError(code="CONNECTOR_ERROR", message=type(exc).__name__)
        kind, result = work_result(order, outcome, started, now())
        return Output.of(EXECUTIONS, order.execution_id, _envelope(item.envelope, order, result, kind))


async def _call(connector: Connector, order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    """What every connector gets for free: config validation, and test mode for its integration."""
    problems = connector.validate(order.config)
    if problems:
        raise ConnectorError("AUTO_007", "; ".join(f"{k} {v}" for k, v in problems.items()), retryable=False)
    if connector.integration_type is not None:
        integration = ctx.integration(order.config, connector.integration_type)
        if integration is not None and integration.test_mode:
            return test_mode_output(order, integration)
    return await connector.run(order, ctx)


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
