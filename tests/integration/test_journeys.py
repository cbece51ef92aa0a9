# ruff: noqa: F811 - pytest fixtures imported by name
"""Journeys over the real pipeline (issue 20): `wait_for_event` with the matcher and the
executor killed mid-wait, `lookback_seconds`, `exit_when` and `goal`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from conftest import Processes, wait_for
from pipeline import (  # noqa: F401 - fixtures
    Sink,
    api,
    create_active,
    execution,
    executions_of,
    read_topic,
    sink,
    wait_status,
)
from routes import settled

from infra.settings import Settings
from schemas.codec import decode
from schemas.records import TimerCancelled, TimerFired
from schemas.topics import EXECUTIONS, TIMERS

SHARE_PIPELINE = True

TRIGGER = {"id": "trigger", "name": "Order created", "node_type": "trigger"}


def hook(node_id: str, url: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "node_type": "action", "config": {"action_type": "webhook", "url": url, "method": "POST", **config}}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source_node": source, "target_node": target, **extra}


def order_workflow(name: str, event_type: str, sink: Sink, **wait: Any) -> dict[str, Any]:
    return {
        "name": name, "trigger_type": "event", "trigger_config": {"event_type": event_type},
        "nodes": [
            TRIGGER,
            {"id": "paid", "name": "Wait for payment", "node_type": "wait_for_event",
             "config": {"event_type": f"{event_type}_PAID", "match": "event.data.order_id == input_data.order_id", **wait}},
            hook("thanks", sink.url(f"{name}/thanks"), payload={"order": "{{input_data.order_id}}", "amount": "{{nodes.paid.event.data.amount}}"}),
            hook("remind", sink.url(f"{name}/remind"), payload={"order": "{{input_data.order_id}}"}),
        ],
        "edges": [edge("trigger", "paid"), edge("paid", "thanks", label="received"), edge("paid", "remind", label="timeout")],
    }


async def send(api: httpx.AsyncClient, event_type: str, user: str, **data: Any) -> str:
    r = await api.post("/api/v1/triggers/process_event", json={"event_type": event_type, "user_id": user, "data": data})
    assert r.status_code == 202, r.text
    return str(r.json()["event_log_id"])


async def waiting_on(api: httpx.AsyncClient, workflow_id: str, count: int, node: str = "paid") -> list[dict[str, Any]]:
    """The workflow's executions once `count` of them are waiting at `node`."""
    async def ready() -> list[dict[str, Any]] | None:
        runs = await executions_of(api, workflow_id)
        if len(runs) < count:
            return None
        details = [await execution(api, r["id"]) for r in runs]
        if all(any(s["node_id"] == node for s in d["execution_details"]) for d in details):
            return details
        return None
    return await wait_for(ready, timeout=60, what=f"{count} executions waiting at {node}")


async def wait_timer_ended(settings: Settings, execution_id: str) -> None:
    """The execution's wait timer was cancelled or has fired (the paid order's 8 s timeout)."""

    async def ended() -> bool:
        for spec in (TIMERS, EXECUTIONS):
            for record in await read_topic(settings, spec):
                if record.value is None:
                    continue
                _, data = decode(record.value, tuple(record.headers or ()))
                if isinstance(data, TimerCancelled | TimerFired) and data.execution_id == execution_id:
                    return True
        return False

    await wait_for(ended, timeout=60, interval=0.5, what=f"the wait timer of {execution_id} to end")


