"""Answers of running workflows from the API: a queued run, a dry run, a cancel, a retry
(api/routers/runs.py), and the public ingest answers (events, hooks). The ingest ones
stay small: those routes are the hot path and answer their dict straight away."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.answers.common import Answer, JsonObject
from schemas.answers.workflows import ValidationIssue


class EventQueued(Answer):
    """POST /triggers/process_event: the event is durable (acks=all) once this answers."""

    success: bool
    event_log_id: str
    message: str


class RunQueued(Answer):
    execution_id: str
    status: str = Field(description="queued")
    workflow_id: str
    workflow_version: int | None = Field(default=None, description="absent from a webhook's answer")


class CancelAnswer(Answer):
    """200 once the execution stopped (status is its end state); 202 while it is still
    cancelling (the executor stops it at its next step boundary)."""

    execution_id: str
    status: str
    reason: str


class RetryQueued(Answer):
    execution_id: str
    retry_of: str
    resume_from: str | None = Field(description="the failed node the retry resumes from; null to start over")
    status: str
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
    output_data: JsonObject | None
    error: JsonObject | None


class WorkflowTest(Answer):
    """A dry run on the real state machine with a virtual clock. An invalid graph answers
    only success, status (invalid), validation_results, execution_path and results."""

    success: bool
    status: str
    dry_run: bool | None = None
    workflow_version: int | None = None
    execution_path: list[str]
    results: dict[str, Any] = Field(description="each node's output, by node id")
    node_results: list[StepResult] | None = None
    error: JsonObject | None = None
    validation_results: TestValidation
    simulated_duration_seconds: float | None = None
    execution_time_seconds: float | None = None
