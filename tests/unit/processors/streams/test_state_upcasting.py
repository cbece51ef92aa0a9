"""Processor state carries its kind and version; state stored before versions reads as version 1.

`stored/` holds changelog values as the executor, the matcher and the timer
service wrote them before state had versions (stored/generate.py says how
they were made). Each decodes through its topic's codec to the current
shape, and a restored execution still runs to its end.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest

from processors.engine.machine import advance
from processors.matching.triggers import SubjectState
from processors.streams.state import StateStore
from schemas.envelope import make_envelope
from schemas.errors import StateVersionError
from schemas.records import ExecutionCompleted, TimerFired
from schemas.state_versions import StateCodec, StateKind, workflow_reference
from schemas.topics import EXECUTOR_STATE, MATCHER_STATE, TIMER_STATE, TopicSpec

STORED = Path(__file__).resolve().parent / "stored"
TOPICS = {spec.name.removeprefix("fluxo.").removesuffix(".v1"): spec for spec in (EXECUTOR_STATE, MATCHER_STATE, TIMER_STATE)}
# The kind each stored value is: the executor's two, the matcher's one, the timer service's two.
KINDS = {
    "executor-state/ex-wait": "execution",
    "executor-state/ex-done": "finished",
    "executor-state/ex-done-untimed": "finished",
    "matcher-state/ws-1:u-1": "subject",
    "timer-state/timer:c0fbede4-2db1-5d30-a653-f8ad055b1b42": "timer",
    "timer-state/cron:wf-cron": "cron",
    "timer-state/cron:wf-cron:tr-1": "cron",
}


def stored() -> list[tuple[TopicSpec, str, bytes]]:
    return [
        (TOPICS[path.parent.name], unquote(path.stem), path.read_bytes())
        for path in sorted(STORED.glob("*/*.json"))
    ]


def test_every_stored_value_is_named_with_its_kind() -> None:
    assert sorted(f"{spec.name.removeprefix('fluxo.').removesuffix('.v1')}/{key}" for spec, key, _ in stored()) == sorted(KINDS)


@pytest.mark.parametrize(("spec", "key", "raw"), stored(), ids=lambda v: v if isinstance(v, str) else "")
def test_an_unversioned_value_decodes_as_version_1_of_its_kind(spec: TopicSpec, key: str, raw: bytes) -> None:
    assert spec.state is not None
    state = spec.state.decode(key, raw)
    topic = spec.name.removeprefix("fluxo.").removesuffix(".v1")
    kind = KINDS[f"{topic}/{key}"]
    old = orjson.loads(raw)
    if kind == "execution":
        # The one kind past version 1: upcast to version 2, which names the pinned workflow.
        assert state == {**old, "workflow_id": "wf-wait", "workflow_version": 2,
                         "workflow_ref": workflow_reference(old["workflow"])}
    else:
        # A kind still at version 1: the value is the state, unchanged.
        assert state == old
    written = orjson.loads(spec.state.encode(key, state))
    assert written == {"k": kind, "v": spec.state.kinds[kind].version, "s": state}


@pytest.mark.parametrize(("spec", "key", "raw"), stored(), ids=lambda v: v if isinstance(v, str) else "")
def test_encode_then_decode_is_the_identity(spec: TopicSpec, key: str, raw: bytes) -> None:
    assert spec.state is not None
    state = spec.state.decode(key, raw)
    assert spec.state.decode(key, spec.state.encode(key, state)) == state


def test_the_store_writes_versioned_values_through_the_topics_codec() -> None:
    store = StateStore()
    store.put(0, "ws-1:u-1", SubjectState(profile={"email": "a@example.com"}).to_json())
    store.put(0, "gone", None)
    first, tombstone = store.changelog(MATCHER_STATE)
    assert first.value is not None and orjson.loads(first.value) == {
        "k": "subject", "v": 1, "s": {"profile": {"email": "a@example.com"}, "runs": {}}
    }
    assert tombstone.value is None


def test_a_topic_without_a_codec_is_no_state_changelog() -> None:
    store = StateStore()
    store.put(0, "k", {"a": 1})
    with pytest.raises(ValueError, match="names no state codec"):
        store.changelog(TopicSpec("fluxo.plain.v1", key="k", cleanup="compact", holds="nothing"))


def test_a_restored_unversioned_execution_runs_on_to_its_end() -> None:
    """What the executor does after a restore: advance the decoded state with the timer it waits on."""
    raw = (STORED / "executor-state" / "ex-wait.json").read_bytes()
    assert EXECUTOR_STATE.state is not None
    state = EXECUTOR_STATE.state.decode("ex-wait", raw)
    (timer_key,) = [p.stem for p in (STORED / "timer-state").glob("timer*")]
    timer = orjson.loads((STORED / "timer-state" / f"{timer_key}.json").read_bytes())
    assert TIMER_STATE.state is not None
    assert TIMER_STATE.state.decode(unquote(timer_key), orjson.dumps(timer)) == timer
    fire_at = datetime.fromisoformat(timer["fire_at"])
    fired = TimerFired(timer_id=timer["timer_id"], execution_id="ex-wait", purpose="wait", node_id=timer["node_id"],
                       attempt=timer["attempt"], fire_at=fire_at, fired_at=fire_at)
    env = make_envelope(fired, source="processor/timers", workspace_id="ws-1", execution_id="ex-wait")
    new_state, outputs = advance(state, env, fired, fire_at + timedelta(milliseconds=5))
    assert new_state is not None and new_state["status"] == "completed"
    types = [orjson.loads(out.value)["type"] for out in outputs if out.value]
    assert ExecutionCompleted.TYPE in types


# -- a state kind through versions 1 → 2 → 3, test-local ------------------------------------
def _v1_v2(state: dict[str, Any]) -> dict[str, Any]:
    # v2 nested the workflow's id and version under "pinned".
    workflow = state["workflow"]
    return {**{k: v for k, v in state.items() if k != "workflow"}, "pinned": {"id": workflow["id"], "version": workflow["version"]}}


def _v2_v3(state: dict[str, Any]) -> dict[str, Any]:
    # v3 renamed "nodes" to "steps".
    return {**{k: v for k, v in state.items() if k != "nodes"}, "steps": state["nodes"]}


EXECUTION_V3 = StateKind("execution", version=3, upcasters={1: _v1_v2, 2: _v2_v3})
FINISHED_V1 = StateKind("finished")
CODEC_V3 = StateCodec(
    EXECUTION_V3, FINISHED_V1, kind_of=lambda key, s: "execution" if s.get("status") == "running" else "finished"
)
EX_WAIT = (STORED / "executor-state" / "ex-wait.json").read_bytes()


def test_an_unversioned_value_is_upcast_from_version_1_to_the_current_one() -> None:
    old = orjson.loads(EX_WAIT)
    state = CODEC_V3.decode("ex-wait", EX_WAIT)
    assert state["pinned"] == {"id": "wf-wait", "version": 2} and state["steps"] == old["nodes"]
    assert "workflow" not in state and "nodes" not in state
    # Written back at the current version, and read again unchanged.
    assert orjson.loads(CODEC_V3.encode("ex-wait", state))["v"] == 3
    assert CODEC_V3.decode("ex-wait", CODEC_V3.encode("ex-wait", state)) == state


def test_a_chain_starts_at_the_stored_version() -> None:
    v2 = _v1_v2(orjson.loads(EX_WAIT))
    assert CODEC_V3.decode("ex-wait", orjson.dumps({"k": "execution", "v": 2, "s": v2})) == _v2_v3(v2)


def test_a_kind_at_version_1_is_not_touched_by_another_kinds_upcasters() -> None:
    marker = (STORED / "executor-state" / "ex-done.json").read_bytes()
    assert CODEC_V3.decode("ex-done", marker) == orjson.loads(marker)


@pytest.mark.parametrize(("value", "reason"), [
    ({"k": "execution", "v": 4, "s": {}}, "execution state 'ex-1' is version 4, newer than this process's 3"),
    ({"k": "paused", "v": 1, "s": {}}, "state 'ex-1' is of kind 'paused', not one of ['execution', 'finished']"),
    ({"k": "execution", "v": "2", "s": {}}, "state 'ex-1' has a malformed version envelope: k='execution' v='2'"),
    ({"k": "execution", "v": 0, "s": {}}, "state 'ex-1' has a malformed version envelope: k='execution' v=0"),
])
def test_a_value_this_process_cannot_read_stops_the_restore(value: dict[str, Any], reason: str) -> None:
    with pytest.raises(StateVersionError) as info:
        CODEC_V3.decode("ex-1", orjson.dumps(value))
    assert info.value.message == reason


def test_a_timer_state_key_of_no_known_kind_is_refused() -> None:
    assert TIMER_STATE.state is not None
    with pytest.raises(StateVersionError, match="of kind 'lease'"):
        TIMER_STATE.state.decode("lease:1", b'{"a": 1}')
    with pytest.raises(StateVersionError, match="not JSON"):
        TIMER_STATE.state.decode("timer:1", b"{")


def test_a_kind_needs_an_upcaster_from_every_older_version() -> None:
    with pytest.raises(ValueError, match=r"needs one upcaster from each of versions \[1, 2\], has \[1\]"):
        StateKind("execution", version=3, upcasters={1: _v1_v2})
    with pytest.raises(ValueError, match="needs kind_of"):
        StateCodec(EXECUTION_V3, FINISHED_V1)



# -- the executor's execution state, version 1 -> 2 -------------------------------------------
V1 = STORED / "v1" / "executions"


@pytest.mark.parametrize("path", sorted(V1.glob("*.json")), ids=lambda p: p.stem)
def test_a_version_1_execution_is_upcast_to_name_its_pinned_workflow(path: Path) -> None:
    """stored/v1/: the changelog values of the executor of 4 Dec 2026 (generate_v1.py), whole workflow inside."""
    value = orjson.loads(path.read_bytes())["state"]
    assert (value["k"], value["v"]) == ("execution", 1) and "workflow_ref" not in value["s"]
    assert EXECUTOR_STATE.state is not None
    state = EXECUTOR_STATE.state.decode(path.stem, orjson.dumps(value))
    inline = value["s"]["workflow"]
    assert state == {**value["s"], "workflow_id": inline["id"], "workflow_version": inline["version"],
                     "workflow_ref": workflow_reference(inline)}
    assert state["workflow_ref"].startswith(f"{inline['id']}:{inline['version']}:")
    again = orjson.loads(EXECUTOR_STATE.state.encode(path.stem, state))
    assert (again["k"], again["v"]) == ("execution", 2)
    assert EXECUTOR_STATE.state.decode(path.stem, EXECUTOR_STATE.state.encode(path.stem, state)) == state


def test_a_workflow_snapshot_entry_is_its_own_kind() -> None:
    assert EXECUTOR_STATE.state is not None
    snapshot = orjson.loads((V1 / "ex-old-wait.json").read_bytes())["state"]["s"]["workflow"]
    key = "workflow:" + workflow_reference(snapshot)
    written = orjson.loads(EXECUTOR_STATE.state.encode(key, snapshot))
    # "status": "active" in the snapshot must not make it read as a finished marker.
    assert (written["k"], written["v"]) == ("workflow", 1)
    assert EXECUTOR_STATE.state.decode(key, EXECUTOR_STATE.state.encode(key, snapshot)) == snapshot