async def test_paid_within_the_wait_is_received_and_unpaid_times_out_each_once_across_kills(
    api: httpx.AsyncClient, sink: Sink, processes: Processes, settings: Settings
) -> None:
    workflow_id = await create_active(api, order_workflow("orders", "ORDER", sink, timeout_seconds=8))
    await send(api, "ORDER", "buyer-paid", order_id="A-1")
    await send(api, "ORDER", "buyer-unpaid", order_id="B-2")
    runs = await waiting_on(api, workflow_id, 2)
    # Mid-wait: the matcher and the executor die and come back; the payment arrives while
    # the matcher is down (it reads it on restart, from its changelogged watch book).
    processes.kill("matcher")
    processes.kill("executor")
    await send(api, "ORDER_PAID", "buyer-paid", order_id="A-1", amount=42)
    await send(api, "ORDER_PAID", "buyer-unpaid", order_id="other-order", amount=1)  # not this order's
    await asyncio.sleep(0.5)
    processes.start("matcher")
    processes.start("executor")
    by_user = {r["user_id"]: r for r in runs}
    paid = await wait_status(api, by_user["buyer-paid"]["id"], "completed", "failed", timeout=90)
    unpaid = await wait_status(api, by_user["buyer-unpaid"]["id"], "completed", "failed", timeout=90)
    assert paid["status"] == "completed" and paid["execution_path"] == ["trigger", "paid", "thanks"], paid
    assert unpaid["status"] == "completed" and unpaid["execution_path"] == ["trigger", "paid", "remind"], unpaid
    step = next(s for s in paid["execution_details"] if s["node_id"] == "paid" and s["status"] == "completed")
    assert step["output_data"]["received"] is True and step["output_data"]["event"]["data"]["amount"] == 42
    # Each path once; the timeout of the paid order (8 s) and a late payment change nothing.
    await send(api, "ORDER_PAID", "buyer-unpaid", order_id="B-2", amount=7)
    await wait_timer_ended(settings, by_user["buyer-paid"]["id"])
    await settled(api, settings, runs=False)  # the late payment and the timer have been read and acted on
    assert [c.body for c in sink.to("orders/thanks")] == [{"order": "A-1", "amount": 42}]
    assert [c.body for c in sink.to("orders/remind")] == [{"order": "B-2"}]
    assert [r["status"] for r in await executions_of(api, workflow_id)] == ["completed", "completed"]


async def test_an_event_two_seconds_before_the_wait_counts_with_lookback(api: httpx.AsyncClient, sink: Sink) -> None:
    body = order_workflow("lookback", "LOOKBACK", sink, timeout_seconds=30, lookback_seconds=10)
    # The wait begins 3 s after the order; the payment comes 1 s after the order, 2 s before the wait.
    body["nodes"].insert(1, {"id": "pause", "name": "Pause", "node_type": "delay", "config": {"delay_seconds": 3}})
    body["edges"][0] = edge("trigger", "pause")
    body["edges"].insert(1, edge("pause", "paid"))
    workflow_id = await create_active(api, body)
    await send(api, "LOOKBACK", "early-payer", order_id="L-1")
    await asyncio.sleep(1)
    await send(api, "LOOKBACK_PAID", "early-payer", order_id="L-1", amount=5)
    runs = await wait_for(lambda: executions_of(api, workflow_id), timeout=30, what="the execution")
    final = await wait_status(api, runs[0]["id"], "completed", "failed", timeout=60)
    assert final["execution_path"] == ["trigger", "pause", "paid", "thanks"], final
    assert [c.body for c in sink.to("lookback/thanks")] == [{"order": "L-1", "amount": 5}]
    paid = next(s for s in final["execution_details"] if s["node_id"] == "paid" and s["status"] == "completed")
    # Received at once when the wait began, not after its 30 s timeout.
    assert paid["output_data"]["received"] is True


async def test_an_exit_event_ends_a_running_execution_in_a_delay(api: httpx.AsyncClient, sink: Sink) -> None:
    workflow_id = await create_active(api, {
        "name": "cart reminder", "trigger_type": "event", "trigger_config": {"event_type": "CART_ABANDONED"},
        "settings": {"exit_when": [{"event_type": "CART_PURCHASED", "condition": "event.data.cart == input_data.cart"}]},
        "nodes": [TRIGGER, {"id": "wait", "name": "Wait a day", "node_type": "delay", "config": {"delay_seconds": 3600}},
                  hook("remind", sink.url("cart/remind"))],
        "edges": [edge("trigger", "wait"), edge("wait", "remind")],
    })
    await send(api, "CART_ABANDONED", "shopper", cart="c-1")
    runs = await waiting_on(api, workflow_id, 1, node="wait")
    await send(api, "CART_PURCHASED", "shopper", cart="another-cart")
    await send(api, "CART_PURCHASED", "shopper", cart="c-1")
    final = await wait_status(api, runs[0]["id"], "cancelled", "completed", "failed", timeout=60)
    assert final["status"] == "cancelled", final
    assert final["cancel_reason"].startswith("exit rule exit_when[0]: CART_PURCHASED"), final["cancel_reason"]
    assert sink.to("cart/remind") == []


