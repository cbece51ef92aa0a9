"""The ingest hot path over the real pipeline: process_event and webhooks authenticated from
the API's in-memory directory, one broker write per call, idempotent re-sends, the batch
endpoint, and revocations that take effect within the directory's bound even when
PostgreSQL never hears of them (the projection is stopped)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import (
    _publish,
    create_active,
    execution,
    executions_of,
    read_topic,
    running_pipeline,
    wait_status,
)
from routes import settled

from api import keys
from infra.bootstrap import bootstrap_admin
from infra.settings import Settings
from ingest.webhooks import token_digest, token_prefix
from schemas.envelope import make_envelope, new_id, now
from schemas.outputs import Output
from schemas.records import ApiKeyDefined, WebhookDefined
from schemas.topics import DEFINITIONS, EVENTS

V1 = "/api/v1"
TRIGGER = {"id": "trigger", "name": "Start", "node_type": "trigger"}
NOTE = {"id": "note", "node_type": "transform", "config": {"mapping": {"seen": "{{event.data.n}}"}}}


@pytest_asyncio.fixture(scope="module")
async def pipeline(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, str, Processes]]:
    procs = Processes(settings, log_dir=tmp_path_factory.mktemp("ingest-logs"))
    try:
        async with running_pipeline(settings, procs) as (client, workspace_id):
            yield client, workspace_id, procs
    finally:
        procs.stop_all()


async def event_workflow(api: httpx.AsyncClient, event_type: str) -> str:
    return await create_active(api, {
        "name": f"on {event_type}", "trigger_type": "event", "trigger_config": {"event_type": event_type},
        "nodes": [TRIGGER, NOTE], "edges": [{"source_node": "trigger", "target_node": "note"}],
    })


async def completed_runs(api: httpx.AsyncClient, workflow_id: str, count: int) -> list[dict[str, Any]]:
    async def done() -> list[dict[str, Any]] | None:
        runs = await executions_of(api, workflow_id)
        return runs if len(runs) >= count and all(r["status"] == "completed" for r in runs) else None

    found: list[dict[str, Any]] = await wait_for(done, timeout=60, what=f"{count} completed runs of {workflow_id}")
    return found


# The workspace (and its read models) is shared with the other test modules, whose delays and
# waits may still run: `settled` here waits for the processors and the projection to have read
# everything (so a second start would be listed), not for the workspace to be idle.
async def test_an_idempotency_key_re_send_starts_nothing(pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings) -> None:
    api, _, _ = pipeline
    kind = f"IDEM_{uuid.uuid4().hex[:6].upper()}"
    workflow_id = await event_workflow(api, kind)
    sent = [
        await api.post(f"{V1}/triggers/process_event", json={"event_type": kind, "user_id": "idem-1", "data": {"n": 1}},
                       headers={"Idempotency-Key": "order-1"})
        for _ in range(3)
    ]
    assert all(r.status_code == 202 for r in sent), [r.text for r in sent]
    assert len({r.json()["event_log_id"] for r in sent}) == 1
    other = await api.post(f"{V1}/triggers/process_event", json={"event_type": kind, "user_id": "idem-1", "data": {"n": 2}},
                           headers={"Idempotency-Key": "order-2"})
    assert other.status_code == 202 and other.json()["event_log_id"] != sent[0].json()["event_log_id"]
    await completed_runs(api, workflow_id, 2)
    await settled(api, settings, runs=False)
    assert len(await executions_of(api, workflow_id)) == 2  # three sends of order-1 started one

    # A webhook call re-sent with its key names the same execution and starts it once.
    hooked = await create_active(api, {"name": "hooked", "trigger_type": "webhook", "nodes": [TRIGGER], "edges": []})
    webhook = (await api.post(f"{V1}/webhooks", json={"name": "idem", "workflow_id": hooked})).json()
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=30) as public:
        calls = [await public.post(f"{V1}/hooks/{webhook['token']}", json={"n": 1}, headers={"Idempotency-Key": "k"})
                 for _ in range(2)]
        fresh = await public.post(f"{V1}/hooks/{webhook['token']}", json={"n": 2})
    assert [c.status_code for c in calls] == [202, 202] and calls[0].json() == calls[1].json()
    assert fresh.status_code == 202 and fresh.json()["execution_id"] != calls[0].json()["execution_id"]
    await wait_status(api, calls[0].json()["execution_id"], "completed")
    await wait_status(api, fresh.json()["execution_id"], "completed")
    await settled(api, settings, runs=False)
    assert len(await executions_of(api, hooked)) == 2


async def test_a_batch_answers_each_item_and_a_bad_one_stops_nothing(
    pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings
) -> None:
    api, workspace_id, _ = pipeline
    kind = f"BATCH_{uuid.uuid4().hex[:6].upper()}"
    workflow_id = await event_workflow(api, kind)
    items: list[Any] = [
        {"event_type": kind, "user_id": "b-1", "data": {"n": 1}},
        {"event_type": "not valid!", "user_id": "b-2"},
        {"event_type": kind, "user_id": "b-3", "data": {"n": 3}, "idempotency_key": "batch-3"},
        "not an object",
        {"event_type": kind, "surprise": True},
    ]
    r = await api.post(f"{V1}/triggers/process_events", json=items)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert (answer["success"], answer["accepted"], answer["rejected"]) == (False, 2, 3)
    results = answer["results"]
    assert [x["index"] for x in results] == [0, 1, 2, 3, 4]
    assert [x["success"] for x in results] == [True, False, True, False, False]
    assert results[0]["event_log_id"] and results[2]["event_log_id"] and results[1].get("event_log_id") is None
    assert set(results[1]["error"]["fields"]) == {"event_type"}
    assert set(results[3]["error"]["fields"]) == {"item"}
    assert set(results[4]["error"]["fields"]) == {"surprise"}
    runs = await completed_runs(api, workflow_id, 2)
    details = [await execution(api, run["id"]) for run in runs]
    assert sorted(d["input_data"].get("n") for d in details) == [1, 3], details

    # The batch's own key works like the header: the same item again is the same event.
    again = (await api.post(f"{V1}/triggers/process_events", json=[items[2]])).json()
    assert again["results"][0]["event_log_id"] == results[2]["event_log_id"]

    # Bounded: an empty batch and one over FLUXO_INGEST_BATCH_MAX are refused as a whole.
    empty = await api.post(f"{V1}/triggers/process_events", json=[])
    assert empty.status_code == 422 and "body" in empty.json()["error"]["fields"]
    over = await api.post(f"{V1}/triggers/process_events", json=[items[0]] * (settings.ingest_batch_max + 1))
    assert over.status_code == 413 and "body" in over.json()["error"]["fields"]
    assert (await api.post(f"{V1}/triggers/process_events", json={"event_type": kind})).status_code == 422

    # No audit record for ingest: the event's envelope says who sent it.
    await settled(api, settings, runs=False)
    page = (await api.get(f"{V1}/audit-logs", params={"page_size": 100})).json()
    assert not [e for e in page["results"] if e["action"].startswith("triggers.process_event")], page["results"][:3]
    _, owner_id = await bootstrap_admin(settings)
    mine = [orjson.loads(rec.value) for rec in await read_topic(settings, EVENTS)]
    sent = [e for e in mine if e["id"] in (results[0]["event_log_id"], results[2]["event_log_id"])]
    assert len(sent) >= 2
    assert all((e["actortype"], e["actorid"], e.get("actoruser")) == ("user", owner_id, None) for e in sent), sent
    assert all(e["workspaceid"] == workspace_id for e in sent)


async def _poll_until(call: Any, status: int, bound: float) -> float:
    """Seconds until `call()` answers `status` (polled); fails past twice the bound."""
    started = time.monotonic()

    async def answered() -> bool:
        return int((await call()).status_code) == status

    await wait_for(answered, timeout=2 * bound + 5, interval=0.02, what=f"a {status}")
    return time.monotonic() - started


async def test_keys_and_tokens_come_from_memory_and_revocations_act_within_the_bound(
    pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings
) -> None:
    """The projection is stopped: PostgreSQL never sees the key, its revocation, or the new token.
    Before the directory, the key was refused (401) and the old token kept working."""
    api, workspace_id, procs = pipeline
    bound = settings.directory_bound_seconds
    _, owner_id = await bootstrap_admin(settings)
    hooked = await create_active(api, {"name": "memory", "trigger_type": "webhook", "nodes": [TRIGGER], "edges": []})
    created = (await api.post(f"{V1}/webhooks", json={"name": "memory", "workflow_id": hooked})).json()
    procs.kill("projection")

    # An API key minted straight onto the definitions topic (as another API process would).
    prefix, full_key = keys.new_key()
    key = ApiKeyDefined(
        id=new_id(), workspace_id=workspace_id, name="from the log", prefix=prefix,
        digest=keys.digest(settings.resolved_api_key_secret(), full_key), role="editor",
        created_by=owner_id, created_at=now(),
    )

    def definition(record: Any, kind: str) -> Output:
        return Output.of(DEFINITIONS, f"{workspace_id}:{kind}:{record.id}",
                         make_envelope(record, source="tests/ingest", workspace_id=workspace_id, subject=record.id))

    await _publish(settings, definition(key, "api_key"))
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=30) as machine:
        async def send_event() -> httpx.Response:
            return await machine.post(f"{V1}/triggers/process_event", json={"event_type": "FROM_MEMORY"},
                                      headers={"X-API-Key": full_key})

        first = await send_event()
        assert first.status_code == 202, first.text  # known from the topic alone, at once
        await _publish(settings, definition(key.model_copy(update={"revoked_at": now(), "revoked_by": owner_id}), "api_key"))
        took = await _poll_until(send_event, 401, bound)
        assert took <= bound, f"the revoked key still worked {took:.2f}s after its revocation was stored"
        assert (await send_event()).json()["error"]["message"] == "this API key was revoked"

        # A webhook's token regenerated on the topic: the old one is refused, the new one works.
        hook = WebhookDefined(
            id=created["id"], workspace_id=workspace_id, version=created["version"], name="memory",
            workflow_id=hooked, token_digest=token_digest(created["token"]), token_prefix=token_prefix(created["token"]),
            created_at=created["created_at"], updated_at=now(),
        )

        async def call_old() -> httpx.Response:
            return await machine.post(f"{V1}/hooks/{created['token']}", json={"n": 1})

        before = await call_old()
        assert before.status_code == 202, before.text
        new_token = f"regenerated-{uuid.uuid4().hex}"
        await _publish(settings, definition(hook.model_copy(update={
            "version": hook.version + 1, "token_digest": token_digest(new_token), "token_prefix": token_prefix(new_token),
        }), "webhook"))
        took = await _poll_until(call_old, 404, bound)
        assert took <= bound, f"the old token still worked {took:.2f}s after the new one was stored"
        renewed = await machine.post(f"{V1}/hooks/{new_token}", json={"n": 2})
        assert renewed.status_code == 202, renewed.text
