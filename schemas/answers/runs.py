"""Answers of running workflows from the API: a queued run, a dry run, a cancel, a retry
(api/routers/runs.py), and the public ingest answers (events, hooks). The ingest ones
stay small: those routes are the hot path and answer their dict straight away."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.answers.common import Answer, JsonObject, Timestamp
from schemas.answers.workflows import ValidationIssue


class EventQueued(Answer):
    """POST /triggers/process_event: the event is durable (acks=all) once this answers."""

    success: bool
    event_log_id: str
    message: str


class ItemError(Answer):
    code: str
    message: str
    fields: dict[str, Any] = Field(default_factory=dict, description="the item's field at fault, by its path in the item")


class EventItemResult(Answer):
    """One item of a batch: accepted with its event id, or refused with the field at fault."""

    index: int = Field(description="the item's position in the array sent")
    success: bool
    event_log_id: str | None = None
    error: ItemError | None = None


class EventsQueued(Answer):
    """POST /triggers/process_events: every accepted item is durable (acks=all) once this answers."""

    success: bool = Field(description="true when every item was accepted")
    accepted: int
    rejected: int
    results: list[EventItemResult]


class RunQueued(Answer):
    execution_id: str
    status: str = Field(description="queued (a webhook's start); running (a manual run: listed as running once this answers)")
    workflow_id: str
    workflow_version: int | None = Field(default=None, description="absent from a webhook's answer")


class RunStarted(RunQueued):
    """POST /workflows/{id}/execute: seed 004's answer. The execution is listed (running)
    once this answers."""

    started_at: Timestamp = Field(description="the execution's start, as its detail and the lists give it")
    input_data: JsonObject = Field(description="the run's input data, as its nodes read it (`input_data.…`)")


class CancelAnswer(Answer):
    """200 once the execution stopped (status is its end state); 202 while it is still
    cancelling (the executor stops it at its next step boundary)."""

    message: str
    execution_id: str
    status: str
    reason: str
    cancelled_at: Timestamp | None = Field(description="when the execution ended cancelled; null while still cancelling or if it ended otherwise")
    nodes_completed: int = Field(description="the workflow's nodes with a completed step (a node run in several loop iterations counts once)")
    nodes_remaining: int = Field(
        description="the workflow's other nodes: the one stopped mid-way and those never reached"
        " (on a branching graph some of them would never have run)")


class RetryQueued(Answer):
    """POST /executions/{id}/retry: a new execution, listed as running once this answers.
    `execution_id`/`retry_of`/`resume_from` and seed 004's `new_execution_id`/
    `original_execution_id`/`retry_from_node` say the same."""

    message: str
    execution_id: str
    retry_of: str
    resume_from: str | None = Field(description="the failed node the retry resumes from; null to start over")
    new_execution_id: str
    original_execution_id: str
    retry_from_node: str | None = Field(description="seed 004's name for resume_from")
    status: str = Field(description="running")
    started_at: Timestamp
    workflow_version: int


class Issue(Answer):
    field: str
    message: str
    code: str | None = None


class TestValidation(Answer):
    all_nodes_connected: bool
    no_circular_dependencies: bool
    all_required_inputs_provided: bool
    is_valid: bool
    issues: list[Issue]
    warnings: list[ValidationIssue]


class StepResult(Answer):
    node_id: str
    node_type: str
    attempt: int
    iteration: int | None
    status: str
    input_data: JsonObject
    output_data: JsonObject | None = Field(default=None, description="null for a failed step; left out with capture_outputs false")
    error: JsonObject | None


class TestPerformance(Answer):
    """How long the dry run took. Seed 004's `memory_usage_mb` is left out: it is not measured."""

    duration_seconds: float = Field(description="the run's duration on the virtual clock: waits count in full, connectors answer at once")
    execution_time_seconds: float = Field(description="wall-clock time the API spent simulating it")


class TestResults(Answer):
    """Seed 004's summary of a dry run, counted as an execution's own counters are."""

    nodes_executed: int = Field(description="node results (every attempt and loop iteration) before the run ended")
    nodes_success: int
    nodes_failed: int
    execution_path: list[str]
    outputs: JsonObject | None = Field(
        default=None,
        description="what the run would answer as its output_data (the path's node outputs merged); null unless it"
        " completed; left out with capture_outputs false")
    performance: TestPerformance


class WorkflowTest(Answer):
    """A dry run on the real state machine with a virtual clock. A graph GET /validate calls
    invalid is refused (422, the same issues) before anything runs; `validation_results`
    then holds only its warnings. `capture_outputs: false` leaves `results`,
    `test_results.outputs` and each step's `output_data` out."""

    test_execution_id: str = Field(description="the dry run's own id (dry-run-…); no execution is stored under it")
    success: bool
    status: str
    dry_run: bool
    workflow_version: int
    execution_path: list[str]
    results: dict[str, Any] | None = Field(default=None, description="each node's output, by node id")
    node_results: list[StepResult]
    test_results: TestResults
    error: JsonObject | None
    validation_results: TestValidation
    simulated_duration_seconds: float
    execution_time_seconds: float
    cancel_reason: str | None = Field(default=None, description="why it was cancelled: an exit rule (exit_when[i]) on a test event")
    converted_at: Timestamp | None = Field(default=None, description="when a test event reached the workflow's goal (virtual clock)")
