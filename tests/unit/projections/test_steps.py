"""A steps record is applied as the records it stands for: positions, and the fold's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from projections.fold import FOLDED, Fold, Known
from projections.steps import SLOTS, expand, expand_all
from schemas.codec import decode, encode
from schemas.envelope import Envelope, RecordData, make_envelope
from schemas.records import (
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionSteps,
    NodeError,
    NodeFailed,
    NodeRetryScheduled,
    NodeScheduled,
    NodeStepRecord,
    NodeSucceeded,
)
from schemas.workflow import Node, NodeType, WorkflowSnapshot

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NODES = (Node(id="trigger", node_type=NodeType.TRIGGER), Node(id="check", node_type=NodeType.CONDITION),
         Node(id="call", node_type=NodeType.HTTP_REQUEST), Node(id="tag", node_type=NodeType.ACTION))
WORKFLOW = WorkflowSnapshot(id="wf", workspace_id="ws", version=1, name="w", nodes=NODES, created_at=T0, updated_at=T0)
ERROR = NodeError(code="HTTP_503", message="busy", retryable=True, integration_id="int-1")


def env(data: RecordData, at: datetime) -> Envelope:
    e = make_envelope(data, source="tests", workspace_id="ws", execution_id="e1", time=at)
    return decode(encode(e))[0]


def ok(node: str, node_type: NodeType, at: datetime, done: datetime | None = None) -> NodeSucceeded:
    return NodeSucceeded(execution_id="e1", node_id=node, node_type=node_type, attempt=1, input={"x": node},
                         output={"result": True}, started_at=at, completed_at=done or at)


def transactions() -> list[tuple[datetime, list[RecordData]]]:
    """One execution as the executor and the worker write it, by transaction: the executor's
    inline results and the next scheduling together, a worker's result alone."""
    t1, t2, t3 = T0 + timedelta(milliseconds=5), T0 + timedelta(milliseconds=40), T0 + timedelta(milliseconds=90)
    scheduled = NodeScheduled(execution_id="e1", node_id="call", node_type=NodeType.HTTP_REQUEST, attempt=1,
                              input={"action_type": "http_request"})
    failed = NodeFailed(execution_id="e1", node_id="call", node_type=NodeType.HTTP_REQUEST, attempt=1,
                        input={"action_type": "http_request"}, error=ERROR, started_at=t1, completed_at=t2)
    retry = NodeRetryScheduled(execution_id="e1", node_id="call", attempt=1, next_attempt=2, delay_seconds=0,
                               retry_at=t2, error=ERROR)
    again = scheduled.model_copy(update={"attempt": 2})
    result = NodeSucceeded(execution_id="e1", node_id="call", node_type=NodeType.HTTP_REQUEST, attempt=2,
                           input={"action_type": "http_request"}, output={"status": 200, "integration_id": "int-1"},
                           started_at=t2, completed_at=t3)
    end = ExecutionCompleted(execution_id="e1", workflow_id="wf", workflow_version=1, started_at=T0, completed_at=t3)
    return [
        (T0, [ExecutionStarted(execution_id="e1", workflow=WORKFLOW, trigger_type="event")]),
        (t1, [ok("trigger", NodeType.TRIGGER, t1), ok("check", NodeType.CONDITION, t1), scheduled]),
        (t2, [failed]),  # the worker's
        (t2, [retry, again]),  # the executor's: an immediate retry
        (t3, [result]),  # the worker's
        (t3, [ok("tag", NodeType.ACTION, t3), end]),
    ]


def as_pairs() -> list[tuple[Envelope, RecordData, int]]:
    items: list[tuple[Envelope, RecordData, int]] = []
    for at, records in transactions():
        for data in records:
            items.append((env(data, at), data, len(items)))
    return items


def compacted() -> list[tuple[Envelope, RecordData, int]]:
    """The same, with each transaction's consecutive node steps as one ExecutionSteps (as Step writes them)."""
    items: list[tuple[Envelope, RecordData, int]] = []
    for at, records in transactions():
        run: list[NodeStepRecord] = []
        for data in [*records, None]:
            if isinstance(data, NodeScheduled | NodeSucceeded | NodeFailed | NodeRetryScheduled):
                run.append(data)
                continue
            if len(run) > 1:
                steps = ExecutionSteps.of("e1", run)
                items.append((env(steps, at), decode(encode(env(steps, at)))[1], len(items)))
            elif run:
                items.append((env(run[0], at), run[0], len(items)))
            run = []
            if data is not None:
                items.append((env(data, at), data, len(items)))
    return items


def test_a_steps_record_expands_to_its_steps_under_its_envelope_at_consecutive_positions() -> None:
    items = compacted()
    steps = [(e, d, o) for e, d, o in items if type(d) is ExecutionSteps]
    assert len(steps) == 2 and len(items) < len(as_pairs())
    e, d, offset = steps[0]
    expanded = expand(e, d, offset)
    assert isinstance(d, ExecutionSteps) and [x[1] for x in expanded] == d.records()
    assert all(x[0] is e for x in expanded)
    assert [x[2] for x in expanded] == [offset * SLOTS + i for i in range(len(expanded))]


def test_any_other_record_is_itself_at_the_start_of_its_offsets_block() -> None:
    e, d, _ = as_pairs()[0]
    assert expand(e, d, 7) == [(e, d, 7 * SLOTS)]


def test_positions_keep_log_order_and_never_collide() -> None:
    positions = [p for _, _, p in expand_all(compacted())]
    assert all(a < b for a, b in pairwise(positions))
    # A record written before blocks (seq = its offset) still sorts before what comes after it.
    assert 5 < expand(*as_pairs()[1][:2], 5)[0][2]
    assert [d for _, d, _ in expand_all(compacted())] == [d for _, d, _ in as_pairs()]


def _rows(f: Fold) -> dict[str, object]:
    steps = {k: {c: v for c, v in s.values.items() if c != "seq"} | {"upsert": s.upsert} for k, s in f.steps.items()}
    order = [k for k, _ in sorted(f.steps.items(), key=lambda kv: kv[1].values["seq"])]
    return {
        "executions": f.executions, "steps": steps, "order": order, "workflow_stats": f.workflow_stats,
        "hourly": f.hourly, "node_stats": f.node_stats, "connectors": f.connectors, "integrations": f.integrations,
    }


def fold(fold: Fold, items: list[tuple[Envelope, RecordData, int]]) -> Fold:
    # As apply_batch feeds it: the expanded records of the folded types (a retry's own
    # handler sets retry_at between runs; tests/integration/test_projection_batches.py).
    for e, d, p in expand_all(items):
        if type(d) in FOLDED:
            fold.add(e, d, p)
    return fold


def test_the_fold_of_steps_records_is_the_fold_of_their_pairs() -> None:
    """execution_steps, node_stats, workflow_stats, hourly stats, connector and integration counters: the same."""
    pairs, compact = fold(Fold({"e1": None}), as_pairs()), fold(Fold({"e1": None}), compacted())
    assert _rows(compact) == _rows(pairs)
    assert compact.records == pairs.records == 9
    assert pairs.node_stats[("wf", "check")].executions == 1 and pairs.connectors  # the history counts things


def test_steps_of_an_execution_with_a_row_only_update_it() -> None:
    def known() -> dict[str, Known | None]:
        return {"e1": Known("ws", "wf", "running", T0)}  # a fresh one each: the fold updates it

    pairs, compact = fold(Fold(known()), as_pairs()[1:]), fold(Fold(known()), compacted()[1:])
    assert _rows(compact) == _rows(pairs)
    assert compact.executions["e1"].executed == 5 and compact.executions["e1"].created is None
