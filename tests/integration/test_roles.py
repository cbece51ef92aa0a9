"""Roles within one workspace (issue 7): a viewer reads everything and changes nothing (every
state-changing route, enumerated from the app, answers 403); editors, admins and owners write
definitions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from conftest import Processes
from pipeline import (
    add_person,
    changed_tables,
    client_with,
    isolated_settings,
    login_tokens,
    running_pipeline,
    workspace_rows,
)
from routes import MANAGER_READS, PERSONAL, Ids, app_routes, call, seed_workspace, settled

from infra.settings import Settings
from schemas.records import Role


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


@dataclass
class Team:
    settings: Settings
    workspace_id: str
    ids: Ids
    clients: dict[str, httpx.AsyncClient]


@pytest_asyncio.fixture(scope="module")
async def team(settings: Settings) -> AsyncIterator[Team]:
    processes = Processes(settings)
    try:
        async with running_pipeline(settings, processes) as (owner, workspace_id):
            ids = await seed_workspace(owner, settings)
            clients: dict[str, httpx.AsyncClient] = {"owner": owner}
            roles: tuple[Role, ...] = ("viewer", "editor", "admin")
            for role in roles:
                email = f"{role}-{uuid.uuid4().hex[:6]}@fluxo.test"
                await add_person(settings, workspace_id=workspace_id, email=email, role=role, password=f"{role}-password")
                tokens = await login_tokens(owner, email, f"{role}-password")
                clients[role] = client_with(owner, tokens["access_token"])
            try:
                yield Team(settings, workspace_id, ids, clients)
            finally:
                for role in roles:
                    await clients[role].aclose()
    finally:
        processes.stop_all()


async def test_a_viewer_reads_everything_and_changes_nothing(team: Team) -> None:
    viewer = team.clients["viewer"]
    me = await viewer.get("/api/v1/workflows")
    assert me.status_code == 200 and me.json()["count"] >= 1, me.text
    routes = [r for r in app_routes(team.settings) if r.authenticated]
    await settled(team.clients["owner"], team.settings)
    before = await workspace_rows(team.settings, team.workspace_id)
    problems: list[str] = []
    writes = 0
    for route in routes:
        _, _, r = await call(viewer, route, team.ids)
        if route.key in PERSONAL:
            if r.status_code >= 300:
                problems.append(f"{route.key}: a viewer acting on their own account got {r.status_code} {r.text[:300]}")
        elif route.key in MANAGER_READS:
            if r.status_code != 403:
                problems.append(f"{route.key}: a viewer reading a manager's view got {r.status_code} {r.text[:300]}")
        elif route.writes:
            writes += 1
            if r.status_code != 403 or r.json()["error"]["code"] != "AUTH_003":
                problems.append(f"{route.key}: a viewer got {r.status_code} {r.text[:300]}")
        elif r.status_code != 200:
            problems.append(f"{route.key}: a viewer reading got {r.status_code} {r.text[:300]}")
    assert writes >= 50  # the enumeration found the app's state-changing routes
    await settled(team.clients["owner"], team.settings)
    changed = changed_tables(before, await workspace_rows(team.settings, team.workspace_id))
    # The viewer's own profile and preferences (PERSONAL) are theirs to change: their own
    # row of `users` may differ, nobody else's.
    me = (await viewer.get("/api/v1/users/profile")).json()["id"]
    users = changed.get("users", {"gone": [], "new": []})
    if all(f"('id', '{me}')" in row for row in users["gone"] + users["new"]):
        changed.pop("users", None)
    problems += [f"{table} changed: {rows}"[:1500] for table, rows in changed.items()]
    assert not problems, "\n".join(problems)


async def _created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, f"{path}: {r.status_code} {r.text}"
    return dict(r.json())


@pytest.mark.parametrize("role", ["editor", "admin", "owner"])
async def test_editors_admins_and_owners_write_definitions(team: Team, role: str) -> None:
    client = team.clients[role]
    v1 = "/api/v1"
    workflow = await _created(client, f"{v1}/workflows", {
        "name": f"{role}'s workflow", "trigger_type": "manual",
        "nodes": [{"id": "trigger", "node_type": "trigger"},
                  {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": role}}],
        "edges": [{"source_node": "trigger", "target_node": "tag"}],
    })
    wid = workflow["id"]
    assert workflow["created_by"].startswith(role), workflow
    patched = await client.patch(f"{v1}/workflows/{wid}", json={"description": f"edited by {role}"})
    assert patched.status_code == 200 and patched.json()["description"] == f"edited by {role}", patched.text
    await _created(client, f"{v1}/workflows/{wid}/nodes", {"id": "note", "node_type": "action",
                                                            "config": {"action_type": "add_note", "note": role}})
    await _created(client, f"{v1}/workflows/{wid}/edges", {"source_node": "tag", "target_node": "note"})
    trigger = await _created(client, f"{v1}/triggers", {"name": f"{role} trigger", "trigger_type": "event",
                                                        "event_type": "ROLE_EVENT"})
    action = await _created(client, f"{v1}/actions", {"name": f"{role} action", "action_type": "add_tag",
                                                      "configuration": {"tag_name": role}, "workflow": wid})
    condition = await _created(client, f"{v1}/conditions", {
        "name": f"{role} condition", "conditions": [{"field": "event.data.n", "operator": "equals", "value": 1}]})
    integration = await _created(client, f"{v1}/integrations", {
        "name": f"{role} smtp", "type": "email", "provider": "smtp",
        "configuration": {"host": "smtp.example.com", "from_email": f"{role}@fluxo.test"}})
    webhook = await _created(client, f"{v1}/webhooks", {"name": f"{role} hook", "workflow_id": wid})
    linked = await client.post(f"{v1}/workflows/{wid}/add_trigger", json={"trigger_id": trigger["id"]})
    assert linked.status_code == 200, linked.text
    activated = await client.post(f"{v1}/workflows/{wid}/activate")
    assert activated.status_code == 200, activated.text
    started = await client.post(f"{v1}/workflows/{wid}/execute", json={"input_data": {"by": role}})
    assert started.status_code == 202, started.text
    for path in (f"webhooks/{webhook['id']}", f"integrations/{integration['id']}", f"conditions/{condition['id']}",
                 f"actions/{action['id']}", f"triggers/{trigger['id']}", f"workflows/{wid}"):
        gone = await client.delete(f"{v1}/{path}")
        assert gone.status_code == 204, f"{path}: {gone.text}"
        assert (await client.get(f"{v1}/{path}")).status_code == 404
