"""The connector interface: validate a config, run it, or describe it as a dry run.

Every connector gets the rendered config of one work order and a context with
shared clients, the workspace's integration lookup and its SSRF allow-list;
it returns the node's output or raises a typed `ConnectorError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.errors import InfrastructureError
from schemas.records import NodeWorkOrdered

# Seed 004's code for "an action needs an integration that is not configured" (AUTO_003 is
# its circular dependency).
INTEGRATION_MISSING = "AUTO_004"


class ConnectorError(InfrastructureError):
    """A call to a service outside Fluxo failed or was refused; `code` says how (CONN_...),
    `retryable` whether the same call may succeed later."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class Integration:
    """A configured connection, secrets opened (in memory only, never logged)."""

    id: str
    integration_type: str
    name: str
    config: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(repr=False)
    test_mode: bool = False

    def value(self, name: str, default: Any = None) -> Any:
        """A setting from the secrets first, then the plain config."""
        if name in self.secrets:
            return self.secrets[name]
        return self.config.get(name, default)


IntegrationLookup = Callable[[str | None, str], Integration | None]


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may use besides its config (shared clients, limits)."""

    http: Any  # aiohttp.ClientSession whose resolver enforces this workspace's SSRF rules
    workspace_id: str = ""
    allowed_hosts: tuple[str, ...] = ()
    integrations: IntegrationLookup | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def integration(self, config: Mapping[str, Any], integration_type: str, *, required: bool = True) -> Integration | None:
        """The integration a node names (`integration` / `integration_id`), else the workspace's
        active one of that type."""
        wanted = config.get("integration_id") or config.get("integration")
        found = self.integrations(str(wanted) if wanted else None, integration_type) if self.integrations else None
        if found is not None and isinstance(self.extra.get("used"), list):
            self.extra["used"].append(found.id)
        if found is None and required:
            which = f"integration {wanted}" if wanted else f"an active {integration_type} integration"
            raise ConnectorError(INTEGRATION_MISSING, f"{which} is not configured for this workspace", retryable=False)
        return found


Run = Callable[[NodeWorkOrdered, ConnectorContext], Awaitable[dict[str, Any]]]
Validate = Callable[[Mapping[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class Connector:
    action_types: tuple[str, ...]
    run: Run
    validate: Validate
    # Which integration type the connector needs (None: none).
    integration_type: str | None = None



def test_mode_output(order: NodeWorkOrdered, integration: Integration) -> dict[str, Any]:
    """An integration in test mode: nothing is sent; the output says what would have been."""
    config = {k: v for k, v in order.config.items() if k != "context"}
    return {"status": "test_mode", "test_mode": True, "integration_id": integration.id, "would_send": config}


def require(config: Mapping[str, Any], *names: str) -> dict[str, str]:
    return {f"config.{n}": "is required" for n in names if config.get(n) in (None, "", [], {})}
