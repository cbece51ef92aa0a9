# ruff: noqa: F811 - pytest fixtures imported by name
"""Seed 004's conditions over the running pipeline, with the seed's own bodies (issue 19
items 5, 6 and 7): a missing input field, edges on `validation_result`, a PUT naming nodes
the workflow does not have."""

from __future__ import annotations

from typing import Any

import httpx
from pipeline import Sink, api, create_active, sink, wait_status  # noqa: F401 - fixtures

SHARE_PIPELINE = True

W = "/api/v1/workflows"
TRIGGER = {"id": "trigger", "name": "Trigger Client", "node_type": "trigger"}
# POST /workflows/{id}/execute/, as seed 004 writes it: no client_exists, no is_vip.
SEED_EXECUTE = {
    "input_data": {"client_id": 123, "client_email": "newclient@example.com", "client_name": "Nouveau Client"},
    "execution_context": {"triggered_by": "admin@company.com", "manual_execution": True},
}
# Seed 004's edges out of its condition ("GET /workflows/{id}/edges/").
SEED_EDGES = [
    {"source_node": "trigger", "target_node": "check"},
    {"source_node": "check", "target_node": "welcome", "condition": "validation_result == true", "label": "Client valide"},
    {"source_node": "check", "target_node": "task", "condition": "validation_result == false", "label": "Client invalide"},
]


def hook(node_id: str, name: str, sink: Sink, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "name": name, "node_type": "action",
            "config": {"action_type": "webhook", "url": sink.url(node_id), "method": "POST"}, **extra}


def seed_workflow(name: str, sink: Sink, check: dict[str, Any], edges: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": name, "trigger_type": "manual",
            "nodes": [TRIGGER, {"id": "check", "name": "Vérifier Client", "node_type": "condition", **check},
                      hook("welcome", "Envoyer Email Bienvenue", sink), hook("task", "Créer Tâche", sink)],
            "edges": SEED_EDGES if edges is None else edges}


def step(detail: dict[str, Any], node_id: str) -> dict[str, Any]:
    steps = [s for s in detail["execution_details"] if s["node_id"] == node_id]
    assert len(steps) == 1, detail["execution_details"]
    return steps[0]


async def run(api: httpx.AsyncClient, workflow_id: str, body: dict[str, Any], *statuses: str) -> dict[str, Any]:
    started = await api.post(f"{W}/{workflow_id}/execute/", json=body)
    assert started.status_code == 202, started.text
    return await wait_status(api, started.json()["execution_id"], *statuses)


async def test_item_5_seed_004_input_without_client_exists_runs_the_false_branch_and_says_why(api: httpx.AsyncClient, sink: Sink) -> None:
    # Seed 004's node as listed ("GET /workflows/{id}/nodes/"): its condition, its validation_result output.
    check = {"config": {"condition": "input_data.client_exists == true"},
             "inputs": [{"name": "client_data", "type": "object", "required": True}],
             "outputs": [{"name": "validation_result", "type": "boolean"}]}
    wid = await create_active(api, seed_workflow("Onboarding seed 004 (missing field)", sink, check))
    done = await run(api, wid, SEED_EXECUTE, "completed", "failed")
    assert done["status"] == "completed", done
    assert done["execution_path"] == ["trigger", "check", "task"]
    output = step(done, "check")["output_data"]
    assert output["result"] is False and output["validation_result"] is False
    assert output["missing_fields"] == ["input_data.client_exists"]
    assert [c.path for c in sink.calls] == ["/task"]
    # The same condition with the field present reads it and names nothing missing.
    present = await run(api, wid, {"input_data": {**SEED_EXECUTE["input_data"], "client_exists": True}}, "completed", "failed")
    assert present["execution_path"] == ["trigger", "check", "welcome"]
    assert "missing_fields" not in step(present, "check")["output_data"]


async def test_item_6_validation_result_edges_out_of_a_condition_without_outputs_are_followed(api: httpx.AsyncClient, sink: Sink) -> None:
    # Seed 004's graph ("GET /workflows/{id}/graph/"): a condition declaring no outputs.
    wid = await create_active(api, seed_workflow("Onboarding seed 004 (graph)", sink, {"config": {"condition": "input_data.client_exists == true"}}))
    done = await run(api, wid, {"input_data": {**SEED_EXECUTE["input_data"], "client_exists": True}}, "completed", "failed")
    assert done["status"] == "completed" and done["execution_path"] == ["trigger", "check", "welcome"], done
    assert [c.path for c in sink.calls] == ["/welcome"]
    report = (await api.get(f"{W}/{wid}/validate/")).json()
    assert report["is_valid"] is True and report["warnings"] == [], report


