"""The projection's fold: one run of records -> one row change per key, as record-by-record would leave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from projections.fold import Fold, Known
from schemas.envelope import Envelope, RecordData, make_envelope
from schemas.records import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    NodeError,
    NodeScheduled,
    NodeSucceeded,
)
from schemas.workflow import Node, NodeType, WorkflowSnapshot

T0 = datetime(2026, 11, 21, 10, 59, 59, 999999, tzinfo=UTC)
WORKFLOW = WorkflowSnapshot(id="wf", workspace_id="ws", version=1, name="w",
                            nodes=(Node(id="a", node_type=NodeType.ACTION),), created_at=T0, updated_at=T0)


def env(data: RecordData, at: datetime = T0) -> Envelope:
    return make_envelope(data, source="tests", workspace_id="ws", time=at)


def started(eid: str, at: datetime = T0) -> tuple[Envelope, RecordData]:
    data = ExecutionStarted(execution_id=eid, workflow=WORKFLOW, trigger_type="event")
    return env(data, at), data


def completed(eid: str, at: datetime, ok: bool = True) -> tuple[Envelope, RecordData]:
    data: RecordData
    if ok:
        data = ExecutionCompleted(execution_id=eid, workflow_id="wf", workflow_version=1, started_at=T0, completed_at=at)
    else:
        data = ExecutionFailed(execution_id=eid, workflow_id="wf", workflow_version=1, started_at=T0, completed_at=at,
                               error=NodeError(code="X", message="no"))
    return env(data, at), data


def succeeded(eid: str, ms: float, attempt: int = 1) -> tuple[Envelope, RecordData]:
    data = NodeSucceeded(execution_id=eid, node_id="a", node_type=NodeType.ACTION, attempt=attempt,
                         input={"action_type": "webhook"}, started_at=T0, completed_at=T0 + timedelta(milliseconds=ms))
    return env(data), data


def fold(known: dict[str, Known | None], *records: tuple[Envelope, RecordData]) -> Fold:
    f = Fold(known)
    for offset, (e, d) in enumerate(records):
        f.add(e, d, offset)
    return f


def test_a_start_creates_the_row_once_and_counts_once() -> None:
    f = fold({"e1": None}, started("e1"), started("e1"))
    change = f.executions["e1"]
    assert change.created is not None and change.known.status == "running"
    assert f.workflow_stats["wf"].started == 1
    assert [(k[1], d.started) for k, d in f.hourly.items()] == [(T0.replace(minute=0, second=0, microsecond=0), 1)]


def test_a_start_for_an_existing_row_changes_nothing() -> None:
    f = fold({"e1": Known("ws", "wf", "completed", T0)}, started("e1"))
    assert f.executions["e1"].created is None and not f.workflow_stats and not f.hourly


def test_results_count_only_while_the_execution_runs() -> None:
    f = fold({"e1": None}, started("e1"), succeeded("e1", 5), completed("e1", T0 + timedelta(seconds=1)),
             succeeded("e1", 7, attempt=2))
    change = f.executions["e1"]
    assert (change.executed, change.succeeded) == (1, 1)
    assert change.end is not None and change.end["status"] == "completed"
    # Node statistics count every result, running or not (as the one-at-a-time handler did).
    assert f.node_stats[("wf", "a")].executions == 2


def test_a_second_final_result_for_one_step_counts_nothing() -> None:
    # A worker killed between its call and its commit writes the same result again.
    f = fold({"e1": None}, started("e1"), succeeded("e1", 5), succeeded("e1", 5))
    assert (f.executions["e1"].executed, f.executions["e1"].succeeded) == (1, 1)
    assert f.node_stats[("wf", "a")].executions == 1


def test_a_result_already_projected_before_the_run_counts_nothing() -> None:
    f = Fold({"e1": Known("ws", "wf", "running", T0)}, final_steps={("e1", "a", 1, -1)})
    e, d = succeeded("e1", 5)
    f.add(e, d, 0)
    assert not f.steps and not f.node_stats and f.executions == {}


def test_records_of_an_execution_without_a_row_touch_only_the_integration_usage() -> None:
    # No row: its workflow was deleted (the deletion removed it, or kept its start out). A step
    # or a counter here would come back or not depending on how the topics interleaved.
    scheduled = NodeScheduled(execution_id="e9", node_id="a", node_type=NodeType.ACTION, attempt=1)
    result = NodeSucceeded(execution_id="e9", node_id="a", node_type=NodeType.ACTION, attempt=1,
                           input={"action_type": "webhook"}, output={"integration_id": "int-1"},
                           started_at=T0, completed_at=T0 + timedelta(milliseconds=5))
    f = fold({"e9": None}, (env(scheduled), scheduled), (env(result), result), completed("e9", T0))
    assert not f.executions and not f.steps and not f.node_stats and not f.workflow_stats and not f.hourly
    assert not f.connectors
    assert f.integrations["int-1"].calls == 1  # the call was made: the integration counts it


def test_a_start_of_a_deleted_workflow_is_stored_and_counted_nowhere_nor_are_its_later_records() -> None:
    f = Fold({"e1": None}, deleted={("wf", "ws"): 2})  # WORKFLOW is version 1, deleted at version 2
    for offset, (e, d) in enumerate((started("e1"), succeeded("e1", 5), completed("e1", T0 + timedelta(seconds=1)))):
        f.add(e, d, offset)
    assert not f.executions and not f.steps and not f.workflow_stats and not f.hourly and not f.node_stats
    assert not f.connectors


def test_a_deletion_spares_versions_after_it_and_other_workspaces() -> None:
    # Re-created under the same id after the deletion: an execution pinning the newer version counts.
    newer = Fold({"e1": None}, deleted={("wf", "ws"): 2})
    d = ExecutionStarted(execution_id="e1", workflow=WORKFLOW.model_copy(update={"version": 3}), trigger_type="event")
    e = env(d)
    newer.add(e, d, 0)
    assert newer.executions["e1"].created is not None and newer.workflow_stats["wf"].started == 1
    elsewhere = Fold({"e1": None}, deleted={("wf", "another-ws"): 5})
    elsewhere.add(e, d, 0)
    assert elsewhere.executions["e1"].created is not None


def test_a_second_end_is_ignored() -> None:
    f = fold({"e1": Known("ws", "wf", "running", T0)}, completed("e1", T0), completed("e1", T0, ok=False))
    stats = f.workflow_stats["wf"]
    assert (stats.executions_total, stats.successes, stats.failures) == (1, 1, 0)


def test_equal_completion_times_the_later_record_wins() -> None:
    at = T0 + timedelta(minutes=5)
    known: dict[str, Known | None] = {e: Known("ws", "wf", "running", T0) for e in ("e1", "e2", "e3")}
    f = fold(known, completed("e1", at), completed("e2", at, ok=False), completed("e3", at - timedelta(seconds=1)))
    assert f.workflow_stats["wf"].last_status == "failed"
    assert f.workflow_stats["wf"].last_execution_at == at


def test_scheduled_then_result_is_one_upsert_keeping_the_scheduled_columns() -> None:
    scheduled = NodeScheduled(execution_id="e1", node_id="a", node_type=NodeType.ACTION, attempt=1, input={"x": 1})
    f = fold({"e1": Known("ws", "wf", "running", T0)}, (env(scheduled, T0 - timedelta(seconds=1)), scheduled), succeeded("e1", 5))
    step = f.steps[("e1", "a", 1, -1)]
    assert step.upsert and step.values["seq"] == 0 and step.values["input_data"] == '{"x":1}'
    assert step.values["scheduled_at"] == T0 - timedelta(seconds=1) and step.values["status"] == "completed"


def test_result_then_scheduled_leaves_the_result() -> None:
    scheduled = NodeScheduled(execution_id="e1", node_id="a", node_type=NodeType.ACTION, attempt=1)
    f = fold({"e1": Known("ws", "wf", "running", T0)}, succeeded("e1", 5), (env(scheduled), scheduled))
    assert f.steps[("e1", "a", 1, -1)].values["status"] == "completed"


def test_duration_sums_are_exact_beyond_28_digits() -> None:
    known: dict[str, Known | None] = {"e1": Known("ws", "wf", "running", T0), "e2": Known("ws", "wf", "running", T0)}
    # 259200000000.0 ms + 0.009000000000000001 ms: 30 significant digits, as numeric keeps them.
    f = fold(known, completed("e1", T0 + timedelta(days=3000)), completed("e2", T0 + timedelta(microseconds=9)))
    assert f.workflow_stats["wf"].total_duration_ms == Decimal("259200000000.009000000000000001")
