"""Replays the committed execution histories (histories/*.json) through `advance`.

Each history is what the executor read and what `advance` wrote back in one
execution, recorded by histories/record.py with stand-ins for the services
around it (matcher, API, worker, timers) on a virtual clock.
Replaying the inputs from empty state at the recorded times must give exactly
the recorded outputs: the same records, ids, order, topics, keys, headers and
content. A difference means an execution already in flight when the change is
deployed would continue differently from how it started (histories/README.md
says what to do then).

Every history runs twice: with the state kept in memory between records, as a
running executor does, and with the state through its changelog encoding after
every record (`simulate._through_changelog`), as an executor that restored its
partitions from the changelog (a restart, a rebalance) sees it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from processors.engine.machine import State, advance, finished_marker, result_id
from processors.engine.simulate import _through_changelog
from schemas.codec import decode_record
from schemas.outputs import Output
from schemas.records import NodeFailed, NodeSucceeded, NodeWorkOrdered

HISTORIES = Path(__file__).parent / "histories"
FORMAT = 1
# The scenarios the folder must hold: a missing file must fail, not shrink the parametrisation.
SCENARIOS = frozenset({
    "branching_condition_true", "branching_condition_false", "parallel_join", "loop_items", "wait",
    "retry_then_success", "retry_then_failure_path", "retry_exhausted_failed", "cancel_during_wait",
    "retry_from_node", "attached_actions", "execution_timeout", "code_condition_and_record", "loop_with_wait_and_retry",
})
WORKER = "urn:fluxo:processor/worker"
MODES: dict[str, Callable[[State], State] | None] = {"in memory": None, "through the changelog": _through_changelog}


def load(name: str) -> dict[str, Any]:
    history: dict[str, Any] = orjson.loads((HISTORIES / f"{name}.json").read_bytes())
    assert history["format"] == FORMAT, f"{name}: format {history['format']}, this test reads {FORMAT}"
    assert history["scenario"] == name
    return history


def output_json(output: Output) -> dict[str, Any]:
    """An output as the recorder wrote it (record.py `output_json`)."""
    assert output.value is not None
    return {
        "topic": output.topic.name,
        "key": output.key,
        "headers": [[name, value.decode()] for name, value in output.headers],
        "envelope": orjson.loads(output.value),
    }


def replay(history: dict[str, Any], stored: Callable[[State], State] | None) -> Iterator[list[dict[str, Any]]]:
    """Each step's outputs, the inputs fed as the executor feeds them (Executor._one)."""
    states: dict[str, State | None] = {}
    for step in history["steps"]:
        at = datetime.fromisoformat(step["at"])
        envelope, data = decode_record(orjson.dumps(step["input"]))
        execution_id = envelope.executionid
        assert execution_id is not None
        state = states.get(execution_id)
        new_state, outputs = advance(state, envelope, data, at)
        if new_state is not state or outputs:
            if new_state is not None and new_state.get("status") != "running":
                new_state = finished_marker(new_state, at.timestamp())
            states[execution_id] = new_state
        current = states.get(execution_id)
        if stored is not None and current is not None:
            states[execution_id] = stored(current)
        yield [output_json(o) for o in outputs]


def first_difference(recorded: Any, replayed: Any, path: str = "") -> str | None:
    """Where two JSON values first differ ('envelope.data.attempt: ...'), or None. 1, 1.0 and True differ."""
    if type(recorded) is not type(replayed):
        return f"{path or '(value)'}: recorded {recorded!r}, replayed {replayed!r}"
    if isinstance(recorded, dict):
        for key in sorted(recorded.keys() | replayed.keys()):
            where = f"{path}.{key}" if path else key
            if key not in replayed:
                return f"{where}: recorded {recorded[key]!r}, missing from the replay"
            if key not in recorded:
                return f"{where}: not recorded, replayed {replayed[key]!r}"
            found = first_difference(recorded[key], replayed[key], where)
            if found:
                return found
        return None
    if isinstance(recorded, list):
        for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        if len(recorded) != len(replayed):
            return f"{path}: {len(recorded)} items recorded, {len(replayed)} replayed"
        return None
    return None if recorded == replayed else f"{path or '(value)'}: recorded {recorded!r}, replayed {replayed!r}"


def describe(output: dict[str, Any]) -> str:
    envelope = output["envelope"]
    return f"{envelope['type']} {envelope['id']} on {output['topic']}"


