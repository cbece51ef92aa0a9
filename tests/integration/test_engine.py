# ruff: noqa: F811 - pytest fixtures imported by name
"""The engine over real Kafka and PostgreSQL, every component a real process.

Covers the behaviours that only show with the real pipeline: two workflows on
one event, durable waits across a restart, retries with backoff into a
failure path, cancel, retry-from-node, and cron fires across a restart.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
from conftest import Processes, wait_for
from pipeline import Sink, api, create_active, execution, executions_of, sink, wait_status  # noqa: F401 - fixtures

# Each test makes its own workflows, so the module's tests share one running pipeline.
SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}


def hook(node_id: str, url: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "node_type": "action", "config": {"action_type": "webhook", "url": url, "method": "POST", **config}}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source_node": source, "target_node": target, **extra}


async def test_an_event_matching_two_workflows_starts_two_executions(api: httpx.AsyncClient, sink: Sink) -> None:
    ids = []
    for name in ("first", "second"):
        ids.append(await create_active(api, {
            "name": f"order created {name}", "trigger_type": "event", "trigger_config": {"event_type": "ORDER_CREATED"},
            "nodes": [TRIGGER, hook("notify", sink.url(name), payload={"order": "{{event.data.order_id}}"})],
            "edges": [edge("trigger", "notify")],
        }))
    r = await api.post("/api/v1/triggers/process_event", json={"event_type": "ORDER_CREATED", "user_id": "buyer-1", "data": {"order_id": "o-77"}})
    assert r.status_code == 202
    for workflow_id in ids:
        async def done(wf: str = workflow_id) -> list[dict[str, Any]] | None:
            runs = await executions_of(api, wf, status="completed")
            return runs or None
        runs = await wait_for(done, timeout=60, what="both executions complete")
        assert len(runs) == 1 and runs[0]["event_id"] == r.json()["event_log_id"]
    assert [c.body for c in sink.to("first")] == [{"order": "o-77"}]
    assert [c.body for c in sink.to("second")] == [{"order": "o-77"}]


async def test_a_two_second_wait_fires_once_across_a_processor_restart(api: httpx.AsyncClient, sink: Sink, processes: Processes) -> None:
    workflow_id = await create_active(api, {
        "name": "wait then call", "trigger_type": "event", "trigger_config": {"event_type": "WAIT_TEST"},
        "nodes": [TRIGGER, {"id": "wait", "name": "Wait", "node_type": "delay", "config": {"delay_seconds": 2}},
                  hook("after", sink.url("after"))],
        "edges": [edge("trigger", "wait"), edge("wait", "after")],
    })
    await api.post("/api/v1/triggers/process_event", json={"event_type": "WAIT_TEST", "user_id": "w-1"})

    async def waiting() -> dict[str, Any] | None:
        runs = await executions_of(api, workflow_id)
        if not runs:
            return None
        detail = await execution(api, runs[0]["id"])
        return detail if any(s["node_id"] == "wait" for s in detail["execution_details"]) else None

    detail = await wait_for(waiting, timeout=30, what="the wait to be scheduled")
    # Kill the timer service and the executor mid-wait, and bring them back before it is due.
    processes.kill("timers")
    processes.kill("executor")
    await asyncio.sleep(0.5)
    processes.start("timers")
    processes.start("executor")
    final = await wait_status(api, detail["id"], "completed", "failed", timeout=60)
    assert final["status"] == "completed", final
    assert final["execution_path"] == ["trigger", "wait", "after"]
    assert len(sink.to("after")) == 1
    wait_step = next(s for s in final["execution_details"] if s["node_id"] == "wait" and s["status"] == "completed")
    assert wait_step["output_data"]["waited_seconds"] == 2
    started = datetime.fromisoformat(final["started_at"])
    assert datetime.fromisoformat(final["completed_at"]) - started >= timedelta(seconds=2)
    # No second firing shows up later either: the timer state said it fired.
    sentinel = await create_active(api, {
        "name": "sentinel", "trigger_type": "event", "trigger_config": {"event_type": "SENTINEL"},
        "nodes": [TRIGGER, {"id": "wait", "node_type": "delay", "config": {"delay_seconds": 1}}, hook("s", sink.url("sentinel"))],
        "edges": [edge("trigger", "wait"), edge("wait", "s")],
    })
    await api.post("/api/v1/triggers/process_event", json={"event_type": "SENTINEL", "user_id": "w-1"})
    await wait_for(lambda: _completed(api, sentinel), timeout=30, what="sentinel")
    assert len(sink.to("after")) == 1


async def test_a_waiting_execution_of_a_deleted_workflow_finishes_on_its_version_after_an_executor_restart(
    api: httpx.AsyncClient, sink: Sink, processes: Processes,
) -> None:
    """The executor's state names the pinned snapshot; after a restart it comes from the executor's own
    changelog, since the definitions topic no longer has the workflow at all."""
    workflow_id = await create_active(api, {
        "name": "pinned then deleted", "trigger_type": "event", "trigger_config": {"event_type": "PINNED_TEST"},
        "nodes": [TRIGGER, {"id": "wait", "name": "Wait", "node_type": "delay", "config": {"delay_seconds": 4}},
                  hook("after", sink.url("pinned"), payload={"who": "{{user.id}}", "wf": "{{execution.workflow_id}}"})],
        "edges": [edge("trigger", "wait"), edge("wait", "after")],
    })
    await api.post("/api/v1/triggers/process_event", json={"event_type": "PINNED_TEST", "user_id": "p-1"})

    async def waiting() -> bool:
        runs = await executions_of(api, workflow_id)
        if not runs:
            return False
        detail = await execution(api, runs[0]["id"])
        return any(s["node_id"] == "wait" and s["status"] == "running" for s in detail["execution_details"])

    await wait_for(waiting, timeout=30, what="the wait to be scheduled")
    assert (await api.delete(f"/api/v1/workflows/{workflow_id}")).status_code == 204
    processes.kill("executor")
    processes.start("executor")
    async def called() -> bool:
        return bool(sink.to("pinned"))

    await wait_for(called, timeout=60, what="the deleted workflow's execution to call")
    await asyncio.sleep(1.0)  # a repeat would come right after
    assert [c.body for c in sink.to("pinned")] == [{"who": "p-1", "wf": workflow_id}]


async def _completed(api: httpx.AsyncClient, workflow_id: str) -> bool:
    return bool(await executions_of(api, workflow_id, status="completed"))


async def test_a_failing_webhook_is_retried_with_backoff_then_takes_the_failure_path(api: httpx.AsyncClient, sink: Sink) -> None:
    sink.script["/flaky"] = [503, 503, 503, 503]
    workflow_id = await create_active(api, {
        "name": "flaky crm", "trigger_type": "event", "trigger_config": {"event_type": "FLAKY"},
        "settings": {"retry_on_failure": True, "max_retries": 2, "retry_backoff_seconds": 0.4},
        "nodes": [TRIGGER, hook("crm", sink.url("flaky")), hook("after", sink.url("after")),
                  hook("fallback", sink.url("fallback"), payload={"code": "{{nodes.crm.error.code}}"})],
        "edges": [edge("trigger", "crm"), edge("crm", "after"), edge("crm", "fallback", label="error")],
    })
    await api.post("/api/v1/triggers/process_event", json={"event_type": "FLAKY", "user_id": "f-1"})

    async def finished() -> dict[str, Any] | None:
        runs = await executions_of(api, workflow_id)
        return runs[0] if runs and runs[0]["status"] != "running" else None

    summary = await wait_for(finished, timeout=60, what="flaky execution to finish")
    assert summary["status"] == "completed", summary
    calls = sink.to("flaky")
    assert [c.idempotency_key for c in calls] == [f"{summary['id']}:crm:{n}" for n in (1, 2, 3)]
    # Equal jitter: retry n waits at least half of 0.4 * 2^(n-1) seconds.
    assert calls[1].at - calls[0].at >= 0.2
    assert calls[2].at - calls[1].at >= 0.4
    assert [c.body for c in sink.to("fallback")] == [{"code": "HTTP_503"}]
    assert sink.to("after") == []
    detail = await execution(api, summary["id"])
    crm = [s for s in detail["execution_details"] if s["node_id"] == "crm"]
    assert [(s["attempt"], s["status"]) for s in crm] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert crm[0]["retry_at"] is not None and crm[2]["retry_at"] is None
    assert detail["execution_path"] == ["trigger", "crm", "fallback"]


async def test_cancel_stops_a_waiting_execution_and_its_timer(api: httpx.AsyncClient, sink: Sink) -> None:
    body = {
        "name": "slow follow-up", "trigger_type": "manual",
        "nodes": [TRIGGER, {"id": "wait", "node_type": "delay", "config": {"delay_seconds": 2}}, hook("follow", sink.url("follow"), payload={"who": "{{input_data.who}}"})],
        "edges": [edge("trigger", "wait"), edge("wait", "follow")],
    }
    created = await api.post("/api/v1/workflows", json=body)
    workflow_id = created.json()["id"]
    first = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {"who": "cancelled"}})
    assert first.status_code == 202, first.text
    execution_id = first.json()["execution_id"]
    assert (await execution(api, execution_id))["status"] == "running"

    cancelled = await api.post(f"/api/v1/executions/{execution_id}/cancel", json={"reason": "customer replied"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = await api.post(f"/api/v1/executions/{execution_id}/cancel")
    assert again.status_code == 409

    # A second run started after the cancel completes only after the first one's
    # wait would have fired: by then a leaked timer would have called /follow too.
    second = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {"who": "kept"}})
    await wait_status(api, second.json()["execution_id"], "completed", timeout=30)
    assert [c.body for c in sink.to("follow")] == [{"who": "kept"}]
    detail = await execution(api, execution_id)
    assert detail["status"] == "cancelled" and detail["cancel_reason"] == "customer replied"
    # The wait the cancel interrupted is cancelled too, not "running" for ever (seed issue 9).
    steps = {d["node_id"]: d for d in detail["execution_details"]}
    assert steps["wait"]["status"] == "cancelled", steps
    assert steps["wait"]["completed_at"] is not None and steps["wait"]["duration_seconds"] >= 0
    assert steps["trigger"]["status"] == "completed"
    assert "follow" not in steps
    assert (await api.post("/api/v1/executions/no-such-id/cancel")).status_code == 404


async def test_retry_starts_from_the_failed_node_with_the_original_context(api: httpx.AsyncClient, sink: Sink) -> None:
    sink.script["/b"] = [400]  # a non-retryable failure the first time only
    body = {
        "name": "three steps", "trigger_type": "manual",
        "nodes": [TRIGGER, hook("a", sink.url("a")), hook("b", sink.url("b"), payload={"prev": "{{nodes.a.body.n}}", "who": "{{input_data.who}}"}),
                  hook("c", sink.url("c"))],
        "edges": [edge("trigger", "a"), edge("a", "b"), edge("b", "c")],
    }
    workflow_id = (await api.post("/api/v1/workflows", json=body)).json()["id"]
    started = await api.post(f"/api/v1/workflows/{workflow_id}/execute", json={"input_data": {"who": "ada"}})
    original = await wait_status(api, started.json()["execution_id"], "completed", "failed")
    assert original["status"] == "failed" and original["failed_node"] == "b"
    # The sink answered A with {"n": 1}: B's payload uses it, in both runs.
    assert sink.calls[0].path == "/a"

    retry = await api.post(f"/api/v1/executions/{started.json()['execution_id']}/retry")
    assert retry.status_code == 202, retry.text
    assert retry.json()["resume_from"] == "b"
    again = await wait_status(api, retry.json()["execution_id"], "completed", "failed")
    assert again["status"] == "completed", again
    assert again["retry_of"] == original["id"] and again["resume_from"] == "b"
    assert again["execution_path"] == ["trigger", "a", "b", "c"]
    assert len(sink.to("a")) == 1, "the node before the failure must not run again"
    assert [c.body for c in sink.to("b")] == [{"prev": 1, "who": "ada"}] * 2
    assert len(sink.to("c")) == 1
    assert (await execution(api, original["id"]))["retried_by"] == [again["id"]]
    assert (await api.post(f"/api/v1/executions/{again['id']}/retry")).status_code == 409


async def test_a_per_second_cron_fires_each_time_once_across_a_restart(api: httpx.AsyncClient, sink: Sink, processes: Processes) -> None:
    workflow_id = await create_active(api, {
        "name": "every second", "trigger_type": "cron", "trigger_config": {"schedule": "* * * * * *"},
        "nodes": [TRIGGER, hook("tick", sink.url("tick"), payload={"at": "{{input_data.scheduled_time}}"})],
        "edges": [edge("trigger", "tick")],
    })
    await wait_for(lambda: _at_least(sink, "tick", 3), timeout=30, what="three cron fires")
    processes.kill("timers")
    before = len(sink.to("tick"))

    async def scheduler_gone() -> bool:
        # The broker drops the killed member once its session expires: by then
        # several fire times have passed with no scheduler running.
        timers = (await api.get("/health")).json()["processors"]["timers"]
        return timers.get("members") == 0

    await wait_for(scheduler_gone, timeout=60, interval=0.5, what="the broker to drop the killed scheduler")
    processes.start("timers")
    await wait_for(lambda: _at_least(sink, "tick", before + 5), timeout=60, what="fires after the restart")
    r = await api.post(f"/api/v1/workflows/{workflow_id}/deactivate")
    assert r.status_code == 200

    async def settled() -> bool:
        return not await executions_of(api, workflow_id, status="running")

    await wait_for(settled, timeout=30, what="cron executions to finish")
    times = [datetime.fromisoformat(c.body["at"]) for c in sink.to("tick")]
    counts = Counter(times)
    assert all(n == 1 for n in counts.values()), f"a fire time ran twice: {counts.most_common(3)}"
    ordered = sorted(counts)
    gaps = [(b - a).total_seconds() for a, b in pairwise(ordered)]
    assert gaps and all(g == 1.0 for g in gaps), f"missed fire times: {gaps}"
    runs = await executions_of(api, workflow_id)
    assert len(runs) == len(times) and all(r["trigger_type"] == "cron" for r in runs)


async def _at_least(sink: Sink, path: str, n: int) -> bool:
    return len(sink.to(path)) >= n
