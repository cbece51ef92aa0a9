"""Every route of the API, enumerated from the app itself, and how to call each one on a
workspace's own resources: a value for each path parameter, a valid example body for each body.

tests/integration/test_tenancy.py and test_roles.py call every route through these tables.
A route they cannot fill (a path parameter missing from PARAMS, a body missing from BODIES,
a public route missing from PUBLIC) fails them loudly: extend the tables here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from conftest import wait_for
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pipeline import unread
from pydantic import TypeAdapter, ValidationError
from starlette.routing import compile_path

from api.app import create_app
from api.deps import get_principal
from infra.settings import Settings

Ids = dict[str, str]

# -- path parameters -----------------------------------------------------------------------
OWNED = "owned"  # a resource of the workspace: from another workspace, 404 (or 403)
SCOPE = "scope"  # a name each workspace has its own of (a website, a data table)
FIXED = "fixed"  # not workspace data (a catalog entry, a verb)

# name -> (kind, key in the seeded ids, or the value itself for FIXED)
PARAMS: dict[str, tuple[str, str]] = {
    "workflow_id": (OWNED, "workflow_id"),
    "node_id": (OWNED, "node_id"),
    "edge_id": (OWNED, "edge_id"),
    "trigger_id": (OWNED, "trigger_id"),
    "action_id": (OWNED, "action_id"),
    "condition_id": (OWNED, "condition_id"),
    "execution_id": (OWNED, "execution_id"),
    "contact_id": (OWNED, "contact_id"),
    "integration_id": (OWNED, "integration_id"),
    "webhook_id": (OWNED, "webhook_id"),
    "automation_id": (OWNED, "automation_id"),
    "token": (OWNED, "token"),
    "key_id": (OWNED, "api_key_id"),
    "entry_id": (OWNED, "audit_entry_id"),
    "workspace_id": (OWNED, "workspace_id"),
    "user_id": (OWNED, "member_user_id"),
    "website_id": (SCOPE, "website_id"),
    "table": (SCOPE, "table"),
    "node_type": (FIXED, "http_request"),
    "name": (FIXED, "fluxo.workflow.defined.v1"),
    "action": (FIXED, "activate"),
    # The console's files (api/routers/console.py): a built asset's name.
    "path": (FIXED, "console.js"),
}

# Routes that answer without a bearer token, and what each answers when called without one
# (test_tenancy asserts it). Anything else must need authentication.
PUBLIC: dict[str, int] = {
    "GET /openapi.json": 200,
    "GET /docs": 200,
    "GET /docs/oauth2-redirect": 200,
    "GET /redoc": 200,
    "GET /health": 200,
    "GET /api/health": 200,
    "GET /api/automation/health": 200,
    "GET /metrics": 200,
    "GET /api/automation/metrics": 200,
    # The console's page and files: they hold no data (the page calls the API with a token).
    "GET /console": 200,
    "GET /console/{path:path}": 200,
    "POST /api/v1/auth/login": 200,
    "POST /api/v1/auth/refresh": 200,
    # The token in the URL is the credential. The seeded hook takes POST only: other methods
    # are refused by the hook itself (405), not by authentication.
    "POST /api/v1/hooks/{token}": 202,
    "GET /api/v1/hooks/{token}": 405,
    "PUT /api/v1/hooks/{token}": 405,
    "PATCH /api/v1/hooks/{token}": 405,
    "POST /api/v1/webhooks/execute/{token}": 202,
    "GET /api/v1/webhooks/execute/{token}": 405,
    "PUT /api/v1/webhooks/execute/{token}": 405,
    "PATCH /api/v1/webhooks/execute/{token}": 405,
    "POST /api/v1/workflows/{workflow_id}/trigger": 202,
    # A provider's call to an integration: its signature with the webhook_secret is the
    # credential; the seeded integration has none, so it takes no calls.
    "POST /api/v1/integrations/{integration_id}/webhook": 409,
    # The invitation token is the credential; the seeded token is no invitation's.
    "POST /api/v1/invitations/{token}/accept": 404,
}

# Calls about the caller themselves: any signed-in person may make them, a viewer included
# (their own profile and preferences, their own new workspace, which workspace they act in).
PERSONAL = frozenset({
    "PUT /api/v1/users/profile",
    "PUT /api/v1/users/preferences",
    "POST /api/v1/workspaces",
    "POST /api/v1/auth/switch-workspace",
})

# Reads only owners and admins may make: machine keys and the audit log.
MANAGER_READS = frozenset({
    "GET /api/v1/api-keys",
    "GET /api/v1/audit-logs",
    "GET /api/v1/audit-logs/{entry_id}",
    "GET /api/v1/workspaces/{workspace_id}/invitations",
})

# POSTs that change nothing (pure checks of a body): a viewer may call them.
READ_ONLY_POSTS = frozenset({
    "POST /api/v1/nodes/validate",
    "POST /api/v1/workflows/nodes/validate",
    "POST /api/v1/nodes/test",
    "POST /api/v1/workflows/nodes/test",
})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: str
    params: tuple[str, ...]
    body: Any  # the body parameter's annotation; None when the route takes no body
    authenticated: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def writes(self) -> bool:
        return self.method != "GET" and self.key not in READ_ONLY_POSTS

    def owned(self) -> bool:
        return any(PARAMS.get(p, (OWNED, ""))[0] == OWNED for p in self.params)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def app_routes(settings: Settings) -> list[Route]:
    """Every (method, path) the app serves, from its own router (HEAD, which Starlette adds, left out)."""
    app = create_app(settings)
    routes: list[Route] = []
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        original = context.original_route
        api_route = original if isinstance(original, APIRoute) else None
        body = None
        authenticated = False
        if api_route is not None:
            body = api_route.body_field.field_info.annotation if api_route.body_field is not None else None
            authenticated = any(call is get_principal for call in _calls(api_route.dependant))
        for method in sorted(context.methods or ()):
            if method == "HEAD":
                continue
            routes.append(Route(
                method=method, path=path, endpoint=getattr(context.endpoint, "__name__", "?"),
                params=tuple(re.findall(r"\{(\w+)(?::\w+)?\}", path)), body=body, authenticated=authenticated,
            ))
    return routes


def handler_of(routes: list[Route], method: str, path: str) -> str | None:
    """The endpoint the app's router picks for a request: the first route, in the app's order,
    whose path pattern matches and which takes the method."""
    for route in routes:
        if route.method == method and compile_path(route.path)[0].match(path):
            return route.endpoint
    return None


class UnknownRoute(AssertionError):
    """The tables here do not say how to call this route: extend them."""


def fill(route: Route, ids: Ids) -> str:
    path = route.path
    for name in route.params:
        if name not in PARAMS:
            raise UnknownRoute(f"{route.key}: unknown path parameter {name!r}; add it to tests/routes.py PARAMS")
        kind, source = PARAMS[name]
        value = source if kind == FIXED else ids[source]
        path = re.sub(r"\{" + name + r"(?::\w+)?\}", value, path)
    return path


# -- example bodies ----------------------------------------------------------------------------
def _node_check(ids: Ids) -> dict[str, Any]:
    return {"node_type": "action", "config": {"action_type": "add_tag", "tag_name": "probe"}, "input_data": {"n": 1}}


def _automation_run(ids: Ids) -> dict[str, Any]:
    # The workspace's own workflow id: in another workspace it must not count as that workflow.
    return {"lead_id": f"lead-{uuid.uuid4().hex[:8]}", "workflow_id": ids["workflow_id"], "node_id": "probe",
            "config": {"subject": "probe", "body": "probe", "recipient": "probe@fluxo.test", "language": "python",
                       "code": "result = 1", "message": "probe", "to": "+15550000000"}}


def _test_context(ids: Ids) -> dict[str, Any]:
    return {"event_data": {"n": 1}}


_EDIT = {"name": "probe edit"}

# route key -> the example body, from the ids of the workspace the route is called on.
BODIES: dict[str, Callable[[Ids], Any]] = {
    "POST /api/v1/auth/switch-workspace": lambda ids: {"workspace_id": ids["workspace_id"]},
    "POST /api/v1/api-keys": lambda ids: {"name": "probe key", "role": "viewer"},
    "PUT /api/v1/users/profile": lambda ids: {"job_title": "probe"},
    "PUT /api/v1/users/preferences": lambda ids: {"theme": "dark"},
    "POST /api/v1/workspaces": lambda ids: {"name": "probe workspace"},
    "POST /api/v1/workspaces/{workspace_id}/members": lambda ids: {"email": "probe-member@fluxo.test", "role": "viewer"},
    # The seeded member is the workspace's only owner: demoting them is refused (409).
    "PATCH /api/v1/workspaces/{workspace_id}/members/{user_id}": lambda ids: {"role": "viewer"},
    "POST /api/v1/invitations/{token}/accept": lambda ids: {"password": "probe-password-1"},
    "POST /api/v1/workflows/{workflow_id}/execute": lambda ids: {"input_data": {"who": "probe"}},
    "POST /api/v1/workflows/{workflow_id}/test": lambda ids: {"test_data": {"who": "probe"}},
    "POST /api/v1/executions/{execution_id}/cancel": lambda ids: {"reason": "probe"},
    "POST /api/v1/workflow-executions/{execution_id}/cancel": lambda ids: {"reason": "probe"},
    "POST /api/v1/workflows/nodes/validate": _node_check,
    "POST /api/v1/nodes/validate": _node_check,
    "POST /api/v1/workflows/nodes/test": _node_check,
    "POST /api/v1/nodes/test": _node_check,
    "POST /api/v1/workflows/{workflow_id}/nodes": lambda ids: {
        "id": f"probe-{uuid.uuid4().hex[:8]}", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "p"}},
    "PUT /api/v1/workflows/{workflow_id}/nodes/{node_id}": lambda ids: {
        "name": "probe", "config": {"action_type": "create_record", "table": ids["table"], "data": {"p": 1}}},
    "PATCH /api/v1/workflows/{workflow_id}/nodes/{node_id}": lambda ids: dict(_EDIT),
    "POST /api/v1/workflows/{workflow_id}/edges": lambda ids: {
        "source_node": ids["node_id"], "target_node": ids["trigger_node_id"], "label": "probe"},
    "POST /api/v1/workflows/{workflow_id}/add_trigger": lambda ids: {"trigger_id": ids["trigger_id"], "priority": 5},
    "POST /api/v1/workflows/{workflow_id}/remove_trigger": lambda ids: {"trigger_id": ids["trigger_id"]},
    "POST /api/v1/workflows/{workflow_id}/add_action": lambda ids: {"action_id": ids["action_id"], "order": 3},
    "POST /api/v1/workflows/{workflow_id}/remove_action": lambda ids: {"action_id": ids["action_id"]},
    "POST /api/v1/auth/login": lambda ids: {"email": "nobody@fluxo.test", "password": "wrong"},
    "POST /api/v1/auth/refresh": lambda ids: {"refresh_token": "not-a-token"},
    "POST /api/v1/workflows": lambda ids: {
        "name": "probe workflow", "trigger_type": "manual",
        "nodes": [{"id": "trigger", "node_type": "trigger"},
                  {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "p"}}],
        "edges": [{"source_node": "trigger", "target_node": "tag"}]},
    "PUT /api/v1/workflows/{workflow_id}": lambda ids: {"name": "probe", "description": "probe"},
    "PATCH /api/v1/workflows/{workflow_id}": lambda ids: {"description": "probe"},
    # The seeded trigger's event type: a trigger of one workspace never sees another's events.
    "POST /api/v1/triggers/process_event": lambda ids: {
        "event_type": ids["event_type"], "user_id": f"probe-{uuid.uuid4().hex[:8]}", "data": {"n": 1}},
    "POST /api/v1/triggers/process_events": lambda ids: [
        {"event_type": ids["event_type"], "user_id": f"probe-{uuid.uuid4().hex[:8]}", "data": {"n": 1}},
        {"event_type": ids["event_type"], "user_id": f"probe-{uuid.uuid4().hex[:8]}", "data": {"n": 2}}],
    "POST /api/v1/triggers": lambda ids: {"name": "probe trigger", "trigger_type": "event", "event_type": "PROBE_EVENT"},
    "PUT /api/v1/triggers/{trigger_id}": lambda ids: {
        "name": "probe trigger", "trigger_type": "event", "event_type": "PROBE_EVENT"},
    "PATCH /api/v1/triggers/{trigger_id}": lambda ids: dict(_EDIT),
    "POST /api/v1/triggers/{trigger_id}/test": _test_context,
    "POST /api/v1/actions": lambda ids: {
        "name": "probe action", "action_type": "add_tag", "configuration": {"tag_name": "p"}, "workflow": ids["workflow_id"]},
    "PUT /api/v1/actions/{action_id}": lambda ids: {
        "name": "probe action", "action_type": "add_tag", "configuration": {"tag_name": "p"}},
    "PATCH /api/v1/actions/{action_id}": lambda ids: dict(_EDIT),
    "POST /api/v1/actions/{action_id}/test": _test_context,
    "POST /api/v1/conditions": lambda ids: {
        "name": "probe condition", "conditions": [{"field": "event.data.n", "operator": "equals", "value": 1}]},
    "PUT /api/v1/conditions/{condition_id}": lambda ids: {
        "name": "probe condition", "conditions": [{"field": "event.data.n", "operator": "equals", "value": 2}]},
    "PATCH /api/v1/conditions/{condition_id}": lambda ids: dict(_EDIT),
    "POST /api/v1/conditions/{condition_id}/test": _test_context,
    "POST /api/v1/integrations": lambda ids: {
        "name": "probe smtp", "type": "email", "provider": "smtp",
        "configuration": {"host": "smtp.example.com", "from_email": "probe@fluxo.test"}},
    "PUT /api/v1/integrations/{integration_id}": lambda ids: dict(_EDIT),
    "PATCH /api/v1/integrations/{integration_id}": lambda ids: dict(_EDIT),
    "POST /api/v1/webhooks": lambda ids: {"name": "probe hook", "workflow_id": ids["workflow_id"]},
    "PUT /api/v1/webhooks/{webhook_id}": lambda ids: dict(_EDIT),
    "PATCH /api/v1/webhooks/{webhook_id}": lambda ids: dict(_EDIT),
    "POST /api/v1/webhooks/{webhook_id}/test": lambda ids: {"body": {"n": 1}},
    "POST /api/v1/automation/email/send": _automation_run,
    "POST /api/v1/automation/whatsapp/send": _automation_run,
    "POST /api/v1/automation/google-sheets/process": _automation_run,
    "POST /api/v1/automation/code/execute": _automation_run,
    "POST /api/v1/websites/{website_id}/automations": lambda ids: {
        "name": "probe automation", "triggerType": "event", "triggerConfig": {"eventType": "PROBE_SITE"},
        "actions": [{"actionType": "add_tag", "actionConfig": {"tag_name": "p"}}], "isActive": False},
    "PUT /api/v1/websites/{website_id}/automations/{automation_id}": lambda ids: dict(_EDIT),
}

# Routes whose path parameter is also a free label any workspace may use for its own rows
# (seed 001's `workflowId`): another workspace gets 404/403, or only rows of its own.
OWN_LABELS = frozenset({"GET /api/v1/automation/workflow/{workflow_id}/logs"})

# Routes without a resource in their path whose example body names one of the workspace's
# resources: from another workspace they must be refused (403, 404 or 422).
BODY_REFERS_TO_OWNED = frozenset({"POST /api/v1/actions", "POST /api/v1/webhooks"})


def body_for(route: Route, ids: Ids) -> Any:
    """A valid body for the route (checked against its own model), or None when it takes none."""
    if route.body is None:
        return None
    make = BODIES.get(route.key)
    if make is None:
        raise UnknownRoute(f"{route.key}: no example body; add one to tests/routes.py BODIES")
    body = make(ids)
    try:
        TypeAdapter(route.body).validate_python(body)
    except ValidationError as exc:
        raise UnknownRoute(f"{route.key}: the example body is not valid: {exc}") from None
    return body


async def call(client: httpx.AsyncClient, route: Route, ids: Ids) -> tuple[str, Any, httpx.Response]:
    """Call `route` on the resources `ids` names: (the path called, the body sent, the answer)."""
    path = fill(route, ids)
    body = body_for(route, ids)
    if body is None:
        return path, None, await client.request(route.method, path)
    return path, body, await client.request(route.method, path, json=body)


# -- a workspace with one of everything ---------------------------------------------------------
async def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201)), f"{response.request.method} {response.request.url}: {response.text}"
    return dict(response.json())


async def seed_workspace(api: httpx.AsyncClient, settings: Settings) -> Ids:
    """One of every kind of resource in the caller's workspace; returns their ids (PARAMS' sources).

    Every id and name is fresh, so another workspace's answers can be searched for them.
    """
    tag = uuid.uuid4().hex[:10]
    ids: Ids = {
        "marker": f"tenant-{tag}", "node_id": f"rec-{tag}", "edge_id": f"edge-{tag}", "trigger_node_id": "trigger",
        "table": f"tbl_{tag}", "website_id": f"site-{tag}", "contact_id": f"contact-{tag}",
        "event_type": f"PROBE_{tag.upper()}",
    }
    v1 = "/api/v1"
    ids["integration_id"] = (await _ok(await api.post(f"{v1}/integrations", json={
        "name": f"{ids['marker']} smtp", "type": "email", "provider": "smtp",
        "configuration": {"host": "smtp.example.com", "from_email": "a@fluxo.test", "password": f"pw-{tag}"}})))["id"]
    nodes = [
        {"id": "trigger", "name": "Start", "node_type": "trigger"},
        {"id": ids["node_id"], "name": "Record", "node_type": "action",
         "config": {"action_type": "create_record", "table": ids["table"], "data": {"who": "{{input_data.who}}"}}},
    ]
    edges = [{"id": ids["edge_id"], "source_node": "trigger", "target_node": ids["node_id"]}]
    workflow = await _ok(await api.post(f"{v1}/workflows", json={
        "name": f"{ids['marker']} main", "trigger_type": "manual", "nodes": nodes, "edges": edges}), 201)
    ids["workflow_id"] = workflow["id"]
    await _ok(await api.post(f"{v1}/workflows/{ids['workflow_id']}/activate"))
    hooked = await _ok(await api.post(f"{v1}/workflows", json={
        "name": f"{ids['marker']} by url", "trigger_type": "webhook", "nodes": nodes, "edges": edges}), 201)
    ids["trigger_workflow_id"] = hooked["id"]
    ids["trigger_token"] = hooked["trigger_config"]["webhook_token"]
    await _ok(await api.post(f"{v1}/workflows/{hooked['id']}/activate"))
    started = await _ok(await api.post(f"{v1}/workflows/{ids['workflow_id']}/execute",
                                       json={"input_data": {"who": ids["marker"]}}), 202)
    ids["execution_id"] = started["execution_id"]
    ids["trigger_id"] = (await _ok(await api.post(f"{v1}/triggers", json={
        "name": f"{ids['marker']} trigger", "trigger_type": "event", "event_type": ids["event_type"]}), 201))["id"]
    await _ok(await api.post(f"{v1}/workflows/{ids['workflow_id']}/add_trigger", json={"trigger_id": ids["trigger_id"]}))
    ids["action_id"] = (await _ok(await api.post(f"{v1}/actions", json={
        "name": f"{ids['marker']} action", "action_type": "add_tag", "configuration": {"tag_name": "seeded"}}), 201))["id"]
    await _ok(await api.post(f"{v1}/workflows/{ids['workflow_id']}/add_action", json={"action_id": ids["action_id"]}))
    ids["condition_id"] = (await _ok(await api.post(f"{v1}/conditions", json={
        "name": f"{ids['marker']} condition", "conditions": [{"field": "event.data.n", "operator": "equals", "value": 1}]}),
        201))["id"]
    await _ok(await api.post(f"{v1}/triggers/process_event", json={
        "event_type": ids["event_type"], "user_id": ids["contact_id"], "data": {"email": f"{tag}@fluxo.test", "n": 1}}), 202)
    hook = await _ok(await api.post(f"{v1}/webhooks", json={"name": f"{ids['marker']} hook", "workflow_id": ids["workflow_id"]}),
                     201)
    ids["webhook_id"], ids["token"] = hook["id"], hook["token"]
    await _ok(await api.post(f"{v1}/hooks/{ids['token']}", json={"who": "hook"}), 202)
    ids["automation_id"] = (await _ok(await api.post(f"{v1}/websites/{ids['website_id']}/automations", json={
        "name": f"{ids['marker']} automation", "triggerType": "event", "triggerConfig": {"eventType": "PROBE_SITE"},
        "actions": [{"actionType": "add_tag", "actionConfig": {"tag_name": "site"}}], "isActive": False}), 201))["id"]

    async def seeded() -> bool:
        contact = await api.get(f"{v1}/contacts/{ids['contact_id']}")
        records = (await api.get(f"{v1}/tables/{ids['table']}/records")).json()
        return contact.status_code == 200 and records.get("count", 0) >= 1

    await wait_for(seeded, timeout=60, interval=0.2, what="the seeded contact and data record")
    me = await _ok(await api.get(f"{v1}/users/profile"))
    ids["workspace_id"], ids["member_user_id"] = me["workspace"]["id"], me["id"]
    ids["api_key_id"] = (await _ok(await api.post(f"{v1}/api-keys", json={
        "name": f"{ids['marker']} key", "role": "viewer"}), 201))["id"]

    async def audited() -> str | None:
        page = (await api.get(f"{v1}/audit-logs", params={"action": "api_keys.create"})).json()
        return str(page["results"][0]["id"]) if page.get("results") else None

    ids["audit_entry_id"] = await wait_for(audited, timeout=60, interval=0.2, what="an audit log entry")
    await settled(api, settings)
    return ids


async def settled(api: httpx.AsyncClient, settings: Settings, timeout: float = 90, *, runs: bool = True) -> None:
    """Every processor and the projection are alive and have read every record written so far,
    and (with `runs`) nothing of the caller's workspace still runs."""

    async def quiet() -> bool:
        health = await api.get("/health")
        if health.status_code != 200:
            return False
        if runs:
            running = await api.get("/api/v1/executions", params={"status": "running", "page_size": 1})
            if running.status_code != 200 or running.json()["count"]:
                return False
        behind = [
            (p["topic"], p["partition"], p["committed"], p["end_offset"])
            for view in health.json()["processors"].values() for p in view.get("partitions", []) if p["lag"]
        ]
        return not await unread(settings, behind)

    await wait_for(quiet, timeout=timeout, interval=0.2, what="processors and projection caught up")


def leaks(markers: set[str], sent: str, answer: str) -> list[str]:
    """The markers an answer shows that the request did not carry itself."""
    return sorted(m for m in markers if m in answer and m not in sent)
