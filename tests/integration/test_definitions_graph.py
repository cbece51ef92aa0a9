# ruff: noqa: F811 - pytest fixtures imported by name
"""Definitions over the real pipeline: workflow edits and versions, the node/edge graph,
validation and activation, catalogs, and bad input that never writes anything."""

from __future__ import annotations

from typing import Any

import httpx
import pytest_asyncio
from pipeline import Sink, api, create_active, executions_of, isolated_settings, sink, wait_status  # noqa: F401 - fixtures

from infra.settings import Settings

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}
W = "/api/v1/workflows"


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    # A database of its own: the validation warnings depend on which integrations the workspace has.
    return await isolated_settings(services)


def hook(node_id: str, url: str) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "node_type": "action", "config": {"action_type": "webhook", "url": url, "method": "POST"}}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source_node": source, "target_node": target, **extra}


async def version_of(api: httpx.AsyncClient, workflow_id: str) -> int:
    r = await api.get(f"{W}/{workflow_id}")
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


async def created(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.post(W, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_put_and_patch_bump_the_version_and_old_versions_stay_readable(api: httpx.AsyncClient, sink: Sink) -> None:
    w = await created(api, {"name": "edited", "trigger_type": "manual", "nodes": [TRIGGER, hook("a", sink.url("a"))],
                            "edges": [edge("trigger", "a")], "settings": {"timeout_seconds": 100, "max_retries": 2}})
    wid = w["id"]
    patched = await api.patch(f"{W}/{wid}", json={"description": "now described", "settings": {"timeout_seconds": 600}})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["version"] == 2 and body["description"] == "now described"
    assert body["settings"]["timeout_seconds"] == 600 and body["settings"]["max_retries"] == 2  # PATCH merges settings
    put = await api.put(f"{W}/{wid}", json={"name": "edited v3", "settings": {"timeout_seconds": 50}})
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 3 and put.json()["settings"]["max_retries"] == 0  # PUT replaces settings whole
    assert put.json()["description"] == "now described" and len(put.json()["nodes"]) == 2  # fields left out keep their value
    # A no-op edit writes nothing.
    assert (await api.patch(f"{W}/{wid}", json={"name": "edited v3"})).json()["version"] == 3
    old = (await api.get(f"{W}/{wid}", params={"version": 1})).json()
    assert old["version"] == 1 and old["name"] == "edited" and old["settings"]["timeout_seconds"] == 100
    assert (await api.get(f"{W}/{wid}", params={"version": 9})).status_code == 404
    # Unknown fields and bad values: 422 naming the field, nothing written.
    for bad, field in (({"name": "x", "colour": "red"}, "colour"), ({"status": "sleeping"}, "status"),
                       ({"trigger_type": "telepathy"}, "trigger_type"), ({"settings": {"max_retries": 99}}, "settings.max_retries"),
                       ({"name": None}, "name"), ({"max_executions": -1}, "max_executions"),
                       ({"nodes": [{"id": "bad id!", "node_type": "action"}]}, "nodes.0.id"),
                       ({"edges": [edge("trigger", "ghost")]}, "edges.0.target_node"),
                       ({"start_date": "2025-02-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"}, "end_date")):
        r = await api.patch(f"{W}/{wid}", json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "AUTO_007" and field in r.json()["error"]["fields"], (bad, r.json())
    assert (await api.put(f"{W}/{wid}", json={"description": "no name"})).json()["error"]["fields"] == {"name": "Field required"}
    bad_json = await api.patch(f"{W}/{wid}", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422
    assert (await api.patch(f"{W}/ghost", json={"name": "x"})).status_code == 404
    assert await version_of(api, wid) == 3
    # Status moves only along the transitions, and an active workflow must validate.
    assert (await api.patch(f"{W}/{wid}", json={"status": "scheduled"})).status_code == 422
    assert (await api.patch(f"{W}/{wid}", json={"status": "paused"})).status_code == 409
    active = await api.patch(f"{W}/{wid}", json={"status": "active"})
    assert active.status_code == 200 and active.json()["status"] == "active" and active.json()["version"] == 4
    broken = await api.patch(f"{W}/{wid}", json={"nodes": [TRIGGER, hook("a", sink.url("a")), hook("b", sink.url("b"))]})
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "AUTO_002", broken.text
    assert await version_of(api, wid) == 4


async def test_an_execution_keeps_the_version_it_started_on(api: httpx.AsyncClient, sink: Sink) -> None:
    wid = await create_active(api, {"name": "pinned", "trigger_type": "manual",
                                    "nodes": [TRIGGER, {"id": "wait", "node_type": "delay", "config": {"delay_seconds": 2}}, hook("a", sink.url("v1"))],
                                    "edges": [edge("trigger", "wait"), edge("wait", "a")]})
    run = (await api.post(f"{W}/{wid}/execute", json={"input_data": {}})).json()
    assert run["workflow_version"] == 2
    r = await api.put(f"{W}/{wid}/nodes/a", json={"name": "a", "config": {"action_type": "webhook", "url": sink.url("v2")}})
    assert r.status_code == 200 and r.json()["workflow_version"] == 3, r.text
    done = await wait_status(api, run["execution_id"], "completed")
    assert done["workflow"]["version"] == 2
    assert [c.path for c in sink.calls] == ["/v1"]
    again = (await api.post(f"{W}/{wid}/execute", json={"input_data": {}})).json()
    await wait_status(api, again["execution_id"], "completed")
    assert [c.path for c in sink.calls] == ["/v1", "/v2"]
    stats = (await api.get(f"{W}/{wid}/nodes/a")).json()["execution_statistics"]
    assert stats["executions_count"] == 2 and stats["success_count"] == 2 and stats["failure_count"] == 0
    assert stats["average_execution_time_ms"] >= 0 and stats["last_executed"] is not None
    assert (await api.get(f"{W}/{wid}/nodes/trigger")).json()["execution_statistics"]["executions_count"] == 2


async def test_list_filters_search_ordering_and_pages(api: httpx.AsyncClient) -> None:
    for name, project, trigger in (("Zeta alpha", "p-list", "manual"), ("Alpha beta", "p-list", "webhook"), ("Mid gamma", "p-list", "manual")):
        await created(api, {"name": name, "project": project, "trigger_type": trigger, "description": "listed"})

    async def names(**params: Any) -> list[str]:
        r = await api.get(W, params={"project": "p-list", **params})
        assert r.status_code == 200, r.text
        return [x["name"] for x in r.json()["results"]]

    assert await names(ordering="name") == ["Alpha beta", "Mid gamma", "Zeta alpha"]
    assert await names(ordering="-name") == ["Zeta alpha", "Mid gamma", "Alpha beta"]
    assert await names() == ["Mid gamma", "Alpha beta", "Zeta alpha"]  # default: -updated_at
    assert await names(ordering="created_at") == ["Zeta alpha", "Alpha beta", "Mid gamma"]
    assert await names(trigger_type="webhook") == ["Alpha beta"]
    assert await names(search="ALPHA", ordering="name") == ["Alpha beta", "Zeta alpha"]
    assert await names(status="draft", ordering="name") == ["Alpha beta", "Mid gamma", "Zeta alpha"]
    assert await names(status="active") == []
    page = (await api.get(W, params={"project": "p-list", "ordering": "name", "page": 2, "page_size": 2})).json()
    assert page["count"] == 3 and [x["name"] for x in page["results"]] == ["Zeta alpha"] and page["next"] is None and page["previous"]
    for params, field in (({"ordering": "colour"}, "ordering"), ({"status": "sleeping"}, "status"),
                          ({"trigger_type": "x"}, "trigger_type"), ({"page_size": 0}, "page_size")):
        r = await api.get(W, params=params)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], r.text


async def test_nodes_and_edges_one_by_one(api: httpx.AsyncClient, sink: Sink) -> None:
    wid = (await created(api, {"name": "graph", "trigger_type": "webhook"}))["id"]
    t = await api.post(f"{W}/{wid}/nodes", json={"name": "Trigger", "node_type": "trigger", "position": {"x": 50, "y": 100}})
    assert t.status_code == 201, t.text
    trigger = t.json()
    assert trigger["workflow"] == wid and trigger["tracking_id"] == trigger["id"] and trigger["workflow_version"] == 2
    check = (await api.post(f"{W}/{wid}/nodes", json={
        "id": "check", "name": "Vérifier Client", "node_type": "condition", "position": {"x": 100, "y": 50},
        "config": {"condition": "input_data.client_exists == true"},
        "inputs": [{"name": "client_data", "type": "object", "required": True}],
        "outputs": [{"name": "validation_result", "type": "boolean"}]})).json()
    assert check["inputs"][0]["required"] is True and check["created_at"]
    mail = (await api.post(f"{W}/{wid}/nodes", json={"id": "task", "name": "Créer Tâche", "node_type": "action",
                                                     "config": {"action_type": "create_record", "table": "taches", "data": {"t": "x"}}})).json()
    e1 = await api.post(f"{W}/{wid}/edges", json={"source_node": trigger["id"], "target_node": "check"})
    assert e1.status_code == 201, e1.text
    e2 = (await api.post(f"{W}/{wid}/edges", json={"source_node": "check", "target_node": "task", "condition": "input_data.ok == true",
                                                   "label": "Client valide", "style": {"color": "#10B981"}})).json()
    assert e2["style"] == {"color": "#10B981"} and e2["workflow"] == wid
    listed = (await api.get(f"{W}/{wid}/edges")).json()
    assert listed["count"] == 2
    assert [n["id"] for n in (await api.get(f"{W}/{wid}/nodes")).json()["results"]] == [trigger["id"], "check", "task"]
    v = await version_of(api, wid)
    # Refused, nothing written: dangling refs, duplicates, self-loops, unknown enums, unknown fields.
    for body, field in (({"source_node": "check", "target_node": "ghost"}, "target_node"),
                        ({"source_node": "ghost", "target_node": "task"}, "source_node"),
                        ({"source_node": "check", "target_node": "task", "condition": "input_data.ok == true", "label": "Client valide"}, "target_node"),
                        ({"source_node": "task", "target_node": "task"}, "target_node"),
                        ({"source_node": "check", "target_node": "task", "weight": 3}, "weight")):
        r = await api.post(f"{W}/{wid}/edges", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "AUTO_007", r.text
        assert field in r.json()["error"]["fields"], (body, r.json())
    for body, field in (({"node_type": "teleport"}, "node_type"), ({"node_type": "action", "id": "check"}, "id"),
                        ({"node_type": "action", "position": {"x": "left"}}, "position.x"), ({"node_type": "action", "colour": 1}, "colour"),
                        ({"node_type": "action", "name": "x" * 201}, "name")):
        r = await api.post(f"{W}/{wid}/nodes", json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
    assert (await api.put(f"{W}/{wid}/nodes/check", json={"name": "x", "node_type": "nope"})).status_code == 422
    assert (await api.get(f"{W}/{wid}/nodes/ghost")).status_code == 404
    assert (await api.delete(f"{W}/{wid}/edges/ghost")).status_code == 404
    assert await version_of(api, wid) == v
    # PUT replaces a node's fields (seed 004's body), PATCH merges its config.
    put = await api.put(f"{W}/{wid}/nodes/check", json={"name": "Vérifier Client VIP", "position": {"x": 120, "y": 60},
                                                          "config": {"condition": "input_data.client_exists == true && input_data.is_vip == true"}})
    assert put.status_code == 200 and put.json()["name"] == "Vérifier Client VIP" and put.json()["updated_at"], put.text
    patch = (await api.patch(f"{W}/{wid}/nodes/check", json={"config": {"true_path": "task"}})).json()
    assert patch["config"] == {"condition": "input_data.client_exists == true && input_data.is_vip == true", "true_path": "task"}
    got = (await api.get(f"{W}/{wid}/nodes/check")).json()
    assert got["execution_statistics"] == {"executions_count": 0, "success_count": 0, "failure_count": 0,
                                           "average_execution_time_ms": 0.0, "last_executed": None}
    # Deleting a node removes its edges.
    assert (await api.delete(f"{W}/{wid}/nodes/{mail['id']}")).status_code == 204
    assert [e["id"] for e in (await api.get(f"{W}/{wid}/edges")).json()["results"]] == [e1.json()["id"]]
    assert (await api.delete(f"{W}/{wid}/edges/{e1.json()['id']}")).status_code == 204
    assert (await api.get(f"{W}/{wid}/edges")).json()["count"] == 0
    assert await version_of(api, wid) == v + 4


async def test_graph_layout_paths_and_complexity(api: httpx.AsyncClient) -> None:
    w = await created(api, {"name": "shape", "trigger_type": "manual", "nodes": [
        TRIGGER, {"id": "c", "node_type": "condition", "config": {"condition": "input_data.ok == true"}},
        {"id": "yes", "node_type": "transform", "config": {"mapping": {"a": "1"}}},
        {"id": "no", "node_type": "transform", "config": {"mapping": {"a": "2"}}},
        {"id": "l", "node_type": "loop", "config": {"items": "input_data.items"}},
        {"id": "each", "node_type": "transform", "config": {}}],
        "edges": [edge("trigger", "c"), edge("c", "yes", label="true"), edge("c", "no", label="false"),
                  edge("yes", "l"), edge("l", "each", label="body"), edge("each", "l")]})
    g = (await api.get(f"{W}/{w['id']}/graph")).json()
    assert g["workflow"] == {"id": w["id"], "name": "shape", "status": "draft", "version": 1}
    assert [n["type"] for n in g["nodes"]] == ["trigger", "condition", "transform", "transform", "loop", "transform"]
    assert g["edges"][1] == {"id": g["edges"][1]["id"], "source": "c", "target": "yes", "condition": None, "label": "true", "style": None}
    assert g["layout"]["algorithm"] == "depth"
    assert g["layout"]["positions"]["trigger"] == {"x": 50.0, "y": 50.0} and g["layout"]["positions"]["c"] == {"x": 250.0, "y": 50.0}
    assert g["nodes"][2]["position"] == {"x": 450.0, "y": 50.0} and g["nodes"][3]["position"] == {"x": 450.0, "y": 170.0}
    assert g["metadata"]["total_nodes"] == 6 and g["metadata"]["total_edges"] == 6
    assert g["metadata"]["execution_paths"] == 2  # trigger-c-yes-l, trigger-c-no (the loop body counts once)
    assert g["metadata"]["complexity_score"] == 6 - 6 + 2
    valid = (await api.get(f"{W}/{w['id']}/validate")).json()
    assert valid["is_valid"] is True and valid["validation_status"] == "valid" and valid["issues"] == []
    assert {c["check"] for c in valid["checks"]} >= {"nodes_connected", "no_circular_dependencies", "required_inputs", "integration_availability"}
    assert (await api.get(f"{W}/ghost/graph")).status_code == 404


async def test_validation_and_activation_refuse_a_broken_graph(api: httpx.AsyncClient, sink: Sink) -> None:
    w = await created(api, {"name": "broken", "trigger_type": "manual", "nodes": [
        TRIGGER, hook("a", sink.url("a")), hook("b", sink.url("b")), {"id": "h", "node_type": "http_request", "config": {}},
        {"id": "mail", "node_type": "action", "config": {"action_type": "send_email", "subject": "s", "body": "b", "integration": "nope"}}],
        "edges": [edge("trigger", "a"), edge("a", "b"), edge("b", "a"), edge("trigger", "mail")]})
    wid = w["id"]
    report = (await api.get(f"{W}/{wid}/validate")).json()
    assert report["is_valid"] is False and report["can_execute"] is False and report["validation_status"] == "invalid"
    found = {(i["code"], i["field"]) for i in report["issues"]}
    assert ("AUTO_003", "edges.1") in found
    assert ("AUTO_002", "nodes.3") in found
    assert ("AUTO_007", "nodes.3.config.url") in found
    assert ("AUTO_004", "nodes.4.config.integration") in found
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses["no_circular_dependencies"] == "failed" and statuses["references_valid"] == "passed"
    r = await api.post(f"{W}/{wid}/activate")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "AUTO_002" and {"edges.1", "nodes.3", "nodes.3.config.url", "nodes.4.config.integration"} <= set(error["fields"])
    assert await version_of(api, wid) == 1
    # Creating it active is refused the same way, and nothing is listed.
    again = await api.post(W, json={"name": "broken-active", "status": "active", "trigger_type": "manual",
                                    "nodes": [TRIGGER, hook("a", sink.url("a")), hook("b", sink.url("b"))],
                                    "edges": [edge("trigger", "a"), edge("a", "b"), edge("b", "a")]})
    assert again.status_code == 422 and again.json()["error"]["code"] == "AUTO_003"
    assert (await api.get(W, params={"search": "broken-active"})).json()["count"] == 0
    # Fixing the graph one call at a time makes it valid and activatable.
    back = next(e for e in (await api.get(f"{W}/{wid}/edges")).json()["results"] if e["source_node"] == "b")
    assert (await api.delete(f"{W}/{wid}/edges/{back['id']}")).status_code == 204
    assert (await api.delete(f"{W}/{wid}/nodes/h")).status_code == 204
    assert (await api.patch(f"{W}/{wid}/nodes/mail", json={"config": {"integration": None}})).status_code == 200
    report = (await api.get(f"{W}/{wid}/validate")).json()
    assert report["is_valid"] is True and report["validation_status"] == "valid_with_warnings", report
    assert report["warnings"][0]["type"] == "integration_missing" and report["warnings"][0]["node_id"] == "mail"
    assert (await api.post(f"{W}/{wid}/activate")).status_code == 200
    # An active workflow cannot be edited into an invalid one.
    r = await api.post(f"{W}/{wid}/edges", json={"source_node": "b", "target_node": "a"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "AUTO_003"


async def test_catalogs_and_single_node_tools(api: httpx.AsyncClient) -> None:
    categories = (await api.get("/api/v1/nodes/categories")).json()
    assert [c["name"] for c in categories["results"]] == ["AI", "Action", "Data", "Flow", "Core", "Human"]
    templates = (await api.get("/api/v1/nodes/templates")).json()["results"]
    assert {t["node_type"] for t in templates} == {"trigger", "action", "condition", "transform", "delay", "loop", "http_request", "database_query", "wait_for_event"}
    assert (await api.get("/api/v1/workflows/nodes/templates")).json()["results"] == templates  # seed 002's path
    assert [t["name"] for t in (await api.get("/api/v1/nodes/templates", params={"category": "flow"})).json()["results"]] == ["Condition", "Loop", "Delay", "Wait for event", "Wait"]
    triggers = {t["id"]: t["trigger_type"] for t in (await api.get("/api/v1/nodes/triggers")).json()["results"]}
    assert triggers["schedule"] == "cron" and {"manual", "webhook", "event", "api_call", "form"} <= set(triggers)
    schema = (await api.get("/api/v1/nodes/config-schema/http_request")).json()
    assert schema["kind"] == "node_type" and "url" in schema["schema"]["required"]
    email = (await api.get("/api/v1/workflows/nodes/config-schema/send_email")).json()
    assert email["kind"] == "action_type" and email["schema"]["properties"]["action_type"]["const"] == "send_email"
    assert (await api.get("/api/v1/nodes/config-schema/teleport")).status_code == 404
    ok = (await api.post("/api/v1/nodes/validate", json={"node_type": "delay", "config": {"duration": 2, "unit": "hours"}})).json()
    assert ok == {"node_type": "delay", "is_valid": True, "errors": []}
    bad = (await api.post("/api/v1/workflows/nodes/validate", json={"node_type": "action", "config": {"action_type": "webhook", "url": "ftp://x"}})).json()
    assert bad["is_valid"] is False and bad["errors"] == [{"field": "config.url", "message": "must be an http(s) URL"}]
    assert (await api.post("/api/v1/nodes/validate", json={"node_type": "warp"})).status_code == 422
    tested = (await api.post("/api/v1/nodes/test", json={"node_type": "condition", "config": {"condition": "input_data.amount > 100"},
                                                         "input_data": {"amount": 250}})).json()
    # A condition's boolean under `result` and seed 004's `validation_result` (issue 19 item 6).
    assert tested["success"] is True and tested["output"] == {"result": True, "validation_result": True} and tested["dry_run"] is True
    transform = (await api.post("/api/v1/nodes/test", json={"node_type": "transform", "config": {"mapping": {"hi": "Hello {{input_data.name}}"}},
                                                            "input_data": {"name": "Ada"}})).json()
    assert transform["output"] == {"hi": "Hello Ada"}
    hook_test = (await api.post("/api/v1/nodes/test", json={"node_type": "http_request", "config": {"url": "https://example.com/x"}})).json()
    assert hook_test["success"] is True and hook_test["output"]["dry_run"] is True
    refused = await api.post("/api/v1/nodes/test", json={"node_type": "http_request", "config": {}})
    assert refused.status_code == 422 and "config.url" in refused.json()["error"]["fields"]
    actions = (await api.get("/api/v1/action-templates")).json()
    assert actions["results"][0]["config_template"]["action_type"] == "send_email" and actions["results"][0]["required_inputs"]
    events = {e["code"]: e for e in (await api.get("/api/v1/event-types")).json()["results"]}
    assert {"MESSAGE_RECEIVED", "USER_CREATED", "TAG_ADDED", "ORDER_CREATED"} <= set(events)
    assert events["MESSAGE_RECEIVED"]["category"] == "message" and "content" in events["MESSAGE_RECEIVED"]["available_fields"]
    # The workflow routes still answer next to the aliases.
    assert (await api.get(f"{W}/nodes")).status_code == 404
