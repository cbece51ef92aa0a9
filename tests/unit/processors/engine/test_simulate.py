"""The simulator's round-trip mode: the state through its changelog encoding after every step.

An executor that restarts, or takes over a partition, continues each execution
from the state it reads back from the changelog, not from the objects the
previous owner held. `simulate(..., roundtrip=True)` runs every step that way;
its records must be the records of a plain run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import processors.engine.simulate as module
from processors.engine import machine
from processors.engine.simulate import _through_changelog, dry_run_perform, simulate
from schemas.codec import decode_record
from schemas.envelope import RecordData
from schemas.records import ExecutionCancelRequested, ExecutionStarted, NodeError, NodeWorkOrdered

HISTORIES = Path(__file__).parent / "histories"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


NAMES = sorted(p.stem for p in HISTORIES.glob("*.json"))


def started(name: str) -> ExecutionStarted:
    """The first `execution.started` of a committed history: a real workflow, pinned as it ran.

    Decoded afresh for every run, as the executor decodes every record: `advance` keeps
    the record's context dict as the state's and changes it (a contact action updates
    `context.user`), so a record object shared by two runs would carry the first run's changes.
    """
    first = orjson.loads((HISTORIES / f"{name}.json").read_bytes())["steps"][0]["input"]
    _, data = decode_record(orjson.dumps(first))
    assert isinstance(data, ExecutionStarted)
    return data


def flaky(order: NodeWorkOrdered) -> dict[str, Any] | NodeError:
    """Every first attempt fails (retryable); retries and everything else succeed."""
    if order.attempt == 1 and order.node_id != "__on_failure__":
        return NodeError(code="HTTP_503", message="unavailable", retryable=True)
    return dry_run_perform(order)


def dumped(records: list[Any]) -> list[bytes]:
    return [orjson.dumps({"type": r.TYPE, "data": r.model_dump(mode="json")}) for r in records]


@pytest.mark.parametrize("perform", [dry_run_perform, flaky], ids=["succeeding", "failing first"])
@pytest.mark.parametrize("name", NAMES)
def test_a_round_trip_run_writes_the_records_of_a_plain_run(name: str, perform: Any) -> None:
    plain = simulate(started(name), workspace_id="ws-acme", now=T0, perform=perform)
    restored = simulate(started(name), workspace_id="ws-acme", now=T0, perform=perform, roundtrip=True)
    assert plain.records, name
    assert dumped(restored.records) == dumped(plain.records)
    assert restored.status == plain.status
    assert restored.clock == plain.clock


def test_a_cancel_injected_mid_wait_is_the_same_in_both_modes() -> None:
    execution_id = started("cancel_during_wait").execution_id
    cancel = ExecutionCancelRequested(execution_id=execution_id, requested_by="owner@acme.test", reason="no longer needed")
    extra: list[tuple[datetime, RecordData]] = [(T0 + timedelta(hours=1), cancel)]
    plain = simulate(started("cancel_during_wait"), workspace_id="ws-acme", now=T0, extra=extra)
    restored = simulate(started("cancel_during_wait"), workspace_id="ws-acme", now=T0, extra=extra, roundtrip=True)
    assert plain.status == restored.status == "cancelled"
    assert dumped(restored.records) == dumped(plain.records)


def test_the_changelog_encoding_is_not_the_identity() -> None:
    """What the round trip would catch: a state holding what JSON does not (tuples, datetimes) comes back changed."""
    state = {"path": ("a", "b"), "at": T0, "nodes": {"a": {"attempt": 1}}}
    assert _through_changelog(state) == {"path": ["a", "b"], "at": "2026-03-02T09:00:00+00:00", "nodes": {"a": {"attempt": 1}}}


def test_round_trip_mode_restores_the_state_before_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step after the first starts from what the changelog gave back, not from the object `advance` returned."""
    fed: list[Any] = []  # the state each `advance` call was given
    restored: list[Any] = []  # what each round trip gave back
    real_advance = machine.advance

    def advance(state: Any, *args: Any) -> Any:
        fed.append(state)
        return real_advance(state, *args)

    def through(state: dict[str, Any]) -> dict[str, Any]:
        back = _through_changelog(state)
        restored.append(back)
        return back

    monkeypatch.setattr(module, "advance", advance)
    monkeypatch.setattr(module, "_through_changelog", through)
    plain = simulate(started("loop_with_wait_and_retry"), workspace_id="ws-acme", now=T0)
    assert restored == []
    fed.clear()
    run = simulate(started("loop_with_wait_and_retry"), workspace_id="ws-acme", now=T0, roundtrip=True)
    assert fed[0] is None
    assert len(restored) == len(fed) > 10
    assert all(given is back for given, back in zip(fed[1:], restored, strict=False))
    assert run.state is restored[-1]
    assert run.state == plain.state
