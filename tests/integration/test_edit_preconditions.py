# ruff: noqa: F811 - pytest fixtures imported by name
"""Optimistic concurrency on definition edits (issue 19): every definition answers a strong
ETag derived from its version, and PUT/PATCH/DELETE honour If-Match: a stale version is
refused with 412 naming the current ETag and changes nothing; without If-Match an edit
behaves as before. Of concurrent writers sending the same ETag exactly one wins."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from pipeline import api  # noqa: F401 - fixtures

SHARE_PIPELINE = True

V1 = "/api/v1"
PROBE_NODES = [
    {"id": "trigger", "node_type": "trigger"},
    {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "p"}},
    {"id": "note", "node_type": "action", "config": {"action_type": "add_note", "note": "n"}},
]
PROBE_EDGES = [{"id": "e1", "source_node": "trigger", "target_node": "tag"},
               {"id": "e2", "source_node": "tag", "target_node": "note"}]


def stale(r: httpx.Response, current: str) -> None:
    """A 412 in the house shape that names the current ETag (in the body and as the header)."""
    assert r.status_code == 412, r.text
    error = r.json()["error"]
    assert error["code"] == "PRECONDITION_FAILED", error
    assert current in error["fields"]["If-Match"] and current in error["message"], error
    assert r.headers["etag"] == current


async def created(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    r = await api.post(f"{V1}/{path}", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_a_workflow_edit_on_a_stale_etag_is_refused(api: httpx.AsyncClient) -> None:
    wid = await created(api, "workflows", {"name": f"etag {uuid.uuid4().hex[:6]}", "trigger_type": "manual",
                                           "nodes": PROBE_NODES, "edges": PROBE_EDGES})
    path = f"{V1}/workflows/{wid}"
    read = await api.get(path)
    assert read.status_code == 200 and read.headers["etag"] == '"v1"', read.headers
    assert read.json()["version"] == 1

    # The ETag of the answer to a write, and of a GET right after it, is the new version's.
    r = await api.patch(path, json={"description": "first"}, headers={"If-Match": '"v1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"v2"' and r.json()["version"] == 2, r.text
    again = await api.get(path)
    assert again.headers["etag"] == '"v2"' and again.json()["description"] == "first"

    # A write made against v1 now loses nothing: it is refused, and nothing is written.
    stale(await api.patch(path, json={"description": "lost update"}, headers={"If-Match": '"v1"'}), '"v2"')
    stale(await api.put(path, json={"name": "lost", "description": "lost"}, headers={"If-Match": '"v1"'}), '"v2"')
    stale(await api.patch(path, json={"description": "weak"}, headers={"If-Match": 'W/"v2"'}), '"v2"')
    stale(await api.delete(path, headers={"If-Match": '"v1"'}), '"v2"')
    after = await api.get(path)
    assert after.json()["version"] == 2 and after.json()["description"] == "first", after.text

    # A list naming the current one, or *, matches; no If-Match is today's behaviour.
    r = await api.put(path, json={"name": "listed", "description": "second"}, headers={"If-Match": '"v1", "v2"'})
    assert r.status_code == 200 and r.headers["etag"] == '"v3"', r.text
    r = await api.patch(path, json={"description": "third"}, headers={"If-Match": "*"})
    assert r.status_code == 200 and r.headers["etag"] == '"v4"', r.text
    r = await api.patch(path, json={"description": "unconditional"})
    assert r.status_code == 200 and r.headers["etag"] == '"v5"', r.text
    # An older version read with ?version= is tagged as that version.
    old = await api.get(path, params={"version": 2})
    assert old.headers["etag"] == '"v2"' and old.json()["version"] == 2

    # The graph's nodes and edges are versioned with the workflow: they carry its ETag.
    node = await api.get(f"{path}/nodes/tag")
    assert node.status_code == 200 and node.headers["etag"] == '"v5"', node.text
    assert (await api.get(f"{path}/nodes")).headers["etag"] == '"v5"'
    assert (await api.get(f"{path}/edges")).headers["etag"] == '"v5"'
    stale(await api.patch(f"{path}/nodes/tag", json={"name": "x"}, headers={"If-Match": '"v4"'}), '"v5"')
    stale(await api.put(f"{path}/nodes/tag", json={"name": "x", "config": {"action_type": "add_tag", "tag_name": "q"}},
                        headers={"If-Match": '"v4"'}), '"v5"')
    stale(await api.delete(f"{path}/nodes/note", headers={"If-Match": '"v4"'}), '"v5"')
    stale(await api.delete(f"{path}/edges/e2", headers={"If-Match": '"v4"'}), '"v5"')
    stale(await api.post(f"{path}/nodes", json={"id": "more", "node_type": "action",
                                                 "config": {"action_type": "add_tag", "tag_name": "m"}},
                         headers={"If-Match": '"v4"'}), '"v5"')
    assert len((await api.get(path)).json()["nodes"]) == 3 and len((await api.get(path)).json()["edges"]) == 2
    r = await api.patch(f"{path}/nodes/tag", json={"name": "renamed"}, headers={"If-Match": '"v5"'})
    assert r.status_code == 200 and r.headers["etag"] == '"v6"' and r.json()["workflow_version"] == 6, r.text
    assert (await api.delete(f"{path}/edges/e2", headers={"If-Match": '"v6"'})).status_code == 204
    assert (await api.get(path)).headers["etag"] == '"v7"'

    # Unknown ids stay 404 (never 412); the current ETag deletes.
    missing = await api.patch(f"{V1}/workflows/{uuid.uuid4()}", json={"description": "x"}, headers={"If-Match": '"v1"'})
    assert missing.status_code == 404, missing.text
    assert (await api.delete(path, headers={"If-Match": '"v7"'})).status_code == 204
    assert (await api.get(path)).status_code == 404


async def test_of_concurrent_writers_on_one_etag_exactly_one_wins(api: httpx.AsyncClient) -> None:
    wid = await created(api, "workflows", {"name": f"race {uuid.uuid4().hex[:6]}", "trigger_type": "manual"})
    path = f"{V1}/workflows/{wid}"
    tag = (await api.get(path)).headers["etag"]
    writers = [api.patch(path, json={"description": f"writer {i}"}, headers={"If-Match": tag}) for i in range(4)]
    answers = await asyncio.gather(*writers)
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 412, 412, 412], [(r.status_code, r.text) for r in answers]
    winner = next(r for r in answers if r.status_code == 200)
    for loser in (r for r in answers if r.status_code == 412):
        stale(loser, winner.headers["etag"])
    final = (await api.get(path)).json()
    assert final["version"] == 2 and final["description"] == winner.json()["description"]


async def test_many_conditional_edits_at_once_never_starve_the_pool(api: httpx.AsyncClient) -> None:
    """Each conditional edit holds a pooled connection for its lock and needs another for its
    work: more of them at once than the pool has connections must all complete, not wedge the
    API waiting on each other (api/state.py EDIT_LOCK_SLOTS)."""
    ids = [await created(api, "workflows", {"name": f"burst {i}", "trigger_type": "manual"}) for i in range(16)]
    answers = await asyncio.gather(*(
        api.patch(f"{V1}/workflows/{wid}", json={"description": "burst"}, headers={"If-Match": '"v1"'}) for wid in ids
    ))
    assert [r.status_code for r in answers] == [200] * len(ids), [r.text for r in answers if r.status_code != 200]
    assert all(r.headers["etag"] == '"v2"' for r in answers)
    assert (await api.get("/health")).status_code == 200


async def test_every_kind_of_definition_honours_if_match(api: httpx.AsyncClient) -> None:
    u = uuid.uuid4().hex[:6]
    wid = await created(api, "workflows", {"name": f"owner {u}", "trigger_type": "manual"})
    kinds: dict[str, dict[str, Any]] = {
        "triggers": {"name": f"t {u}", "trigger_type": "event", "event_type": "ETAG_PROBE"},
        "actions": {"name": f"a {u}", "action_type": "add_tag", "configuration": {"tag_name": "p"}},
        "conditions": {"name": f"c {u}", "conditions": [{"field": "event.data.n", "operator": "equals", "value": 1}]},
        "integrations": {"name": f"i {u}", "type": "email", "provider": "smtp",
                         "configuration": {"host": "smtp.example.com", "from_email": "etag@fluxo.test"}},
        "webhooks": {"name": f"w {u}", "workflow_id": wid},
    }
    for kind, body in kinds.items():
        path = f"{V1}/{kind}/{await created(api, kind, body)}"
        read = await api.get(path)
        assert read.status_code == 200 and read.headers["etag"] == '"v1"', (kind, read.headers)
        r = await api.patch(path, json={"name": f"{kind} renamed {u}"}, headers={"If-Match": '"v1"'})
        assert r.status_code == 200 and r.headers["etag"] == '"v2"' and r.json()["version"] == 2, (kind, r.text)
        assert (await api.get(path)).headers["etag"] == '"v2"', kind
        stale(await api.patch(path, json={"name": "lost"}, headers={"If-Match": '"v1"'}), '"v2"')
        put_body = {**body, "name": "lost"} if kind in ("triggers", "actions", "conditions") else {"name": "lost"}
        stale(await api.put(path, json=put_body, headers={"If-Match": '"v1"'}), '"v2"')
        stale(await api.delete(path, headers={"If-Match": '"v1"'}), '"v2"')
        assert (await api.get(path)).json()["name"] == f"{kind} renamed {u}", kind
        assert (await api.delete(path, headers={"If-Match": '"v2"'})).status_code == 204, kind
        assert (await api.get(path)).status_code == 404, kind
