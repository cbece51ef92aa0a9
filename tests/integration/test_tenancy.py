"""The cross-tenant probe (issue 7): every route of the app, called with workspace B's token on
workspace A's resources, answers 404 or 403 and changes nothing of A; routes without A's ids
in their path never show them; public routes really answer without authentication.

Routes come from the app itself (tests/routes.py): a route or a path parameter the tables do
not know fails here, loudly, until the tables learn it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest_asyncio
from conftest import Processes
from pipeline import (
    add_person,
    add_workspace,
    changed_tables,
    client_with,
    isolated_settings,
    login_tokens,
    running_pipeline,
    workspace_ids,
    workspace_rows,
)
from routes import (
    BODY_REFERS_TO_OWNED,
    FIXED,
    OWN_LABELS,
    PARAMS,
    PUBLIC,
    Ids,
    Route,
    UnknownRoute,
    app_routes,
    body_for,
    call,
    fill,
    handler_of,
    leaks,
    seed_workspace,
    settled,
)

from api.app import create_app
from infra.settings import Settings


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    # Its own database: the before/after comparison reads whole tables.
    return await isolated_settings(services)


@dataclass
class World:
    settings: Settings
    owner: httpx.AsyncClient  # workspace A's owner
    intruder: httpx.AsyncClient  # workspace B's owner
    a: str
    b: str
    ids: Ids
    b_refresh_token: str
    b_email: str
    b_password: str

    async def markers(self) -> set[str]:
        """What must never show in B's answers: every id of A's rows, A's names, tokens and workspace."""
        seeded = {"token", "trigger_token", "node_id", "edge_id", "marker"}
        found = await workspace_ids(self.settings, self.a)
        return found | {self.ids[k] for k in seeded} | {self.a, self.settings.admin_email}


@pytest_asyncio.fixture(scope="module")
async def world(settings: Settings) -> AsyncIterator[World]:
    processes = Processes(settings)
    try:
        async with running_pipeline(settings, processes) as (owner, a):
            ids = await seed_workspace(owner, settings)
            b = await add_workspace(settings, "workspace B")
            email, password = f"b-{uuid.uuid4().hex[:8]}@fluxo.test", "b-password-123"
            await add_person(settings, workspace_id=b, email=email, role="owner", password=password)
            tokens = await login_tokens(owner, email, password)
            async with client_with(owner, tokens["access_token"]) as intruder:
                yield World(settings, owner, intruder, a, b, ids, tokens["refresh_token"], email, password)
    finally:
        processes.stop_all()


def test_every_route_can_be_called_from_the_tables(settings: Settings) -> None:
    """Fails loudly on a route the probe cannot fill: a new path parameter, a body without an
    example, a public route not listed (or a listed one that now needs authentication)."""
    routes = app_routes(settings)
    ids: Ids = {}
    # Every id seed_workspace provides: PARAMS' sources, and what bodies refer to.
    sources = {source for kind, source in PARAMS.values() if kind != FIXED}
    for name in sources | {"trigger_node_id", "event_type"}:
        ids[name] = f"x-{name}"
    problems: list[str] = []
    for route in routes:
        try:
            path = fill(route, ids)
            body_for(route, ids)
        except UnknownRoute as exc:
            problems.append(str(exc))
            continue
        # An earlier route with a broader pattern must not take this one's requests.
        if handler_of(routes, route.method, path) != route.endpoint:
            problems.append(f"{route.key} is shadowed by {handler_of(routes, route.method, path)}")
    public = {r.key for r in routes if not r.authenticated}
    for key in sorted(public - set(PUBLIC)):
        problems.append(f"{key} answers without authentication but is not in tests/routes.py PUBLIC")
    for key in sorted(set(PUBLIC) - public):
        problems.append(f"{key} is listed in PUBLIC but is not a public route of the app")
    assert not problems, "\n".join(problems)
    # The enumeration is the app's, not a list of ours: it sees the whole OpenAPI document too.
    documented = {f"{m.upper()} {p}" for p, ops in create_openapi(settings)["paths"].items() for m in ops}
    assert documented <= {r.key for r in routes}, documented - {r.key for r in routes}


def create_openapi(settings: Settings) -> dict[str, Any]:
    return create_app(settings).openapi()


async def test_public_routes_answer_without_authentication(world: World) -> None:
    anonymous = httpx.AsyncClient(base_url=str(world.owner.base_url), timeout=30)
    ids = dict(world.ids, workflow_id=world.ids["trigger_workflow_id"])
    bodies: dict[str, Any] = {
        "POST /api/v1/auth/login": {"email": world.b_email, "password": world.b_password},
        "POST /api/v1/auth/refresh": {"refresh_token": world.b_refresh_token},
        "POST /api/v1/invitations/{token}/accept": {"password": "probe-password-1"},
    }
    routes = {r.key: r for r in app_routes(world.settings)}
    wrong: list[str] = []
    async with anonymous:
        for key, expected in PUBLIC.items():
            route = routes[key]
            path = fill(route, ids)
            params = {"token": world.ids["trigger_token"]} if key.endswith("/trigger") else None
            kwargs: dict[str, Any] = {"params": params}
            if key in bodies:
                kwargs["json"] = bodies[key]
            elif route.method != "GET":
                kwargs["json"] = {"probe": True}
            r = await anonymous.request(route.method, path, **kwargs)
            if r.status_code != expected:
                wrong.append(f"{key}: {r.status_code} (expected {expected}) {r.text[:200]}")
    assert not wrong, "\n".join(wrong)


