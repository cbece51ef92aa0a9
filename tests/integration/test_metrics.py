# ruff: noqa: F811 - pytest fixtures imported by name
"""/metrics in Prometheus text format, read with the official parser, counters moving."""

from __future__ import annotations

import httpx
from pipeline import Sink, api, create_active, executions_of, sink, wait_status  # noqa: F401 - fixtures
from prometheus_client.parser import text_string_to_metric_families

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


async def _scrape(api: httpx.AsyncClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    r = await api.get("/metrics", headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


async def test_metrics_parse_and_count_connector_executions(api: httpx.AsyncClient, sink: Sink) -> None:
    sink.script["/bad"] = [400]
    created = await api.post("/api/v1/workflows", json={
        "name": "metered", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "call", "node_type": "action", "config": {"action_type": "webhook", "url": sink.url("{{input_data.path}}")}}],
        "edges": [{"source_node": "trigger", "target_node": "call"}],
    })
    workflow_id = created.json()["id"]
    before = await _scrape(api)
    for path in ("ok", "ok", "bad"):
        started = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {"path": path}})
        await wait_status(api, started.json()["execution_id"], "completed", "failed")
    after = await _scrape(api)
    key_ok = (("connector_type", "webhook"), ("status", "success"), ("workflow_id", workflow_id))
    key_bad = (("connector_type", "webhook"), ("status", "failure"), ("workflow_id", workflow_id))
    assert before.get("automation_executions_total", {}).get(key_ok, 0) == 0
    assert after["automation_executions_total"][key_ok] == 2
    assert after["automation_executions_total"][key_bad] == 1
    count_key = (("connector_type", "webhook"), ("workflow_id", workflow_id))
    assert after["automation_execution_duration_seconds_count"][count_key] == 3
    inf_key = (("connector_type", "webhook"), ("le", "+Inf"), ("workflow_id", workflow_id))
    assert after["automation_execution_duration_seconds_bucket"][inf_key] == 3
    assert "automation_queue_size" in after
    lags = after["fluxo_consumer_lag"]
    assert any(dict(k)["group"].endswith("fluxo.executor") for k in lags)
    assert (await api.get("/api/automation/health")).status_code == 200
    assert (await api.get("/queue/status")).json()["queue_size"] >= 0