async def test_a_goal_event_after_completion_counts_a_conversion(api: httpx.AsyncClient, sink: Sink) -> None:
    workflow_id = await create_active(api, {
        "name": "welcome offer", "trigger_type": "event", "trigger_config": {"event_type": "SIGNED_UP"},
        "settings": {"goal": {"event_type": "SUBSCRIBED", "condition": "event.data.plan != 'free'", "within_seconds": 3600}},
        "nodes": [TRIGGER, hook("offer", sink.url("welcome/offer"))],
        "edges": [edge("trigger", "offer")],
    })
    for user in ("converts", "stays-free", "never"):
        await send(api, "SIGNED_UP", user)
    async def all_completed() -> list[dict[str, Any]] | None:
        runs = await executions_of(api, workflow_id, status="completed")
        return runs if len(runs) == 3 else None
    await wait_for(all_completed, timeout=60, what="three completed executions")
    await send(api, "SUBSCRIBED", "stays-free", plan="free")
    await send(api, "SUBSCRIBED", "converts", plan="pro")
    await send(api, "SUBSCRIBED", "converts", plan="pro")  # a second goal event converts nothing more

    async def converted() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/workflows/{workflow_id}/statistics")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if body["statistics"]["conversions"] >= 1 else None

    stats = await wait_for(converted, timeout=60, what="the conversion counted")
    await asyncio.sleep(1.5)
    stats = (await api.get(f"/api/v1/workflows/{workflow_id}/statistics")).json()
    assert stats["statistics"]["conversions"] == 1
    assert abs(stats["statistics"]["conversion_rate"] - round(1 / 3, 6)) < 1e-9
    today = stats["usage_by_day"][0]  # newest first
    assert today["conversions"] == 1 and abs(today["conversion_rate"] - round(1 / 3, 6)) < 1e-9
    runs = {r["user_id"]: r for r in await executions_of(api, workflow_id)}
    detail = await execution(api, runs["converts"]["id"])
    assert detail["converted_at"] is not None
    assert (await execution(api, runs["never"]["id"]))["converted_at"] is None


async def test_a_dry_run_takes_test_events_on_its_virtual_clock(api: httpx.AsyncClient, sink: Sink) -> None:
    body = order_workflow("dry", "DRY", sink, timeout_seconds=86400)
    body["settings"] = {"exit_when": [{"event_type": "DRY_CANCELLED"}],
                        "goal": {"event_type": "DRY_PAID", "within_seconds": 7200}}
    workflow_id = await create_active(api, body)
    paid = {"event_type": "DRY_PAID", "data": {"order_id": "D-1", "amount": 9}, "after_seconds": 3600}
    r = await api.post(f"/api/v1/workflows/{workflow_id}/test", json={"test_data": {"order_id": "D-1"}, "test_events": [paid]})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "completed" and answer["execution_path"] == ["trigger", "paid", "thanks"]
    assert answer["simulated_duration_seconds"] == 3600
    assert answer["converted_at"] is not None and answer["cancel_reason"] is None
    assert answer["results"]["paid"]["event"]["data"]["amount"] == 9

    r = await api.post(f"/api/v1/workflows/{workflow_id}/test", json={"test_data": {"order_id": "D-1"}, "test_events": [
        {"event_type": "DRY_CANCELLED", "after_seconds": 60}, paid]})
    answer = r.json()
    assert answer["status"] == "cancelled", answer
    assert answer["cancel_reason"].startswith("exit rule exit_when[0]: DRY_CANCELLED")
    assert answer["converted_at"] is not None  # the goal outlives the exit within its window

    r = await api.post(f"/api/v1/workflows/{workflow_id}/test", json={"test_data": {"order_id": "D-1"}})
    assert r.json()["execution_path"] == ["trigger", "paid", "remind"]
    assert sink.calls == []  # a dry run sends nothing


async def test_validate_names_a_bad_match_and_a_wrong_label(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/workflows", json={
        "name": "bad wait", "trigger_type": "event", "trigger_config": {"event_type": "BAD"},
        "nodes": [TRIGGER, {"id": "w", "node_type": "wait_for_event", "config": {"event_type": "X", "match": "event.data ==", "timeout_seconds": 5}},
                  {"id": "n", "node_type": "transform", "config": {"mapping": {}}}],
        "edges": [edge("trigger", "w"), edge("w", "n", label="true")],
    })
    assert r.status_code == 201, r.text
    report = (await api.get(f"/api/v1/workflows/{r.json()['id']}/validate")).json()
    fields = {i["field"] for i in report["issues"]}
    assert {"nodes.1.config.match", "edges.1.label"} <= fields, report
    r = await api.post(f"/api/v1/workflows/{r.json()['id']}/activate")
    assert r.status_code == 422 and "nodes.1.config.match" in r.json()["error"]["fields"], r.text