async def test_item_6_an_edge_naming_what_its_condition_cannot_output_is_a_validation_issue(api: httpx.AsyncClient, sink: Sink) -> None:
    edges = [SEED_EDGES[0], {**SEED_EDGES[1], "id": "edge-valid", "condition": "email_sent == true"}, SEED_EDGES[2]]
    created = await api.post(f"{W}/", json=seed_workflow("Onboarding seed 004 (bad edge)", sink, {"config": {"condition": "true"}}, edges))
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    report = (await api.get(f"{W}/{wid}/validate/")).json()
    assert report["is_valid"] is False
    assert [(i["code"], i["field"], i["edge_id"]) for i in report["issues"]] == [("AUTO_007", "edges.1.condition", "edge-valid")]
    activated = await api.post(f"{W}/{wid}/activate/")
    assert activated.status_code == 422 and "edges.1.condition" in activated.json()["error"]["fields"], activated.text


async def test_item_6_an_edge_that_cannot_be_evaluated_fails_the_execution_never_silently(api: httpx.AsyncClient, sink: Sink) -> None:
    # Seed 004's POST /edges/ body, out of an action whose output has no `email_sent`.
    created = await api.post(f"{W}/", json={"name": "Onboarding seed 004 (edge error)", "trigger_type": "manual",
                                           "nodes": [TRIGGER, hook("welcome", "Envoyer Email Bienvenue", sink), hook("follow", "Relance", sink)],
                                           "edges": [{"source_node": "trigger", "target_node": "welcome"}]})
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    added = await api.post(f"{W}/{wid}/edges/", json={"source_node": "welcome", "target_node": "follow", "condition": "email_sent == true",
                                                      "label": "Email envoyé", "style": {"color": "#3B82F6", "width": 2, "type": "solid"}})
    assert added.status_code == 201, added.text
    # Valid as far as a static check can tell: a worker's output may hold any name.
    assert (await api.post(f"{W}/{wid}/activate/")).status_code == 200
    done = await run(api, wid, SEED_EXECUTE, "completed", "failed")
    assert done["status"] == "failed", done
    assert done["failed_node"] == "welcome" and "email_sent" in done["error_message"], done
    assert added.json()["id"] in done["error_message"]
    assert step(done, "welcome")["status"] == "completed"  # its call happened; its edge is what failed
    assert [c.path for c in sink.calls] == ["/welcome"]


async def test_item_7_seed_004_node_put_naming_nodes_that_do_not_exist_is_refused_on_an_active_workflow(api: httpx.AsyncClient, sink: Sink) -> None:
    check = {"config": {"condition": "input_data.client_exists == true", "true_path": "welcome", "false_path": "task"}}
    wid = await create_active(api, seed_workflow("Onboarding seed 004 (paths)", sink, check,
                                                 [SEED_EDGES[0], {"source_node": "check", "target_node": "welcome"},
                                                  {"source_node": "check", "target_node": "task"}]))
    version = (await api.get(f"{W}/{wid}/")).json()["version"]
    # PUT /workflows/{id}/nodes/{node_id}/, seed 004's body.
    put = await api.put(f"{W}/{wid}/nodes/check/", json={
        "name": "Vérifier Client VIP", "position": {"x": 120, "y": 60},
        "config": {"condition": "input_data.client_exists == true && input_data.is_vip == true",
                   "true_path": "node-uuid-2", "false_path": "node-uuid-4"}})
    assert put.status_code == 422, put.text
    fields = put.json()["error"]["fields"]
    assert "nodes.1.config.true_path" in fields and "nodes.1.config.false_path" in fields, fields
    assert "node-uuid-2" in fields["nodes.1.config.true_path"]
    assert (await api.get(f"{W}/{wid}/")).json()["version"] == version  # nothing written
    # The workflow runs as it was: one branch, never both.
    done = await run(api, wid, {"input_data": {**SEED_EXECUTE["input_data"], "client_exists": True}}, "completed", "failed")
    assert done["execution_path"] == ["trigger", "check", "welcome"], done
    assert [c.path for c in sink.calls] == ["/welcome"]


async def test_item_7_validate_reports_a_dangling_path_on_a_draft(api: httpx.AsyncClient, sink: Sink) -> None:
    check = {"config": {"condition": "input_data.client_exists == true", "true_path": "node-uuid-2", "false_path": "task"}}
    created = await api.post(f"{W}/", json=seed_workflow("Onboarding seed 004 (draft paths)", sink, check,
                                                        [SEED_EDGES[0], {"source_node": "check", "target_node": "welcome"},
                                                         {"source_node": "check", "target_node": "task"}]))
    assert created.status_code == 201, created.text
    report = (await api.get(f"{W}/{created.json()['id']}/validate/")).json()
    assert report["is_valid"] is False
    assert [(i["code"], i["field"]) for i in report["issues"]] == [("AUTO_007", "nodes.1.config.true_path")]
    assert "node-uuid-2" in report["issues"][0]["message"]
