"""The executor passes over, undecoded, only records that `advance` would ignore anyway."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from processors.engine.machine import ACTS_ON, SOURCE, advance
from processors.services.executor import Executor
from schemas.envelope import RecordData, make_envelope, now
from schemas.outputs import Output
from schemas.records import RECORD_TYPES, ExecutionStarted, NodeSucceeded
from schemas.topics import EXECUTIONS
from schemas.workflow import Node, NodeType, WorkflowSnapshot

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "schemas"))
from test_compatibility import examples  # one example record of every type


def _running() -> dict[str, object]:
    stamp = now()
    workflow = WorkflowSnapshot(
        id="wf", workspace_id="ws", version=1, name="w", created_at=stamp, updated_at=stamp,
        nodes=(Node(id="t", node_type=NodeType.TRIGGER), Node(id="call", node_type=NodeType.ACTION,
                                                                 config={"action_type": "webhook", "url": "http://x"})),
    )
    start = ExecutionStarted(execution_id="ex-1", workflow=workflow, trigger_type="event")
    state, _ = advance(None, make_envelope(start, source="t", workspace_id="ws", execution_id="ex-1"), start, now())
    assert state is not None and state["status"] == "running"
    return state


@pytest.mark.parametrize("type_name", sorted(set(RECORD_TYPES) - ACTS_ON))
def test_advance_ignores_every_type_outside_acts_on(type_name: str) -> None:
    state = _running()
    data: RecordData = examples()[type_name]
    env = make_envelope(data, source="t", workspace_id="ws", execution_id="ex-1")
    assert advance(state, env, data, now()) == (state, [])


def _headers(data: RecordData, source: str) -> list[tuple[str, bytes]]:
    return Output.of(EXECUTIONS, "ex-1", make_envelope(data, source=source, workspace_id="ws")).headers


def test_wants_from_headers() -> None:
    executor = Executor()
    records = examples()
    for type_name in EXECUTIONS.type_names:
        headers = _headers(records[type_name], "processor/worker")
        assert executor.wants(headers) == (type_name in ACTS_ON), type_name
    # Its own node results come back as echoes of steps it already applied.
    assert not executor.wants(_headers(records[NodeSucceeded.TYPE], SOURCE))
    assert executor.wants(_headers(records[ExecutionStarted.TYPE], SOURCE))
    # No headers to go by (an older record, another producer): decoded as before.
    assert executor.wants([("content-type", b"application/cloudevents+json")])


def test_wants_a_retired_type_since_only_the_decoder_knows_what_it_becomes(monkeypatch: pytest.MonkeyPatch) -> None:
    from processors.services import executor as executor_module
    from schemas.upcasting import Upcasters

    registry = Upcasters(RECORD_TYPES)
    registry.register("fluxo.timer.fired.v0")(lambda data: ("fluxo.timer.fired.v1", data))
    monkeypatch.setattr(executor_module, "UPCASTERS", registry)
    headers = [("fluxo-type", b"fluxo.timer.fired.v0"), ("fluxo-source", b"urn:fluxo:processor/timers")]
    assert Executor().wants(headers)
    assert not Executor().wants([("fluxo-type", b"fluxo.other.v0"), ("fluxo-source", b"urn:fluxo:processor/timers")])