ATTEMPT_VIEWS = frozenset({"GET /api/v1/audit-logs"})


def _sent(path: str, body: Any) -> str:
    return path + (orjson.dumps(body).decode() if body is not None else "")


async def _probe(world: World, routes: list[Route], markers: set[str]) -> list[str]:
    problems: list[str] = []
    # B's audit log records B's own attempts, A's ids it sent included: there an id is a
    # leak only if B never sent it.
    sent_so_far = ""
    for route in routes:
        path, body, r = await call(world.intruder, route, world.ids)
        sent_so_far += _sent(path, body)
        if r.status_code >= 500:
            problems.append(f"{route.key}: {r.status_code} {r.text[:300]}")
        elif route.owned() and r.status_code not in ((200, 403, 404) if route.key in OWN_LABELS else (403, 404)):
            problems.append(f"{route.key} on A's ids answered {r.status_code}: {r.text[:300]}")
        elif route.key in BODY_REFERS_TO_OWNED and r.status_code not in (403, 404, 422):
            problems.append(f"{route.key} naming A's resources answered {r.status_code}: {r.text[:300]}")
        sent = sent_so_far if route.key in ATTEMPT_VIEWS else _sent(path, body)
        shown = leaks(markers, sent, r.text)
        if shown:
            problems.append(f"{route.key} shows A's {shown}: {r.text[:300]}")
    return problems


async def test_workspace_b_reaches_nothing_of_workspace_a(world: World) -> None:
    routes = [r for r in app_routes(world.settings) if r.authenticated]
    await settled(world.owner, world.settings)
    before = await workspace_rows(world.settings, world.a)
    assert before["workflows"] and before["executions"] and before["data_records"] and before["contacts"], before
    markers = await world.markers()
    problems = await _probe(world, routes, markers)
    # What B's writes set off (executions, events, projections) must not reach A either:
    # once everything has settled, every read again, and A's rows compared.
    await settled(world.intruder, world.settings)
    await settled(world.owner, world.settings)
    problems += await _probe(world, [r for r in routes if r.method == "GET"], markers)
    after = await workspace_rows(world.settings, world.a)
    changed = changed_tables(before, after)
    problems += [f"A's {table} changed: {rows}"[:1500] for table, rows in changed.items()]
    assert not problems, "\n".join(problems)
    # B did get its own answers: the probe ran as a working user of another workspace.
    mine = await world.intruder.get("/api/v1/workflows")
    assert mine.status_code == 200 and mine.json()["count"] >= 1, mine.text


async def test_b_cannot_attach_a_s_resources_to_its_own(world: World) -> None:
    """Ids of A's resources in the bodies of B's own resources: refused like unknown ids."""
    b, ids, v1 = world.intruder, world.ids, "/api/v1"
    before = await workspace_rows(world.settings, world.a)
    created = await b.post(f"{v1}/workflows", json={
        "name": "B's own", "trigger_type": "manual", "nodes": [{"id": "trigger", "node_type": "trigger"}]})
    assert created.status_code == 201, created.text
    mine = created.json()["id"]
    hook = await b.post(f"{v1}/webhooks", json={"name": "B's hook", "workflow_id": mine})
    assert hook.status_code == 201, hook.text
    refused = {
        "add_trigger": await b.post(f"{v1}/workflows/{mine}/add_trigger", json={"trigger_id": ids["trigger_id"]}),
        "add_action": await b.post(f"{v1}/workflows/{mine}/add_action", json={"action_id": ids["action_id"]}),
        "webhook to A's workflow": await b.patch(f"{v1}/webhooks/{hook.json()['id']}",
                                                 json={"workflow_id": ids["workflow_id"]}),
        "action in A's workflow": await b.post(f"{v1}/actions", json={
            "name": "x", "action_type": "add_tag", "configuration": {"tag_name": "x"}, "workflow": ids["workflow_id"]}),
    }
    for what, r in refused.items():
        assert r.status_code in (404, 422), f"{what}: {r.status_code} {r.text}"
    linked = (await b.get(f"{v1}/workflows/{mine}")).json()
    assert linked["triggers"] == [] and linked["actions"] == []
    await settled(world.owner, world.settings)
    assert changed_tables(before, await workspace_rows(world.settings, world.a)) == {}
