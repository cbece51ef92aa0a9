"""api.paths: the seeds' spellings of a path (a trailing slash, seed 003's base URL) are
served as the canonical path, before routing."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from api.paths import SeedPaths, canonical
from infra.settings import Settings


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/v1/workflows/", "/api/v1/workflows"),
    ("/api/v1/workflows/abc/activate/", "/api/v1/workflows/abc/activate"),
    ("/api/v1/workflows//", "/api/v1/workflows"),
    ("/api/v1/workflows", "/api/v1/workflows"),
    ("/api/v1/workflow/api/workflows/", "/api/v1/workflows"),
    ("/api/v1/workflow/api/triggers/process_event/", "/api/v1/triggers/process_event"),
    ("/api/v1/workflow/api", "/api/v1"),
    ("/api/v1/workflow/apis", "/api/v1/workflow/apis"),  # whole segments only
    ("/api/v1/workflows/api/x", "/api/v1/workflows/api/x"),
    ("/api/v1/usr/login/", "/api/v1/auth/login"),
    # Seed 004's base URL, for its own resources only.
    ("/api/v1/automation/workflows/", "/api/v1/workflows"),
    ("/api/v1/automation/workflows/w-1/nodes/n-1/", "/api/v1/workflows/w-1/nodes/n-1"),
    ("/api/v1/automation/integrations/i-1/", "/api/v1/integrations/i-1"),
    ("/api/v1/automation/executions/e-1/cancel/", "/api/v1/executions/e-1/cancel"),
    ("/api/v1/automation/action-templates/", "/api/v1/action-templates"),
    ("/api/v1/automation/workflowsx", "/api/v1/automation/workflowsx"),
    # Seed 001's connector endpoints are ours under /automation and stay as they are.
    ("/api/v1/automation/email/send", "/api/v1/automation/email/send"),
    ("/api/v1/automation/execution/e-1/status", "/api/v1/automation/execution/e-1/status"),
    ("/api/v1/automation/workflow/w-1/logs/", "/api/v1/automation/workflow/w-1/logs"),
    ("/api/v1/automation/queue/status", "/api/v1/automation/queue/status"),
    ("/", "/"),
    ("//", "/"),
    ("", ""),
])
def test_canonical(path: str, expected: str) -> None:
    assert canonical(path) == expected


async def test_the_app_behind_sees_the_canonical_path_and_raw_path() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    middleware = SeedPaths(app)
    await middleware({"type": "http", "path": "/api/v1/triggers/process_event/", "raw_path": b"/api/v1/triggers/process_event/"}, None, None)
    await middleware({"type": "http", "path": "/health", "raw_path": b"/health"}, None, None)
    await middleware({"type": "websocket", "path": "/stream/"}, None, None)
    assert seen[0]["path"] == "/api/v1/triggers/process_event"
    assert seen[0]["raw_path"] == b"/api/v1/triggers/process_event"
    assert seen[1]["path"] == "/health"
    assert seen[2]["path"] == "/stream/"  # only HTTP requests are rewritten


def test_the_openapi_document_keeps_one_operation_per_path() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    assert not [p for p in paths if p != "/" and p.endswith("/")]
    assert not [p for p in paths if p.startswith(("/api/v1/workflow/api", "/api/v1/usr"))]
    seed_004 = ("/api/v1/automation/workflows", "/api/v1/automation/integrations", "/api/v1/automation/executions",
                "/api/v1/automation/action-templates")
    assert not [p for p in paths if p.startswith(seed_004)]
