# ruff: noqa: F811 - pytest fixtures imported by name
"""What the console needs of the server (issue 21): its files at /console, and the live
executions stream `GET /api/v1/console/executions/stream`, read over HTTP from the running
API with executions run through the real pipeline: every change of the caller's workspace as
it is written, nothing of another workspace, resumable from a cursor, bad cursors refused."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
from pipeline import add_person, add_workspace, api, client_with, login_tokens, wait_status  # noqa: F401 - fixtures

from infra.settings import Settings

SHARE_PIPELINE = True
V1 = "/api/v1"
STREAM = f"{V1}/console/executions/stream"


def parse(text: str) -> list[tuple[str, str | None, Any]]:
    """The server-sent events of an answer: (event, id, data)."""
    events: list[tuple[str, str | None, Any]] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        if "event" in fields:
            events.append((fields["event"], fields.get("id"), orjson.loads(fields.get("data", "null"))))
    return events


async def manual_workflow(api: httpx.AsyncClient) -> str:
    created = await api.post(f"{V1}/workflows", json={
        "name": f"stream {uuid.uuid4().hex[:8]}", "trigger_type": "manual",
        "nodes": [{"id": "trigger", "node_type": "trigger"},
                  {"id": "check", "node_type": "condition", "config": {"condition": "input_data.n > 1"}}],
        "edges": [{"source_node": "trigger", "target_node": "check"}]})
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    assert (await api.post(f"{V1}/workflows/{workflow_id}/activate")).status_code == 200
    return workflow_id


async def cursor_now(client: httpx.AsyncClient) -> str:
    r = await client.get(STREAM)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text
    events = parse(r.text)
    assert [e for e, _, _ in events] == ["ready", "end"], events
    cursor: str = events[0][2]["cursor"]
    assert events[0][1] == cursor
    return cursor


async def test_the_stream_shows_each_change_as_it_is_written(api: httpx.AsyncClient) -> None:
    workflow_id = await manual_workflow(api)

    async def follow(after: str | None) -> list[tuple[str, str | None, Any]]:
        params: dict[str, Any] = {"follow_seconds": 5, "workflow": workflow_id}
        if after is not None:
            params["after"] = after
        r = await api.get(STREAM, params=params, timeout=30)
        assert r.status_code == 200, r.text
        return parse(r.text)

    # An answer opened before the run, then followed on from its last cursor (as the console
    # does), until the run's end has been seen: every change once, in order.
    first = asyncio.create_task(follow(None))
    await asyncio.sleep(1.0)  # without a cursor the stream starts from now: let it open first
    started = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={"input_data": {"n": 2}})
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]
    answers = [await first]
    deadline = asyncio.get_running_loop().time() + 90
    while not any(e == "execution" and d["change"] == "completed" for e, _, d in answers[-1]):
        assert asyncio.get_running_loop().time() < deadline, answers
        answers.append(await follow(answers[-1][-1][1]))
    for answer in answers:
        names = [e for e, _, _ in answer]
        assert names[0] == "ready" and names[-1] == "end", names
    # The first answer was open while the run started: the start came to it as it was written.
    assert any(e == "execution" and d["change"] == "started" for e, _, d in answers[0]), answers[0]
    events = [(e, i, d) for answer in answers for e, i, d in answer if e == "execution"]
    # Each change once: cursors never repeat (the steps of one compact record share the
    # record's, carried by its last event only), and no change comes twice.
    cursors = [i for _, i, _ in events if i is not None]
    assert len(set(cursors)) == len(cursors)
    changes = [(d["execution_id"], d["change"], d.get("node_id")) for _, _, d in events]
    assert len(set(changes)) == len(changes), changes
    mine = [(d["change"], d.get("node_id")) for _, _, d in events if d["execution_id"] == execution_id]
    assert mine[0] == ("started", None) and mine[-1] == ("completed", None), mine
    assert ("node_succeeded", "check") in mine, mine
    first_change = next(d for _, _, d in events if d["execution_id"] == execution_id)
    assert (first_change["workflow_id"], first_change["status"], first_change["trigger_type"]) == (workflow_id, "running", "manual")
    last = [d for _, _, d in events if d["execution_id"] == execution_id][-1]
    assert last["status"] == "completed" and last["execution_path"] == ["trigger", "check"], last


async def test_a_cursor_resumes_where_the_client_left_off(api: httpx.AsyncClient) -> None:
    workflow_id = await manual_workflow(api)
    cursor = await cursor_now(api)
    started = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={"input_data": {"n": 0}})
    execution_id = started.json()["execution_id"]
    await wait_status(api, execution_id, "completed")
    # With the cursor from before the run, and no follow: what it had not seen, then the end.
    r = await api.get(STREAM, params={"after": cursor})
    events = parse(r.text)
    changes = [d["change"] for e, _, d in events if e == "execution" and d["execution_id"] == execution_id]
    assert changes[0] == "started" and changes[-1] == "completed", changes
    # Each event's id is the cursor just past it: resuming from the last one repeats nothing.
    again = parse((await api.get(STREAM, params={"after": events[-1][1]})).text)
    assert [e for e, _, _ in again] == ["ready", "end"], again


async def test_another_workspace_sees_nothing_of_this_one(api: httpx.AsyncClient, settings: Settings) -> None:
    workflow_id = await manual_workflow(api)
    other = await add_workspace(settings, f"stream neighbour {uuid.uuid4().hex[:6]}")
    email = f"n-{uuid.uuid4().hex[:8]}@fluxo.test"
    await add_person(settings, workspace_id=other, email=email, role="owner", password="neighbour-pass-1")
    tokens = await login_tokens(api, email, "neighbour-pass-1")
    async with client_with(api, tokens["access_token"]) as neighbour:
        theirs = await cursor_now(neighbour)
        mine = await cursor_now(api)
        started = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={"input_data": {"n": 5}})
        execution_id = started.json()["execution_id"]
        await wait_status(api, execution_id, "completed")
        seen_by_them = (await neighbour.get(STREAM, params={"after": theirs})).text
        seen_by_me = (await api.get(STREAM, params={"after": mine})).text
    assert execution_id in seen_by_me
    assert execution_id not in seen_by_them and workflow_id not in seen_by_them
    assert [e for e, _, _ in parse(seen_by_them)] == ["ready", "end"], seen_by_them


async def test_bad_input_is_refused_with_the_field(api: httpx.AsyncClient) -> None:
    for params, field in (({"after": "not-a-cursor"}, "after"), ({"after": "0:1,0:2"}, "after"),
                          ({"after": "999:0"}, "after"), ({"follow_seconds": 6}, "follow_seconds"),
                          ({"follow_seconds": -1}, "follow_seconds")):
        r = await api.get(STREAM, params=params)
        assert r.status_code == 422, (params, r.text)
        assert field in str(r.json()["error"]["fields"]), (params, r.text)
    anonymous = await httpx.AsyncClient(base_url=str(api.base_url)).get(STREAM)
    assert anonymous.status_code == 401, anonymous.text


async def test_the_console_is_served_same_origin_without_a_cdn(api: httpx.AsyncClient) -> None:
    anonymous = httpx.AsyncClient(base_url=str(api.base_url))
    async with anonymous:
        page = await anonymous.get("/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="/console/console.js">' in page.text and "http" not in page.text.split("<body>")[1]
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "cdn" not in policy
        bundle = await anonymous.get("/console/console.js")
        assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
        assert len(bundle.content) > 100_000  # React and React Flow, bundled
        # Any other path is the page (the console routes in the browser); nothing outside its build.
        deep = await anonymous.get("/console/workflows/abc")
        assert deep.status_code == 200 and deep.text == page.text
        escape = await anonymous.get("/console/..%2F..%2Fpyproject.toml")
        assert escape.status_code in (200, 404) and "[project]" not in escape.text
