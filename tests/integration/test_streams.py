# ruff: noqa: F811 - pytest fixtures imported by name
"""The served stream contract, and a consumer that knows only it reading a real execution."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from jsonschema import Draft202012Validator
from pipeline import api, wait_status  # noqa: F401 - fixtures

from infra.settings import Settings
from schemas.asyncapi import asyncapi_document
from schemas.topics import EXECUTIONS

DOC = "/api/v1/streams/asyncapi.json"


async def _json(api: httpx.AsyncClient, path: str) -> Any:
    r = await api.get(path)
    assert r.status_code == 200, (path, r.text)
    return r.json()


async def test_contract_is_served_and_describes_the_records_on_the_topic(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # Authenticated like every other read.
    assert (await api.get(DOC, headers={"Authorization": ""})).status_code == 401
    document = await _json(api, DOC)
    assert document == asyncapi_document(schema_base="schemas/")

    listed = await _json(api, "/api/v1/streams/schemas")
    names = {item["name"] for item in listed["results"]}
    assert listed["count"] == len(names) and "envelope" in names and "fluxo.execution.completed.v1" in names
    completed = next(i for i in listed["results"] if i["name"] == "fluxo.execution.completed.v1")
    assert completed["topics"] == ["fluxo.executions.v1"]
    missing = await api.get("/api/v1/streams/schemas/fluxo.no-such.v1.json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "AUTO_001"

    # Every payload $ref in the served document resolves, relative to the document, on the API.
    schemas: dict[str, Any] = {}
    for message in document["components"]["messages"].values():
        for part in message["payload"].get("allOf", []):
            for ref in [part.get("$ref"), *(p.get("$ref") for p in part.get("properties", {}).values())]:
                if ref and not ref.startswith("#") and ref not in schemas:
                    schemas[ref] = await _json(api, urljoin(DOC, ref))
    envelope = schemas["schemas/envelope.json"]

    # Run something, then read fluxo.executions.v1 the way docs/streams.md tells consumers to.
    created = await api.post("/api/v1/workflows", json={
        "name": "streamed", "trigger_type": "manual",
        "nodes": [{"id": "trigger", "node_type": "trigger"},
                  {"id": "shape", "node_type": "transform", "config": {"mapping": {"x": "1"}}}],
        "edges": [{"source_node": "trigger", "target_node": "shape"}],
    })
    assert created.status_code == 201, created.text
    started = await api.post(f"/api/v1/workflows/{created.json()['id']}/execute", json={"input_data": {}})
    execution_id = started.json()["execution_id"]
    await wait_status(api, execution_id, "completed", "failed")

    channel = next(c for c in document["channels"].values() if c["address"] == "fluxo.executions.v1")
    consumer = AIOKafkaConsumer(
        settings.topic(EXECUTIONS),
        bootstrap_servers=settings.bootstrap_servers,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[str] = []
    steps: list[tuple[str, str]] = []
    try:
        async def read_until_done() -> None:
            async for record in consumer:
                assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
                event = orjson.loads(record.value)
                if event.get("executionid") != execution_id:
                    continue
                assert record.key.decode() == execution_id  # the channel's key
                assert event["type"] in channel["messages"], event["type"]
                Draft202012Validator(envelope).validate(event)
                Draft202012Validator(schemas[f"schemas/{event['type']}.json"]).validate(event["data"])
                seen.append(event["type"])
                if event["type"] == "fluxo.execution.steps.v1":
                    steps.extend((step["type"], step["data"]["node_id"]) for step in event["data"]["steps"])
                if event["type"] in ("fluxo.execution.completed.v1", "fluxo.execution.failed.v1"):
                    return

        await asyncio.wait_for(read_until_done(), timeout=60)
    finally:
        await consumer.stop()
    assert seen[0] == "fluxo.execution.started.v1" and seen[-1] == "fluxo.execution.completed.v1", seen
    # The two inline nodes' results, decided in one executor transaction: one steps record.
    assert seen == ["fluxo.execution.started.v1", "fluxo.execution.steps.v1", "fluxo.execution.completed.v1"], seen
    assert steps == [("fluxo.node.succeeded.v1", "trigger"), ("fluxo.node.succeeded.v1", "shape")], steps
