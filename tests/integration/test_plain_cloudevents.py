# ruff: noqa: F811 - pytest fixtures imported by name
"""Direct producers with plain CloudEvents (issue 18): a standard CloudEvent of the producer's
own type, written straight to fluxo.events.v1 in binary or structured mode (the CloudEvents
Kafka binding, made by the CloudEvents SDK), starts the workflow of that event type; a
malformed one is dead-lettered with the reason."""

from __future__ import annotations

import base64
import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from cloudevents.core.bindings.kafka import KafkaMessage, to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from conftest import wait_for
from pipeline import api, create_active, executions_of, read_topic, wait_status  # noqa: F401

from infra.kafka_io import make_producer
from infra.settings import Settings
from schemas.codec import decode
from schemas.records import RecordDeadLettered
from schemas.topics import DEADLETTER, EVENTS

SHARE_PIPELINE = True
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "produce_cloudevent.py"


def example_producer() -> Any:
    """The example producer the README shows (docs/examples/produce_cloudevent.py), as a module."""
    spec = importlib.util.spec_from_file_location("produce_cloudevent", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def workspace_of(api: httpx.AsyncClient) -> str:
    r = await api.get("/api/v1/users/profile")
    assert r.status_code == 200, r.text
    return str(r.json()["workspace"]["id"])


async def workflow_for(api: httpx.AsyncClient, event_type: str) -> str:
    return await create_active(api, {
        "name": f"on {event_type}", "trigger_type": "event", "trigger_config": {"event_type": event_type},
        "nodes": [{"id": "trigger", "node_type": "trigger"},
                  {"id": "shape", "node_type": "transform", "config": {"mapping": {
                      "order": "{{event.data.order}}", "who": "{{user.id}}"}}}],
        "edges": [{"source_node": "trigger", "target_node": "shape"}],
    })


def event(workspace_id: str, event_type: str, subject: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent({
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "urn:shop:orders", "type": event_type,
        "subject": subject, "time": datetime.now(UTC), "datacontenttype": "application/json",
        "workspaceid": workspace_id,
    }, data)


async def produce(settings: Settings, *messages: tuple[bytes, KafkaMessage | tuple[bytes | None, list[tuple[str, bytes]]]]) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for key, message in messages:
            if isinstance(message, KafkaMessage):
                value, headers = message.value, list(message.headers.items())
            else:
                value, headers = message
            await producer.send_and_wait(settings.topic(EVENTS), key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def one_completed(api: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    async def started() -> list[dict[str, Any]] | None:
        found = await executions_of(api, workflow_id)
        return found or None

    runs = await wait_for(started, timeout=60, interval=0.2, what=f"an execution of {workflow_id}")
    assert len(runs) == 1, runs
    return await wait_status(api, runs[0]["id"], "completed")


async def test_a_plain_cloudevent_in_binary_and_in_structured_mode_starts_its_workflow(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    ws = await workspace_of(api)
    dotted = await workflow_for(api, "com.shop.order.created")
    coded = await workflow_for(api, "ORDER_SHIPPED")
    subject = f"u-{uuid.uuid4().hex[:8]}"
    await produce(
        settings,
        (f"{ws}:{subject}".encode(), to_binary_event(event(ws, "com.shop.order.created", subject, {"order": "A-1"}))),
        (f"{ws}:{subject}".encode(), to_structured_event(event(ws, "ORDER_SHIPPED", subject, {"order": "A-2"}))),
    )
    # The README's example producer, in both modes.
    paid = await workflow_for(api, "com.shop.order.paid")
    refunded = await workflow_for(api, "ORDER_REFUNDED")
    example = example_producer()
    for event_type, order, binary in (("com.shop.order.paid", "A-3", True), ("ORDER_REFUNDED", "A-4", False)):
        await example.produce(settings.bootstrap_servers, settings.topic(EVENTS), ws, event_type, subject,
                              {"order": order}, binary=binary)
    for workflow_id, order in ((dotted, "A-1"), (coded, "A-2"), (paid, "A-3"), (refunded, "A-4")):
        run = await one_completed(api, workflow_id)
        assert run["trigger_type"] == "event"
        shaped = next(d for d in run["execution_details"] if d["node_id"] == "shape")
        assert shaped["output_data"]["order"] == order and shaped["output_data"]["who"] == subject

    # Both are in the event log as events of their own type, for that user.
    async def logged() -> list[dict[str, Any]] | None:
        r = await api.get("/api/v1/event-logs", params={"user_id": subject, "page_size": 10})
        assert r.status_code == 200, r.text
        rows = r.json()["results"]
        return rows if len(rows) == 4 else None

    rows = await wait_for(logged, timeout=30, interval=0.2, what="four event-log rows")
    assert sorted(row["event_type"] for row in rows) == [
        "ORDER_REFUNDED", "ORDER_SHIPPED", "com.shop.order.created", "com.shop.order.paid"]


async def test_malformed_plain_cloudevents_are_dead_lettered_with_the_reason(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    ws = await workspace_of(api)
    stranger = f"no-such-workspace-{uuid.uuid4().hex[:6]}"
    binary_no_type = to_binary_event(event(ws, "ORDER_CREATED", "u-1", {"order": "B-1"}))
    headers = [(k, v) for k, v in binary_no_type.headers.items() if k != "ce_type"]
    no_id = orjson.loads(to_structured_event(event(ws, "ORDER_CREATED", "u-1", {})).value)
    del no_id["id"]
    no_workspace = orjson.loads(to_structured_event(event(ws, "ORDER_CREATED", "u-1", {})).value)
    del no_workspace["workspaceid"]
    structured = [("content-type", b"application/cloudevents+json")]
    cases: dict[str, tuple[bytes | None, list[tuple[str, bytes]]]] = {
        "ce_type header is missing": (binary_no_type.value, headers),
        "id is missing": (orjson.dumps(no_id), structured),
        "workspaceid is missing": (orjson.dumps(no_workspace), structured),
        "not valid JSON": (b'{"specversion": "1.0", "type": "ORDER_CREATED"', structured),
        "data must be a JSON object": (b"[1, 2, 3]", list(binary_no_type.headers.items())),
        f"unknown workspace '{stranger}'": (
            to_structured_event(event(stranger, "ORDER_CREATED", "u-1", {"order": "B-2"})).value, structured),
    }
    key = f"{ws}:malformed-{uuid.uuid4().hex[:6]}".encode()
    await produce(settings, *((key, message) for message in cases.values()))

    async def lettered() -> dict[bytes, RecordDeadLettered] | None:
        found = {}
        for record in await read_topic(settings, DEADLETTER):
            _, data = decode(record.value, record.headers)
            assert isinstance(data, RecordDeadLettered)
            if data.original_key_b64 == base64.b64encode(key).decode():
                found[base64.b64decode(data.original_value_b64 or "")] = data
        return found if len(found) == len(cases) else None

    letters = await wait_for(lettered, timeout=60, interval=0.5, what="every malformed event dead-lettered")
    for reason, (value, _) in cases.items():
        letter = letters[value or b""]
        assert reason in letter.reason, (reason, letter.reason)
        assert letter.consumer == "matcher" and letter.original_topic == settings.topic(EVENTS)
