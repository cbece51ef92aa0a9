"""Answers about workflows: the workflow itself (detail and list), status transitions,
its nodes and edges, its graph and validation, and seed 003's attached triggers and
actions (api/routers/workflows.py, graph.py, workflow_links.py).

A workflow's view is its snapshot as pydantic dumps it (timestamps with `Z`), so its
parts are the snapshot's own models (schemas/workflow.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.answers.common import Answer, JsonObject, Timestamp
from schemas.answers.statistics import WorkflowFigures
from schemas.workflow import Edge, Node, Port, Position, WorkflowSettings


class ProjectRef(Answer):
    """Seed 004's project: its id and its name, answered only when the name is known."""

    tracking_id: str
    name: str


class WorkflowTrigger(Answer):
    """A reusable trigger attached to the workflow: the reference (trigger_id, priority,
    specific_conditions) and seed 003's view of the trigger (id, trigger_name, is_active)."""

    trigger_id: str
    priority: int
    specific_conditions: JsonObject | None
    id: str = Field(description="seed 003's name for trigger_id")
    trigger_name: str | None = Field(description="the trigger's name; null once the trigger is deleted")
    is_active: bool = Field(description="whether the trigger matches events; false once it is deleted")


class WorkflowAction(Answer):
    """A reusable action attached to the workflow: the reference (action_id, order) and seed
    003's view of the action (id, action_name, action_type, is_required)."""

    action_id: str
    order: int | None = Field(description="the order it runs in: the workflow's, else the action's own; null once the action is deleted")
    id: str = Field(description="seed 003's name for action_id")
    action_name: str | None = Field(description="the action's name; null once the action is deleted")
    action_type: str | None = Field(description="null once the action is deleted")
    is_required: bool


class WorkflowBase(Answer):
    id: str
    tracking_id: str = Field(description="seed 003's name for the id")
    workspace_id: str
    version: int
    name: str
    description: str
    project: str | ProjectRef | None = Field(
        description="the project id as given; seed 004's {tracking_id, name} when the project's name is known too")
    status: str
    trigger_type: str
    trigger_config: JsonObject = Field(description="as configured; a webhook workflow's has its webhook_url too")
    settings: WorkflowSettings
    max_executions: int | None
    delay_between_executions: int
    start_date: datetime | None
    end_date: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    triggers: list[WorkflowTrigger]
    actions: list[WorkflowAction]
    triggers_count: int = Field(description="seed 003: how many triggers are attached")
    actions_count: int = Field(description="seed 003: how many actions are attached")
    nodes_count: int
    edges_count: int


class RecentRun(Answer):
    id: str
    status: str
    started_at: Timestamp
    completed_at: Timestamp | None


class Workflow(WorkflowBase):
    """A workflow whole. `statistics` and seed 004's run counters (`executions_count`,
    `success_rate`, `last_executed`, as in the list) come with a read or an edit,
    `recent_executions` with a read (GET)."""

    nodes: list[Node]
    edges: list[Edge]
    statistics: WorkflowFigures | None = None
    recent_executions: list[RecentRun] | None = None
    executions_count: int | None = None
    success_rate: float | None = Field(default=None, description="successful executions over executions started")
    last_executed: Timestamp | None = None


class WorkflowSummary(WorkflowBase):
    """A workflow in a list: without its nodes and edges, with its run counters."""

    executions_count: int
    success_rate: float
    last_executed: Timestamp | None


class Transitioned(Answer):
    """A status change: `<past tense>_at` names the action (activated_at, paused_at, ...);
    a webhook workflow's answer has its webhook_url."""

    message: str
    workflow_id: str
    status: str
    version: int
    activated_at: Timestamp | None = None
    deactivated_at: Timestamp | None = None
    paused_at: Timestamp | None = None
    archived_at: Timestamp | None = None
    reset_at: Timestamp | None = None
    webhook_url: str | None = None


# -- nodes and edges ---------------------------------------------------------------------


class NodeStatistics(Answer):
    executions_count: int
    success_count: int
    failure_count: int
    average_execution_time_ms: float
    last_executed: Timestamp | None


class GraphNode(Answer):
    """One node of a workflow. An edit's answer has the new `workflow_version`, a read's
    the node's `execution_statistics`."""

    id: str
    tracking_id: str
    workflow: str = Field(description="the workflow's id")
    name: str
    node_type: str
    position: Position
    config: JsonObject
    inputs: list[Port]
    outputs: list[Port]
    created_at: Timestamp
    updated_at: Timestamp
    workflow_version: int | None = None
    execution_statistics: NodeStatistics | None = None


class GraphEdge(Answer):
    """One edge of a workflow; a created one's answer has the new `workflow_version`."""

    id: str
    tracking_id: str
    workflow: str
    source_node: str
    target_node: str
    condition: str | None
    condition_id: str | None = Field(default=None, description="a reusable condition used instead of `condition`")
    label: str | None
    style: JsonObject | None
    created_at: Timestamp
    workflow_version: int | None = None


class GraphWorkflow(Answer):
    id: str
    name: str
    status: str
    version: int


class LaidOutNode(Answer):
    id: str
    name: str
    type: str
    position: Position
    config: JsonObject
    inputs: list[Port]
    outputs: list[Port]


class LaidOutEdge(Answer):
    id: str
    source: str
    target: str
    condition: str | None
    label: str | None
    style: JsonObject | None


class Layout(Answer):
    direction: str
    spacing: int
    algorithm: str
    positions: dict[str, Position]


class GraphMetadata(Answer):
    total_nodes: int
    total_edges: int
    execution_paths: int
    complexity_score: int
    complexity_formula: str


class Graph(Answer):
    workflow: GraphWorkflow
    nodes: list[LaidOutNode]
    edges: list[LaidOutEdge]
    layout: Layout
    metadata: GraphMetadata


class Check(Answer):
    check: str
    status: str = Field(description="passed, warning or failed")
    message: str


class ValidationIssue(Answer):
    code: str
    check: str
    field: str
    message: str
    node_id: str | None
    edge_id: str | None


class ValidationWarning(ValidationIssue):
    type: str


class Validation(Answer):
    workflow_id: str
    version: int
    validation_status: str
    is_valid: bool
    can_execute: bool
    checks: list[Check]
    issues: list[ValidationIssue]
    warnings: list[ValidationWarning]


# -- seed 003's attached triggers and actions ------------------------------------------------


class AttachedTrigger(Answer):
    id: str
    trigger_id: str
    trigger_name: str
    name: str
    trigger_type: str
    listens_to: str | None
    priority: int
    specific_conditions: JsonObject | None
    is_active: bool
    version: int
    webhook_id: str | None = Field(default=None, description="a webhook trigger: the inbound webhook it gives this workflow")
    webhook_url: str | None = Field(default=None, description="a webhook trigger: the URL that starts this workflow")


class AttachedAction(Answer):
    id: str
    action_id: str
    action_name: str
    name: str
    action_type: str
    order: int
    delay: float
    is_required: bool
    is_active: bool
    configuration: JsonObject
    node_id: str = Field(description="the node the action compiles to in a run")
    version: int


class TriggersChanged(Answer):
    message: str
    workflow_id: str
    version: int
    triggers: list[AttachedTrigger]


class ActionsChanged(Answer):
    message: str
    workflow_id: str
    version: int
    actions: list[AttachedAction]