def step_difference(recorded: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> str | None:
    for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
        if (a["topic"], a["envelope"]["type"]) != (b["topic"], b["envelope"]["type"]):
            # Another record in this place (one missing, one added): say which, before any field.
            return f"output {index}: recorded {describe(a)}, replayed {describe(b)}"
        if a["envelope"]["id"] != b["envelope"]["id"]:
            # The id first: the record a consumer would take for a new one.
            return f"output {index} ({describe(a)}): envelope.id: recorded {a['envelope']['id']!r}, replayed {b['envelope']['id']!r}"
        found = first_difference(a, b)
        if found:
            return f"output {index} ({describe(a)}): {found}"
    if len(recorded) > len(replayed):
        return f"{len(recorded)} outputs recorded, {len(replayed)} replayed; first missing: {describe(recorded[len(replayed)])}"
    if len(replayed) > len(recorded):
        return f"{len(recorded)} outputs recorded, {len(replayed)} replayed; first extra: {describe(replayed[len(recorded)])}"
    return None


def test_the_folder_holds_every_scenario_and_nothing_else() -> None:
    assert {p.stem for p in HISTORIES.glob("*.json")} == SCENARIOS


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_recorded_history_replays_to_exactly_its_records(name: str, mode: str) -> None:
    history = load(name)
    steps = history["steps"]
    replayed = replay(history, MODES[mode])
    for index, step in enumerate(steps):
        outputs = next(replayed)
        found = step_difference(step["outputs"], outputs)
        if found:
            pytest.fail(
                f"history {name} ({mode}), step {index} ({step['input']['type']} {step['input']['id']} at {step['at']}): {found}\n"
                "An execution in flight would diverge here; see tests/unit/processors/engine/histories/README.md.",
                pytrace=False,
            )
    assert sum(len(s["outputs"]) for s in steps) > 0


def test_recorded_worker_results_carry_the_ids_result_id_derives() -> None:
    """The worker names its result after the order (`result_id`): a second delivery is the same record.

    The replay feeds the recorded ids back, so a change to `result_id` would not show in
    the executor's outputs; it would make an upgraded worker's result for an order an
    older one already answered a different record.
    """
    checked = 0
    for name in sorted(SCENARIOS):
        orders: dict[tuple[str, str, int, int | None], NodeWorkOrdered] = {}
        for index, step in enumerate(load(name)["steps"]):
            envelope, data = decode_record(orjson.dumps(step["input"]))
            if envelope.source == WORKER and isinstance(data, NodeSucceeded | NodeFailed):
                order = orders[(data.execution_id, data.node_id, data.attempt, data.iteration)]
                kind = "succeeded" if isinstance(data, NodeSucceeded) else "failed"
                assert envelope.id == result_id(kind, order), f"history {name}, step {index}: the worker's {kind} result id"
                checked += 1
            for output in step["outputs"]:
                _, made = decode_record(orjson.dumps(output["envelope"]))
                if isinstance(made, NodeWorkOrdered):
                    orders[(made.execution_id, made.node_id, made.attempt, made.iteration)] = made
    assert checked >= 20


def test_a_changed_record_is_reported_at_its_step_and_field() -> None:
    history = load("retry_then_success")
    tampered = orjson.loads(orjson.dumps(history))
    tampered["steps"][2]["outputs"][1]["envelope"]["data"]["attempt"] = 3
    replayed = replay(history, None)
    differences = [step_difference(step["outputs"], next(replayed)) for step in tampered["steps"]]
    assert differences[2] == "output 1 (fluxo.node.work_ordered.v1 " + tampered["steps"][2]["outputs"][1]["envelope"]["id"] + \
        " on fluxo.node-work.v1): envelope.data.attempt: recorded 3, replayed 2"
    assert [i for i, d in enumerate(differences) if d] == [2]


def test_a_missing_output_is_reported() -> None:
    history = load("parallel_join")
    recorded = history["steps"][0]["outputs"]
    replayed = replay(history, None)
    found = step_difference([*recorded, recorded[0]], next(replayed))
    assert found == f"{len(recorded) + 1} outputs recorded, {len(recorded)} replayed; first missing: {describe(recorded[0])}"


def test_numbers_and_booleans_of_the_same_value_differ() -> None:
    assert first_difference({"a": [1]}, {"a": [1.0]}) == "a[0]: recorded 1, replayed 1.0"
    assert first_difference({"a": True}, {"a": 1}) == "a: recorded True, replayed 1"


def recorder() -> ModuleType:
    """histories/record.py, loaded from its file (the tests are not a package)."""
    name = "fluxo_histories_record"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HISTORIES / "record.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_recorder_records_the_scenarios_this_test_expects() -> None:
    assert set(recorder().SCENARIOS) == SCENARIOS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_recording_again_rewrites_the_committed_bytes(name: str) -> None:
    """The files are the recorder's output, untouched, and recording depends on no clock or ordering accident."""
    record = recorder()
    assert record.dumps(record.SCENARIOS[name]().document()) == (HISTORIES / f"{name}.json").read_bytes(), (
        f"history {name} is not what the recorder writes now; if the change is intended, re-record it "
        f"(python -m tests.unit.processors.engine.histories.record {name}) and say so in the commit"
    )
