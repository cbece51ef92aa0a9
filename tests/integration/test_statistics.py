# ruff: noqa: F811 - pytest fixtures imported by name
"""Statistics over two days of history, made by the real pipeline with an injected clock.

Day one runs every process with its clock at 10:00 UTC yesterday, day two at
12:00 UTC today (FLUXO_CLOCK_OFFSET_SECONDS). The mix: completed, failed,
cancelled and still-running executions. Every statistics endpoint is then
checked number by number, the log is replayed into a scratch schema and
compared, and retention prunes day one's detail while the counters stay.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import Sink, create_active, isolated_settings, running_pipeline, sink, wait_status  # noqa: F401 - fixtures

from infra.settings import Settings
from projections.replay import replay_check
from schemas.envelope import set_clock_offset

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


def _hook(node_id: str, url: str) -> dict[str, Any]:
    return {"id": node_id, "name": node_id.title(), "node_type": "action", "config": {"action_type": "webhook", "url": url}}


def _offset_to(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()


async def _day(api: httpx.AsyncClient, ids: dict[str, str], ok: int, failed: int, cancelled: int, running: int) -> dict[str, list[str]]:
    made: dict[str, list[str]] = {"ok": [], "fail": [], "wait": []}
    for n in range(ok):
        accepted = await api.post("/api/v1/triggers/process_event", json={"event_type": "STAT_OK", "user_id": f"u{n}", "data": {"n": n}})
        assert accepted.status_code == 202, accepted.text
    for _ in range(failed):
        r = await api.post(f"/api/v1/workflows/{ids['fail']}/execute", json={"input_data": {}})
        assert r.status_code == 202, r.text
        made["fail"].append(r.json()["execution_id"])
    for n in range(cancelled + running):
        r = await api.post(f"/api/v1/workflows/{ids['wait']}/execute", json={"input_data": {}})
        assert r.status_code == 202, r.text
        made["wait"].append(r.json()["execution_id"])
        if n < cancelled:
            # Cancel once the execution waits in its delay node.
            async def waiting(eid: str = r.json()["execution_id"]) -> bool:
                d = (await api.get(f"/api/v1/executions/{eid}")).json()
                return any(s["node_id"] == "pause" for s in d.get("execution_details", []))

            await wait_for(waiting, timeout=60, interval=0.1, what="execution waiting in its delay")
            assert (await api.post(f"/api/v1/executions/{r.json()['execution_id']}/cancel")).status_code == 200
    for eid in made["fail"]:
        await wait_status(api, eid, "failed")

    return made


async def _ok_completed(api: httpx.AsyncClient, workflow_id: str, count: int) -> None:
    async def done() -> bool:
        r = await api.get("/api/v1/executions", params={"workflow": workflow_id, "status": "completed"})
        return int(r.json()["count"]) == count

    await wait_for(done, timeout=60, interval=0.1, what=f"{count} completed executions")


async def test_statistics_over_two_days_replay_and_retention(settings: Settings, processes: Processes, sink: Sink) -> None:
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    noon_today = datetime.combine(today, time(12), tzinfo=UTC)
    ten_yesterday = datetime.combine(yesterday, time(10), tzinfo=UTC)
    sink.script["/broken"] = [500] * 10

    # -- day one: 10:00 UTC yesterday -------------------------------------------
    processes.env["FLUXO_CLOCK_OFFSET_SECONDS"] = str(_offset_to(ten_yesterday))
    async with running_pipeline(settings, processes) as (api, _):
        ids = {
            "ok": await create_active(api, {
                "name": "Alpha welcome", "trigger_type": "event", "trigger_config": {"event_type": "STAT_OK"},
                "nodes": [TRIGGER, _hook("notify", sink.url("ok"))], "edges": [{"source_node": "trigger", "target_node": "notify"}],
            }),
            "fail": await create_active(api, {
                "name": "Beta broken", "trigger_type": "manual",
                "nodes": [TRIGGER, _hook("call", sink.url("broken"))], "edges": [{"source_node": "trigger", "target_node": "call"}],
            }),
            "wait": await create_active(api, {
                "name": "Gamma patient", "trigger_type": "manual",
                "nodes": [TRIGGER, {"id": "pause", "name": "Pause", "node_type": "delay", "config": {"delay_seconds": 3600}},
                          _hook("later", sink.url("later"))],
                "edges": [{"source_node": "trigger", "target_node": "pause"}, {"source_node": "pause", "target_node": "later"}],
            }),
        }
        day_one = await _day(api, ids, ok=3, failed=1, cancelled=1, running=0)
        await _ok_completed(api, ids["ok"], 3)
    processes.stop_all()

    # -- day two: 12:00 UTC today ----------------------------------------------------
    processes.env["FLUXO_CLOCK_OFFSET_SECONDS"] = str(_offset_to(noon_today))
    async with running_pipeline(settings, processes) as (api, _):
        await _day(api, ids, ok=2, failed=2, cancelled=1, running=1)
        await _ok_completed(api, ids["ok"], 5)
        await _assert_statistics(api, ids, today, yesterday)
        await _assert_failed_detail(api, day_one["fail"][0])
        await _assert_logs(api, ids, today)

        report = await replay_check(settings)
        assert report.same, [t for t in report.tables if not t.same]
        assert report.records > 0

        # -- retention: keep one day; the projection prunes day one by itself ------
        processes.kill("projection")
        processes.start("projection", FLUXO_EXECUTION_RETENTION_DAYS="1", FLUXO_RETENTION_INTERVAL_SECONDS="0.5")

        async def pruned() -> bool:
            r = await api.get("/api/v1/executions")
            return int(r.json()["count"]) == 6

        await wait_for(pruned, timeout=60, interval=0.2, what="day one's executions pruned")
        assert (await api.get(f"/api/v1/executions/{day_one['fail'][0]}")).status_code == 404
        totals = (await api.get("/api/v1/workflows/statistics")).json()
        assert totals["total_executions"] == 11 and totals["failed_executions"] == 3  # counters stay
        events = (await api.get("/api/v1/event-logs", params={"event_type": "STAT_OK"})).json()
        assert events["count"] == 2

        # The check prunes its replay at the same cutoff, so the two still agree.
        set_clock_offset(_offset_to(noon_today))
        try:
            report = await replay_check(settings.model_copy(update={"execution_retention_days": 1}))
        finally:
            set_clock_offset(0)
        assert report.same, [t for t in report.tables if not t.same]


async def _get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    r = await api.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _assert_statistics(api: httpx.AsyncClient, ids: dict[str, str], today: date, yesterday: date) -> None:
    overall = await _get(api, "/api/v1/workflows/statistics")
    assert {k: overall[k] for k in (
        "total_workflows", "active_workflows", "draft_workflows", "paused_workflows", "total_executions",
        "recent_executions", "successful_executions", "failed_executions", "cancelled_executions", "running_executions",
    )} == {
        "total_workflows": 3, "active_workflows": 3, "draft_workflows": 0, "paused_workflows": 0,
        # day one: 3 ok, 1 failed, 1 cancelled; day two: 2 ok, 2 failed, 1 cancelled, 1 running
        "total_executions": 11, "recent_executions": 6, "successful_executions": 5, "failed_executions": 3,
        "cancelled_executions": 2, "running_executions": 1,
    }
    assert overall["failure_rate"] == 0.3 and overall["success_rate"] == 0.5

    ok = await _get(api, f"/api/v1/workflows/{ids['ok']}/statistics")
    s = ok["statistics"]
    assert (s["executions_total"], s["executions_today"], s["executions_this_week"]) == (5, 2, 5)
    assert (s["success_rate"], s["error_rate"], s["last_execution_status"]) == (1.0, 0.0, "completed")
    assert s["average_execution_time_seconds"] > 0
    perf = ok["performance"]
    assert 0 < perf["fastest_execution_seconds"] <= perf["average_execution_time_seconds"] <= perf["slowest_execution_seconds"]
    assert len(ok["usage_by_day"]) == 30
    assert ok["usage_by_day"][0] == {"date": today.isoformat(), "executions": 2, "successes": 2, "failures": 0, "cancelled": 0, "failure_rate": 0.0,
                                    "conversions": 0, "conversion_rate": 0.0}
    assert ok["usage_by_day"][1] == {"date": yesterday.isoformat(), "executions": 3, "successes": 3, "failures": 0, "cancelled": 0, "failure_rate": 0.0,
                                    "conversions": 0, "conversion_rate": 0.0}
    assert all(d["executions"] == 0 for d in ok["usage_by_day"][2:])
    notify = next(n for n in ok["nodes"] if n["node_id"] == "notify")
    assert (notify["node_name"], notify["executions_count"], notify["success_count"], notify["failure_count"]) == ("Notify", 5, 5, 0)
    assert notify["average_execution_time_ms"] > 0 and notify["last_executed"] is not None

    broken = (await _get(api, f"/api/v1/workflows/{ids['fail']}/statistics"))
    s = broken["statistics"]
    assert (s["executions_total"], s["executions_today"], s["failed_executions"], s["error_rate"]) == (3, 2, 3, 1.0)
    assert s["last_execution_status"] == "failed"
    call = next(n for n in broken["nodes"] if n["node_id"] == "call")
    assert (call["executions_count"], call["failure_count"], call["success_rate"]) == (3, 3, 0.0)

    patient = (await _get(api, f"/api/v1/workflows/{ids['wait']}/statistics"))["statistics"]
    assert (patient["executions_total"], patient["executions_today"], patient["cancelled_executions"]) == (3, 2, 2)
    assert (patient["success_rate"], patient["error_rate"]) == (0.0, 0.0)

    week = await _get(api, "/api/v1/dashboard/stats", period="7d")
    assert week["totals"]["executions"] == 11
    assert (week["totals"]["successes"], week["totals"]["failures"], week["totals"]["cancelled"]) == (5, 3, 2)
    assert week["totals"]["failure_rate"] == 0.3
    assert [d["date"] for d in week["series"][:2]] == [today.isoformat(), yesterday.isoformat()]
    assert (week["series"][0]["executions"], week["series"][0]["failures"], week["series"][0]["cancelled"]) == (6, 2, 1)
    assert (week["series"][1]["executions"], week["series"][1]["failures"], week["series"][1]["failure_rate"]) == (5, 1, 0.2)
    assert len(week["series"]) == 7 and all(d["executions"] == 0 for d in week["series"][2:])
    assert [w["executions"] for w in week["top_workflows"]] == [5, 3, 3]

    day = await _get(api, "/api/v1/dashboard/stats", period="24h")
    assert day["totals"]["executions"] == 6 and len(day["series"]) == 24
    noon = next(h for h in day["series"] if h["hour"].startswith(f"{today.isoformat()}T12:00"))
    assert noon["executions"] == 6 and noon["failures"] == 2

    overview = await _get(api, "/api/v1/dashboard/overview")
    assert overview["executions"]["total"] == 11 and overview["workflows"] == {"total": 3, "active": 3}
    assert overview["executions"]["this_month"] == (11 if yesterday.month == today.month else 6)
    assert overview["trial_info"]["plan"] == "trial" and len(overview["recent_executions"]) == 5

    by_runs = await _get(api, "/api/v1/dashboard/workflows", sort="executions", order="desc")
    assert by_runs["results"][0]["name"] == "Alpha welcome"
    by_name = await _get(api, "/api/v1/dashboard/workflows", sort="name", order="asc", search="e")
    assert [w["name"] for w in by_name["results"]] == ["Alpha welcome", "Beta broken", "Gamma patient"]
    assert by_name["results"][1]["failure_rate"] == 1.0
    bad = await api.get("/api/v1/dashboard/workflows", params={"sort": "password"})
    assert bad.status_code == 422 and "sort" in bad.json()["error"]["fields"]
    assert (await api.get("/api/v1/dashboard/stats", params={"period": "1y"})).status_code == 422
    assert (await api.get("/api/v1/dashboard/stats", params={"tz": "Mars/Olympus"})).status_code == 422
    assert (await api.get("/api/v1/workflows/ghost/statistics")).status_code == 404


async def _assert_failed_detail(api: httpx.AsyncClient, execution_id: str) -> None:
    detail = await _get(api, f"/api/v1/executions/{execution_id}")
    assert detail["status"] == "failed" and detail["failed_node"] == "call"
    assert detail["error_message"] and detail["execution_path"][0] == "trigger"
    assert detail["started_at"].startswith((datetime.now(UTC).date() - timedelta(days=1)).isoformat())
    call = [d for d in detail["execution_details"] if d["node_id"] == "call"]
    assert call and call[-1]["status"] == "failed" and call[-1]["error"]["message"]
    assert call[-1]["input_data"]["url"].endswith("/broken")
    assert detail["performance_metrics"]["total_nodes"] == 2
    assert (await _get(api, f"/api/v1/workflow-executions/{execution_id}")) == detail


async def _assert_logs(api: httpx.AsyncClient, ids: dict[str, str], today: date) -> None:
    failed = await _get(api, "/api/v1/workflow-executions", status="FAILED")
    assert failed["count"] == 3
    since = datetime.combine(today, time(0), tzinfo=UTC).isoformat()
    assert (await _get(api, "/api/v1/workflow-executions", created_at__gte=since))["count"] == 6
    assert (await api.get("/api/v1/workflow-executions", params={"status": "LOST"})).status_code == 422

    failures = await _get(api, "/api/v1/action-logs", success="false")
    assert failures["count"] == 3 and {r["action"] for r in failures["results"]} == {"call"}
    assert all(r["success"] is False and r["error"] for r in failures["results"])
    oks = await _get(api, "/api/v1/workflow-action-executions", workflow=ids["ok"], success="true")
    assert oks["count"] == 5 and oks["results"][0]["action_type"] == "webhook"

    events = await _get(api, "/api/v1/trigger-event-logs", event_type="STAT_OK")
    assert events["count"] == 5 and all(e["matched_workflows"] == 1 for e in events["results"])
    assert (await _get(api, "/api/v1/event-logs", user_id="u0"))["count"] == 2
    mine = await _get(api, f"/api/v1/workflows/{ids['ok']}/events", matched="true")
    assert mine["count"] == 5 and mine["results"][0]["triggered_executions"]
    assert (await _get(api, f"/api/v1/workflows/{ids['fail']}/events"))["count"] == 0
    runs = await _get(api, f"/api/v1/workflows/{ids['wait']}/executions", status="running")
    assert runs["count"] == 1
