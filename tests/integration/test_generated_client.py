# ruff: noqa: F811 - pytest fixtures imported by name
"""A typed client generated from the running API's /openapi.json, used for real calls
(issue 16): log in, create a workflow, read it back, list it, and a 404.

openapi-python-client turns each operation into a module and each answer model into a
class: the calls below only type-check and parse because every route declares its answer.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from pipeline import api  # noqa: F401 - fixtures

from infra.settings import Settings

SHARE_PIPELINE = True

PACKAGE = "fluxo_client"


@pytest.fixture
def generated(api: httpx.AsyncClient, tmp_path: Path) -> Iterator[ModuleType]:
    """The client package generated from the document the API serves, importable."""
    document = httpx.get(f"{api.base_url}/openapi.json", timeout=30)
    assert document.status_code == 200, document.text
    (tmp_path / "openapi.json").write_bytes(document.content)
    # No post hooks: the generator would run ruff on the output, which the test does not need.
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    run = subprocess.run(
        [str(generator), "generate", "--path", str(tmp_path / "openapi.json"), "--meta", "none",
         "--output-path", str(tmp_path / PACKAGE), "--config", str(tmp_path / "config.yaml")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    # It prints warnings for the parts of a document it skips: there must be none.
    assert run.returncode == 0 and "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_a_generated_client_logs_in_writes_reads_lists_and_gets_a_typed_404(
    api: httpx.AsyncClient, generated: ModuleType, settings: Settings
) -> None:
    models = _module(generated, "models")
    login = _module(generated, "api.auth.login_api_v1_auth_login_post")
    create = _module(generated, "api.workflows.create_workflow_api_v1_workflows_post")
    read = _module(generated, "api.workflows.get_workflow_api_v1_workflows_workflow_id_get")
    listing = _module(generated, "api.workflows.list_workflows_api_v1_workflows_get")
    base_url = str(api.base_url)

    async with generated.Client(base_url=base_url) as anonymous:
        tokens = await login.asyncio(
            client=anonymous, body=models.LoginRequest(email=settings.admin_email, password=settings.admin_password)
        )
    assert isinstance(tokens, models.Tokens)
    assert tokens.token_type == "bearer" and tokens.expires_in > 0 and tokens.role == "owner"

    name = f"generated client {uuid.uuid4()}"
    body = models.WorkflowCreate(
        name=name,
        nodes=[models.NodeIn(id="trigger", node_type=models.NodeType.TRIGGER),
               models.NodeIn(id="tag", node_type=models.NodeType.ACTION,
                             config=models.NodeInConfig.from_dict({"action_type": "add_tag", "tag_name": "vip"}))],
        edges=[models.EdgeIn(source_node="trigger", target_node="tag")],
    )
    async with generated.AuthenticatedClient(base_url=base_url, token=tokens.access_token, timeout=httpx.Timeout(30)) as client:
        created = await create.asyncio(client=client, body=body)
        assert isinstance(created, models.Workflow), created
        assert created.name == name and created.version == 1 and created.status == "draft"
        assert [n.id for n in created.nodes] == ["trigger", "tag"]
        assert created.nodes[1].node_type == models.NodeType.ACTION
        assert created.nodes[1].config["tag_name"] == "vip"
        assert created.edges[0].source_node == "trigger" and created.edges[0].target_node == "tag"

        again = await read.asyncio(client=client, workflow_id=created.id)
        assert isinstance(again, models.Workflow)
        assert (again.id, again.version, again.created_at) == (created.id, 1, created.created_at)
        # A read has the statistics block, typed; a new workflow has run nothing.
        assert isinstance(again.statistics, models.WorkflowFigures)
        assert again.statistics.executions_total == 0 and again.recent_executions == []

        page = await listing.asyncio(client=client, search=name)
        assert isinstance(page, models.PageWorkflowSummary)
        assert page.count == 1 and page.next_ is None and page.previous is None
        assert [(w.id, w.nodes_count, w.executions_count) for w in page.results] == [(created.id, 2, 0)]

        missing = await read.asyncio_detailed(client=client, workflow_id=str(uuid.uuid4()))
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.ErrorResponse)
        assert missing.parsed.error.code and "not found" in missing.parsed.error.message
