"""Answers of the statistics and the dashboard (api/routers/statistics.py, dashboard.py)."""

from __future__ import annotations

from pydantic import Field

from schemas.answers.common import Answer, Timestamp
from schemas.answers.executions import WorkflowRef
from schemas.answers.people import ExecutionLimits, TrialInfo, WorkspaceRef


class WorkspaceStatistics(Answer):
    total_workflows: int
    active_workflows: int
    draft_workflows: int
    paused_workflows: int
    inactive_workflows: int
    scheduled_workflows: int
    archived_workflows: int
    total_executions: int
    recent_executions: int = Field(description="executions started in the last 24 hours")
    successful_executions: int
    failed_executions: int
    cancelled_executions: int
    running_executions: int
    success_rate: float
    failure_rate: float


class WorkflowFigures(Answer):
    executions_total: int
    executions_today: int
    executions_this_week: int
    successful_executions: int
    failed_executions: int
    cancelled_executions: int
    success_rate: float
    error_rate: float
    average_execution_time_seconds: float
    conversions: int = Field(description="executions a goal event converted (settings.goal)")
    conversion_rate: float = Field(description="conversions / executions started")
    waiting_count: int = Field(description="starts waiting for a concurrency slot (settings.concurrency)")
    last_execution_status: str | None
    last_execution_at: Timestamp | None


class Performance(Answer):
    fastest_execution_seconds: float | None
    slowest_execution_seconds: float | None
    average_execution_time_seconds: float


class SeriesPoint(Answer):
    """One day (`date`) or one hour (`hour`) of a series, zeros included."""

    date: str | None = None
    hour: str | None = None
    executions: int
    successes: int
    failures: int
    cancelled: int
    conversions: int = Field(description="executions started that day that a goal event converted")
    conversion_rate: float = Field(description="conversions / executions started that day")
    failure_rate: float


class NodeFigures(Answer):
    node_id: str
    node_name: str
    node_type: str
    in_current_version: bool
    executions_count: int
    success_count: int
    failure_count: int
    success_rate: float
    average_execution_time_ms: float
    fastest_execution_ms: float | None
    slowest_execution_ms: float | None
    last_executed: Timestamp | None


class WorkflowStatistics(Answer):
    workflow_id: str
    statistics: WorkflowFigures
    performance: Performance
    usage_by_day: list[SeriesPoint]
    nodes: list[NodeFigures]
    time_zone: str


class WorkflowCounts(Answer):
    total: int
    active: int


class ExecutionTotals(Answer):
    total: int
    this_month: int
    successful: int
    failed: int
    cancelled: int
    success_rate: float
    failure_rate: float


class RecentExecution(Answer):
    id: str
    workflow: WorkflowRef
    status: str
    started_at: Timestamp
    completed_at: Timestamp | None
    duration_seconds: float | None


class Overview(Answer):
    workspace: WorkspaceRef
    trial_info: TrialInfo | None
    execution_limits: ExecutionLimits
    workflows: WorkflowCounts
    executions: ExecutionTotals
    recent_executions: list[RecentExecution]


class PeriodTotals(Answer):
    executions: int
    successes: int
    failures: int
    cancelled: int
    success_rate: float
    failure_rate: float
    cancellation_rate: float
    average_execution_time_seconds: float


class TopWorkflow(Answer):
    workflow_id: str
    name: str | None
    executions: int
    failures: int
    failure_rate: float


class PeriodStats(Answer):
    period: str
    time_zone: str
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    totals: PeriodTotals
    series: list[SeriesPoint]
    top_workflows: list[TopWorkflow]


class DashboardWorkflow(Answer):
    id: str
    name: str
    description: str
    status: str
    trigger_type: str
    version: int
    nodes_count: int
    executions_count: int
    success_rate: float
    failure_rate: float
    last_execution_status: str | None
    last_executed: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
