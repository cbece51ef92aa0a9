"""Answers of the execution history and the logs around it: executions, their steps,
event logs, action logs (api/routers/executions.py, history.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.answers.common import Answer, JsonObject, Timestamp


class WorkflowRef(Answer):
    id: str
    name: str | None


class VersionedWorkflowRef(WorkflowRef):
    version: int


class ExecutionSummary(Answer):
    id: str
    tracking_id: str = Field(description="seed 003's name for the id")
    workflow: VersionedWorkflowRef
    status: str
    started_at: Timestamp
    completed_at: Timestamp | None
    duration_seconds: float | None
    trigger_type: str
    event_id: str | None
    user_id: str | None = Field(description="the subject the execution ran for")
    input_data: JsonObject
    # A node's output: whatever JSON the last node gave.
    output_data: Any
    nodes_executed: int
    nodes_success: int
    nodes_failed: int
    execution_path: list[str] = Field(description="the node ids in the order they ran")
    performed_by: str
    error_message: str | None
    failed_node: str | None
    retry_of: str | None
    resume_from: str | None
    cancel_reason: str | None
    trigger: JsonObject | None = Field(
        default=None, description="the attached trigger (seed 003) the run came through: id, type, and name, version, priority when known")
    converted_at: Timestamp | None = Field(default=None, description="when the workflow's goal event converted it")


class ExecutionStep(Answer):
    node_id: str
    node_name: str
    node_type: str
    attempt: int
    iteration: int | None = Field(description="the loop iteration; null outside a loop")
    status: str
    retry_at: Timestamp | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_seconds: float | None
    input_data: Any
    output_data: Any
    error: JsonObject | None


class PerformanceMetrics(Answer):
    total_nodes: int
    execution_path_length: int
    average_node_execution_time: float
    api_calls_count: int


class ExecutionDetail(ExecutionSummary):
    retried_by: list[str]
    failure_notified: str | None
    execution_details: list[ExecutionStep]
    performance_metrics: PerformanceMetrics


class TriggerEvaluation(Answer):
    workflow_id: str
    workflow_version: int
    matched: bool
    reason: str
    execution_id: str | None


class FlowDecisionView(Answer):
    """What flow control (settings.throttle / concurrency) did with a start the event matched."""

    workflow_id: str
    execution_id: str
    decision: str = Field(description="started, queued, throttled or refused")
    flow_key: str
    reason: str
    decided_at: Timestamp


class EventLog(Answer):
    id: str
    event_id: str
    event_type: str
    user_id: str | None
    conversation_id: str | None
    event_data: JsonObject
    matched_workflows: int
    triggered_executions: list[str]
    evaluations: list[TriggerEvaluation]
    flow_decisions: list[FlowDecisionView] = Field(default_factory=list)
    processed: bool
    received_at: Timestamp
    created_at: Timestamp


class ActionLog(Answer):
    id: str
    execution: str
    execution_id: str
    workflow: WorkflowRef
    action: str = Field(description="the action's node id")
    action_name: str
    action_type: str
    node_type: str
    attempt: int
    iteration: int | None
    status: str
    success: bool | None
    input_data: JsonObject
    output_data: Any
    error: JsonObject | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    executed_at: Timestamp | None
    duration_ms: float | None
