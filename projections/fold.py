"""Folds a run of hot-path records into the rows they leave behind. Pure: no I/O.

Applying records one at a time cost 1-5 awaited SQL statements each, which
bounded the projection (and `fluxo replay`) to ~2,000 records/s. Instead the
projection folds a run of the frequent record types (an execution's start,
steps and end, and trigger evaluations) into one row change per key, and
`projections/batch.py` writes those with one multi-row statement per table.

The fold reproduces exactly what the one-at-a-time handlers in
`projections/readmodels.py` would leave, record by record, in order:
- whether a record takes effect depends on the execution row as it is at
  that point in the run (`executions.status = 'running'`, whether the row
  exists at all), so the fold starts from the rows the database holds for the
  run's executions (`Known`) and tracks them through the run;
- counters become deltas; "last writer wins" columns keep the last record's
  value; LEAST/GREATEST columns keep the min/max; sums of durations stay exact
  (`Decimal`, as the numeric columns are), so a replay that applies records in
  other batch sizes reproduces them digit for digit.
- a start of an execution of a deleted workflow (`deleted`, read from the
  `deleted_workflows` table before the run: a run holds no definitions record)
  makes no row, and records of an execution with no row store no step and count
  nothing but the integration's usage, as readmodels' handlers do.
Record types not folded here are applied by their handler between runs
(`projections/batch.py`), so their order relative to the folded ones is kept.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from schemas.envelope import Envelope, RecordData
from schemas.records import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    NodeFailed,
    NodeScheduled,
    NodeSucceeded,
    TriggerEvaluated,
)

# The record types folded here; every other type keeps its one-at-a-time handler.
FOLDED: frozenset[type[RecordData]] = frozenset({
    ExecutionStarted, NodeScheduled, NodeSucceeded, NodeFailed, ExecutionCompleted, ExecutionFailed,
    TriggerEvaluated,
})
# Upper bounds (seconds) of the automation_execution_duration_seconds histogram buckets.
METRIC_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONNECTOR_NODE_TYPES = frozenset({"action", "http_request", "database_query"})

# Python's default context rounds at 28 digits; PostgreSQL's numeric never rounds a sum.
_EXACT = decimal.Context(prec=400, Emin=-999999, Emax=999999)


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def exact(milliseconds: float) -> Decimal:
    # Exact sums: the same whatever order or batch size a replay applies records in.
    return Decimal(repr(milliseconds))


def hour_of(moment: datetime) -> datetime:
    """The UTC hour an execution is counted in (computed here: SQL's date_trunc follows the session zone)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def iteration_of(d: Any) -> int:
    # -1 for "not in a loop" keeps (execution, node, attempt, iteration) a plain primary key.
    return -1 if d.iteration is None else int(d.iteration)


def _add(a: Decimal, b: Decimal) -> Decimal:
    return _EXACT.add(a, b)


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _max(a: float | None, b: float) -> float:
    return b if a is None else max(a, b)


@dataclass
class Known:
    """An execution row as the run sees it: what decides whether a record takes effect."""

    workspace_id: str
    workflow_id: str
    status: str
    started_at: datetime


@dataclass
class ExecutionChange:
    """What the run does to one executions row."""

    known: Known
    # Set when the row is created in this run: the INSERT's column values.
    created: dict[str, Any] | None = None
    executed: int = 0
    succeeded: int = 0
    failed: int = 0
    # Set when the execution ended (completed or failed) in this run.
    end: dict[str, Any] | None = None


@dataclass
class StepChange:
    """One execution_steps row: inserted if absent (scheduled) or upserted (a result)."""

    values: dict[str, Any]
    upsert: bool


@dataclass
class WorkflowStatsDelta:
    workspace_id: str
    started: int = 0
    executions_total: int = 0
    successes: int = 0
    failures: int = 0
    total_duration_ms: Decimal = field(default_factory=lambda: Decimal(0))
    fastest_ms: float | None = None
    slowest_ms: float | None = None
    last_status: str | None = None
    last_execution_at: datetime | None = None


@dataclass
class HourlyDelta:
    workspace_id: str
    started: int = 0
    completed: int = 0
    failed: int = 0
    duration_ms: Decimal = field(default_factory=lambda: Decimal(0))


@dataclass
class NodeStatsDelta:
    workspace_id: str
    node_type: str
    executions: int = 0
    successes: int = 0
    failures: int = 0
    duration_ms: Decimal = field(default_factory=lambda: Decimal(0))
    fastest_ms: float | None = None
    slowest_ms: float | None = None
    last_executed_at: datetime | None = None


@dataclass
class ConnectorDelta:
    count: int = 0
    duration_sum: Decimal = field(default_factory=lambda: Decimal(0))
    buckets: list[int] = field(default_factory=lambda: [0] * len(METRIC_BUCKETS))


@dataclass
class IntegrationDelta:
    calls: int = 0
    failed: int = 0
    last_used_at: datetime | None = None
    last_error: str | None = None


@dataclass
class ContactChange:
    values: dict[str, Any]
    events: int = 0


@dataclass
class Fold:
    """The row changes of one run of folded records. Feed records in log order with `add`."""

    known: dict[str, Known | None]
    # Deleted workflows, (workflow id, workspace id) -> the deleted version: a start of an
    # execution that pinned a version up to it is stored and counted nowhere (readmodels'
    # `_workflow_deleted`). Given as data: the run holds no definitions record, so it is
    # the same set from the first record of the run to the last.
    deleted: dict[tuple[str, str], int] = field(default_factory=dict)
    # Steps whose final result is already projected (before or earlier in this run): a
    # second result for one (a worker killed between its call and its commit writes it
    # again) counts nothing, as in readmodels' one-at-a-time path.
    final_steps: set[tuple[str, str, int, int]] = field(default_factory=set)
    executions: dict[str, ExecutionChange] = field(default_factory=dict)
    steps: dict[tuple[str, str, int, int], StepChange] = field(default_factory=dict)
    workflow_stats: dict[str, WorkflowStatsDelta] = field(default_factory=dict)
    hourly: dict[tuple[str, datetime], HourlyDelta] = field(default_factory=dict)
    node_stats: dict[tuple[str, str], NodeStatsDelta] = field(default_factory=dict)
    connectors: dict[tuple[str, str, str, str], ConnectorDelta] = field(default_factory=dict)
    integrations: dict[str, IntegrationDelta] = field(default_factory=dict)
    event_logs: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[tuple[str, str], ContactChange] = field(default_factory=dict)
    records: int = 0

    @staticmethod
    def execution_ids(items: list[tuple[Envelope, RecordData, int]]) -> set[str]:
        """The executions whose current rows the fold needs (`known`)."""
        return {d.execution_id for _, d, _ in items if type(d) is not TriggerEvaluated}  # type: ignore[attr-defined]

    def add(self, env: Envelope, d: RecordData, offset: int) -> None:
        # Dispatch on the exact type: isinstance on pydantic models goes through
        # ABCMeta and was a measurable share of the fold.
        kind = type(d)
        self.records += 1
        if kind is NodeSucceeded or kind is NodeFailed:
            self._node_done(env, d, offset)  # type: ignore[arg-type]
        elif kind is NodeScheduled:
            self._scheduled(env, d, offset)  # type: ignore[arg-type]
        elif kind is ExecutionStarted:
            self._started(env, d)  # type: ignore[arg-type]
        elif kind is ExecutionCompleted or kind is ExecutionFailed:
            self._ended(d)  # type: ignore[arg-type]
        elif kind is TriggerEvaluated:
            self._trigger_evaluated(env, d)  # type: ignore[arg-type]
        else:
            raise TypeError(f"{kind.__name__} is not folded")

    # -- executions ----------------------------------------------------------
    def _change(self, execution_id: str) -> ExecutionChange | None:
        change = self.executions.get(execution_id)
        if change is not None:
            return change
        known = self.known.get(execution_id)
        if known is None:
            return None
        change = self.executions[execution_id] = ExecutionChange(known)
        return change

    def _has_row(self, execution_id: str) -> bool:
        return execution_id in self.executions or self.known.get(execution_id) is not None

    def _started(self, env: Envelope, d: ExecutionStarted) -> None:
        if self._change(d.execution_id) is not None:
            return  # the row exists: a duplicate start changes nothing
        w = d.workflow
        if self.deleted.get((w.id, env.workspaceid), 0) >= w.version:
            return  # its workflow is deleted: no row, so its later records change nothing either
        known = Known(env.workspaceid, w.id, "running", env.time)
        self.known[d.execution_id] = known
        self.executions[d.execution_id] = ExecutionChange(known, created={
            "id": d.execution_id, "workspace_id": env.workspaceid, "workflow_id": w.id,
            "workflow_version": w.version, "workflow_name": w.name, "trigger_type": d.trigger_type,
            "event_id": d.event_id, "subject": d.subject, "performed_by": d.performed_by,
            "nodes": json_text({n.id: {"name": n.name, "type": n.node_type.value} for n in w.nodes}),
            "input_data": json_text(d.context.get("input_data") or {}), "started_at": env.time,
            "context": json_text(d.context), "retry_of": d.retry_of, "resume_from": d.resume_from,
        })
        self._count_hour(w.id, env.workspaceid, env.time, "started", 0.0)
        self._workflow_stats(w.id, env.workspaceid).started += 1

    def _ended(self, d: ExecutionCompleted | ExecutionFailed) -> None:
        change = self._change(d.execution_id)
        if change is None or change.known.status != "running":
            return
        ok = type(d) is ExecutionCompleted
        status = "completed" if ok else "failed"
        duration_ms = (d.completed_at - d.started_at).total_seconds() * 1000
        change.known.status = status
        change.end = {
            "status": status,
            "output_data": json_text(d.output) if ok else None,  # type: ignore[union-attr]
            "error_message": None if ok else d.error.message,  # type: ignore[union-attr]
            "failed_node": None if ok else d.failed_node,  # type: ignore[union-attr]
            "execution_path": json_text(list(d.execution_path)),
            "completed_at": d.completed_at,
            "duration_ms": duration_ms,
        }
        known = change.known
        stats = self._workflow_stats(d.workflow_id, known.workspace_id)
        stats.executions_total += 1
        stats.successes += 1 if ok else 0
        stats.failures += 0 if ok else 1
        stats.total_duration_ms = _add(stats.total_duration_ms, exact(duration_ms))
        stats.fastest_ms = _min(stats.fastest_ms, duration_ms)
        stats.slowest_ms = _max(stats.slowest_ms, duration_ms)
        # A later record with the same time wins, as it did one record at a time.
        if stats.last_execution_at is None or d.completed_at >= stats.last_execution_at:
            stats.last_status, stats.last_execution_at = status, d.completed_at
        self._count_hour(d.workflow_id, known.workspace_id, known.started_at, status, duration_ms)

    def _workflow_stats(self, workflow_id: str, workspace_id: str) -> WorkflowStatsDelta:
        stats = self.workflow_stats.get(workflow_id)
        if stats is None:
            stats = self.workflow_stats[workflow_id] = WorkflowStatsDelta(workspace_id)
        return stats

    def _count_hour(self, workflow_id: str, workspace_id: str, started_at: datetime, column: str, duration_ms: float) -> None:
        key = (workflow_id, hour_of(started_at))
        delta = self.hourly.get(key)
        if delta is None:
            delta = self.hourly[key] = HourlyDelta(workspace_id)
        setattr(delta, column, getattr(delta, column) + 1)
        delta.duration_ms = _add(delta.duration_ms, exact(duration_ms))

    # -- steps ---------------------------------------------------------------
    def _scheduled(self, env: Envelope, d: NodeScheduled, offset: int) -> None:
        if not self._has_row(d.execution_id):
            return  # no execution row (its workflow was deleted): the step is stored nowhere either
        key = (d.execution_id, d.node_id, d.attempt, iteration_of(d))
        if key in self.steps:
            return  # an earlier record of this run already made the row: insert-if-absent does nothing
        self.steps[key] = StepChange({
            "workspace_id": env.workspaceid, "node_type": str(d.node_type), "status": "running",
            "input_data": json_text(d.input), "output_data": None, "error": None, "seq": offset,
            "scheduled_at": env.time, "started_at": None, "completed_at": None, "duration_ms": None,
        }, upsert=False)

    def _node_done(self, env: Envelope, d: NodeSucceeded | NodeFailed, offset: int) -> None:
        ok = type(d) is NodeSucceeded
        node_type = str(d.node_type)
        duration_ms = (d.completed_at - d.started_at).total_seconds() * 1000
        result = {
            "status": "completed" if ok else "failed",
            "output_data": json_text(d.output) if ok else None,  # type: ignore[union-attr]
            "error": None if ok else json_text(d.error.model_dump(mode="json")),  # type: ignore[union-attr]
            "started_at": d.started_at, "completed_at": d.completed_at, "duration_ms": duration_ms,
        }
        if not self._has_row(d.execution_id):
            # An execution of a deleted workflow: no step, no node or connector counter. The
            # integration's own usage counts the call it made, deleted workflow or not.
            self._integration_usage(d, ok)
            return
        key = (d.execution_id, d.node_id, d.attempt, iteration_of(d))
        if key in self.final_steps:
            return
        self.final_steps.add(key)
        step = self.steps.get(key)
        if step is None:
            # The row may or may not exist: insert it whole, or update the result columns.
            self.steps[key] = StepChange({
                "workspace_id": env.workspaceid, "node_type": node_type,
                "input_data": json_text(d.input), "seq": offset, "scheduled_at": d.started_at, **result,
            }, upsert=True)
        else:
            # The row exists after the earlier record: only the result columns change.
            step.values.update(result)
            step.upsert = True

        change = self._change(d.execution_id)
        assert change is not None  # _has_row
        # Counters only while the execution runs: a late side-channel result (the
        # failure notification) is a step, not a node of the execution.
        if change.known.status == "running":
            change.executed += 1
            change.succeeded += 1 if ok else 0
            change.failed += 0 if ok else 1
        known = change.known
        self._integration_usage(d, ok)
        if d.node_id.startswith("__"):
            return  # side-channel steps (the failure notification) are not nodes nor connector calls of the workflow
        self._connector_metrics(env, d, ok, node_type, known)
        self._node_stats(env, d, ok, node_type, duration_ms, known)

    def _node_stats(
        self, env: Envelope, d: NodeSucceeded | NodeFailed, ok: bool, node_type: str, duration_ms: float, known: Known
    ) -> None:
        key = (known.workflow_id, d.node_id)
        stats = self.node_stats.get(key)
        if stats is None:
            stats = self.node_stats[key] = NodeStatsDelta(env.workspaceid, node_type)
        stats.node_type = node_type
        stats.executions += 1
        stats.successes += 1 if ok else 0
        stats.failures += 0 if ok else 1
        stats.duration_ms = _add(stats.duration_ms, exact(duration_ms))
        stats.fastest_ms = _min(stats.fastest_ms, duration_ms)
        stats.slowest_ms = _max(stats.slowest_ms, duration_ms)
        if stats.last_executed_at is None or d.completed_at > stats.last_executed_at:
            stats.last_executed_at = d.completed_at

    def _connector_metrics(
        self, env: Envelope, d: NodeSucceeded | NodeFailed, ok: bool, node_type: str, known: Known
    ) -> None:
        if node_type not in CONNECTOR_NODE_TYPES:
            return  # inline steps (trigger, condition, ...) are not connector calls
        seconds = (d.completed_at - d.started_at).total_seconds()
        connector = str(d.input.get("action_type") or node_type)
        key = (env.workspaceid, connector, "success" if ok else "failure", known.workflow_id)
        delta = self.connectors.get(key)
        if delta is None:
            delta = self.connectors[key] = ConnectorDelta()
        delta.count += 1
        delta.duration_sum = _add(delta.duration_sum, Decimal(repr(seconds)))
        for i, bound in enumerate(METRIC_BUCKETS):
            if seconds <= bound:
                delta.buckets[i] += 1

    def _integration_usage(self, d: NodeSucceeded | NodeFailed, ok: bool) -> None:
        integration_id = d.output.get("integration_id") if ok else d.error.integration_id  # type: ignore[union-attr]
        if not isinstance(integration_id, str):
            return
        delta = self.integrations.get(integration_id)
        if delta is None:
            delta = self.integrations[integration_id] = IntegrationDelta()
        delta.calls += 1
        if delta.last_used_at is None or d.completed_at > delta.last_used_at:
            delta.last_used_at = d.completed_at
        if not ok:
            delta.failed += 1
            delta.last_error = f"{d.error.code}: {d.error.message}"[:500]  # type: ignore[union-attr]

    # -- trigger log ---------------------------------------------------------
    def _trigger_evaluated(self, env: Envelope, d: TriggerEvaluated) -> None:
        if d.event_id not in self.event_logs:  # insert-if-absent: the first one wins
            self.event_logs[d.event_id] = {
                "id": d.event_id, "workspace_id": env.workspaceid, "event_type": d.event_type,
                "user_id": d.user_id, "conversation_id": d.conversation_id, "data": json_text(d.event_data),
                "matched_workflows": sum(1 for e in d.evaluations if e.matched),
                "evaluations": json_text([e.model_dump(mode="json") for e in d.evaluations]),
                "received_at": env.time,
            }
        if d.profile is None or not env.subject or not (d.user_id or d.conversation_id):
            return
        p = d.profile
        values = {
            "workspace_id": env.workspaceid, "id": env.subject, "email": _str(p.get("email")),
            "first_name": _str(p.get("first_name")), "last_name": _str(p.get("last_name")),
            "tags": [t for t in p.get("tags", []) if isinstance(t, str)],
            "conversation_status": _str(p.get("conversation_status")), "profile": json_text(p),
            "last_event_type": d.event_type, "last_event_at": env.time,
        }
        key = (env.workspaceid, env.subject)
        contact = self.contacts.get(key)
        if contact is None:
            contact = self.contacts[key] = ContactChange(values)
        contact.values = values  # the latest event's profile wins
        contact.events += 1


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
