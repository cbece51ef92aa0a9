"""The connector interface: run a rendered config, return an output or raise a typed error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from schemas.records import NodeWorkOrdered


class ConnectorError(Exception):
    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may use besides its config (shared clients, limits)."""

    http: Any  # aiohttp.ClientSession


Connector = Callable[[NodeWorkOrdered, ConnectorContext], Awaitable[dict[str, Any]]]
