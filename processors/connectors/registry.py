"""Every connector by the action types it serves: what the node worker dispatches on."""

from __future__ import annotations

from processors.connectors.base import Connector
from processors.connectors.code import CODE
from processors.connectors.email import EMAIL
from processors.connectors.google import SHEETS
from processors.connectors.http import HTTP
from processors.connectors.messaging import MESSAGE, SLACK, WHATSAPP
from processors.connectors.records import QUERY


def _registry(*connectors: Connector) -> dict[str, Connector]:
    return {action_type: c for c in connectors for action_type in c.action_types}


CONNECTORS: dict[str, Connector] = _registry(HTTP, EMAIL, WHATSAPP, MESSAGE, SLACK, SHEETS, CODE, QUERY)
