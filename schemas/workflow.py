"""Workflow definitions: the graph of nodes and edges, its triggers and settings.

These models are both the body of definition snapshots on Kafka and the
building blocks of the API models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)


class NodeType(StrEnum):
    TRIGGER = "trigger"
    ACTION = "action"
    CONDITION = "condition"
    TRANSFORM = "transform"
    DELAY = "delay"
    LOOP = "loop"
    HTTP_REQUEST = "http_request"
    DATABASE_QUERY = "database_query"
    # Waits for a matching event of the contact (or a timeout): out-edges `received` / `timeout`.
    WAIT_FOR_EVENT = "wait_for_event"


class WorkflowStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    INACTIVE = "inactive"
    SCHEDULED = "scheduled"
    ARCHIVED = "archived"


class TriggerType(StrEnum):
    EVENT = "event"
    WEBHOOK = "webhook"
    CRON = "cron"
    MANUAL = "manual"
    API_CALL = "api_call"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Position(Frozen):
    x: float = 0
    y: float = 0


class Port(Frozen):
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(default="any", max_length=50)
    required: bool = False
    description: str | None = Field(default=None, max_length=2000)


class Node(Frozen):
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=200)
    node_type: NodeType
    position: Position = Position()
    config: dict[str, Any] = Field(default_factory=dict)
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _unset(value: object) -> bool:
    return value is None


class ConditionPin(Frozen):
    """A reusable condition (seed 003's /conditions) as it was when the workflow version
    referencing it was written: runs evaluate this, whatever the condition became since."""

    id: str = Field(min_length=1, max_length=100)
    version: int = Field(ge=1)
    name: str = ""
    operator: str = "and"
    conditions: tuple[dict[str, Any], ...] = ()
    use_custom_code: bool = False
    custom_code: str | None = None
    language: str = "python"

    def tree(self) -> dict[str, Any]:
        """The filter tree, as a condition written inline would be."""
        return {"operator": self.operator, "conditions": [dict(c) for c in self.conditions]}


class Edge(Frozen):
    id: str = Field(min_length=1, max_length=100)
    source_node: str = Field(min_length=1, max_length=100)
    target_node: str = Field(min_length=1, max_length=100)
    condition: str | None = Field(default=None, max_length=4000)
    label: str | None = Field(default=None, max_length=200)
    style: dict[str, Any] | None = None
    created_at: datetime | None = None
    # A reusable condition instead of `condition`, and its version pinned when this
    # workflow version was written (processors/matching/condition_refs.py). Unset, they are
    # left out when written: an edge without a reference has the same bytes as before
    # references existed (stored records, recorded histories).
    condition_id: str | None = Field(default=None, min_length=1, max_length=100, exclude_if=_unset)
    condition_ref: ConditionPin | None = Field(default=None, exclude_if=_unset)


MAX_TIMEOUT = 30 * 24 * 3600
_TIMEOUT_SCHEMA: dict[str, Any] = {
    "type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT, "title": "Timeout Seconds",
    "description": "seconds the whole execution may take, waits included; absent: no timeout",
}


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # the absent key is the default; a null would not be an integer


class ExitRule(Frozen):
    """`settings.exit_when[i]`: a matching event of the contact ends the running execution."""

    event_type: str = Field(min_length=1, max_length=100)
    # CEL over `event` (the arriving one) and the execution's context; absent: any such event.
    condition: str | None = Field(default=None, max_length=4000)


class GoalRule(Frozen):
    """`settings.goal`: a matching event within `within_seconds` of the start converts the execution."""

    event_type: str = Field(min_length=1, max_length=100)
    condition: str | None = Field(default=None, max_length=4000)
    within_seconds: int = Field(ge=1, le=366 * 86400)


class Throttle(Frozen):
    """`settings.throttle`: at most `limit` starts per key per `period_seconds`; the others start nothing."""

    limit: int = Field(ge=1, le=1_000_000)
    period_seconds: int = Field(ge=1, le=366 * 86400)
    # CEL over the start context (user, event, input_data, ...): whose starts are counted together.
    key: str = Field(default="user.id", min_length=1, max_length=1000)


class Concurrency(Frozen):
    """`settings.concurrency`: at most `limit` running executions per key; the others wait in order."""

    limit: int = Field(ge=1, le=10_000)
    key: str = Field(default="user.id", min_length=1, max_length=1000)


class WorkflowSettings(Frozen):
    # A bound on the whole execution, waits included (like Temporal's execution timeout);
    # none unless the workflow sets one. A default one failed every wait longer than it
    # (seed 003's "Wait 10 Minutes" at 300 s); `/validate` warns when a wait exceeds it.
    # "None" is written as no key at all (see `_no_timeout_is_no_key`), so the published
    # schema stays the integer it was: no consumer of the streams meets a null here.
    timeout_seconds: Annotated[int | None, WithJsonSchema(_TIMEOUT_SCHEMA)] = Field(
        default=None, ge=1, le=MAX_TIMEOUT, json_schema_extra=_no_default,
    )
    retry_on_failure: bool = False
    max_retries: int = Field(default=0, ge=0, le=20)
    # Retries wait base * 2^(attempt-1) seconds (capped), with jitter.
    retry_backoff_seconds: float = Field(default=1.0, ge=0, le=3600)
    retry_max_backoff_seconds: float = Field(default=300.0, ge=0, le=86400)
    notifications: dict[str, Any] = Field(default_factory=dict)
    # Journeys (README "Journeys"): events of the contact that end, or convert, an execution.
    exit_when: tuple[ExitRule, ...] = Field(default=(), max_length=20)
    goal: GoalRule | None = None
    # Flow control, decided by the matcher per key (processors/matching/flow.py).
    throttle: Throttle | None = None
    concurrency: Concurrency | None = None
    # CEL over the start context giving an integer: starts waiting for a concurrency slot
    # start highest first (arrival order among equals).
    priority: str | None = Field(default=None, min_length=1, max_length=1000)

    @model_serializer(mode="wrap")
    def _no_timeout_is_no_key(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Unset journey settings are no keys either: snapshots written before them stay byte-equal.
        data: dict[str, Any] = handler(self)
        for name in ("timeout_seconds", "goal", "throttle", "concurrency", "priority"):
            if data.get(name) is None:
                data.pop(name, None)
        if not data.get("exit_when"):
            data.pop("exit_when", None)
        return data


class TriggerRef(Frozen):
    """A reusable trigger (seed 003's /triggers) attached to a workflow."""

    trigger_id: str = Field(min_length=1, max_length=100)
    priority: int = Field(default=100, ge=0, le=1_000_000)
    # A filter tree (or CEL) that must hold too, for this workflow only.
    specific_conditions: dict[str, Any] | None = None


class ActionRef(Frozen):
    """A reusable action (seed 003's /actions) run by a workflow, in `order`."""

    action_id: str = Field(min_length=1, max_length=100)
    # None: the action's own order.
    order: int | None = Field(default=None, ge=0, le=1_000_000)


class WorkflowSnapshot(Frozen):
    """One version of a workflow, complete: what the executor pins when it starts."""

    id: str
    workspace_id: str
    version: int = Field(ge=1)
    name: str
    description: str = ""
    project: str | None = None
    status: WorkflowStatus = WorkflowStatus.DRAFT
    trigger_type: TriggerType = TriggerType.EVENT
    trigger_config: dict[str, Any] = Field(default_factory=dict)
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    settings: WorkflowSettings = WorkflowSettings()
    max_executions: int | None = Field(default=None, ge=0)
    delay_between_executions: int = Field(default=0, ge=0)
    start_date: datetime | None = None
    end_date: datetime | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted: bool = False
    # Seed 003: reusable triggers and actions attached by reference. The matcher
    # matches through the triggers and pins the actions (compiled to nodes) at start.
    triggers: tuple[TriggerRef, ...] = ()
    actions: tuple[ActionRef, ...] = ()
    # Seed 004's project is the platform's (an id and a name); Fluxo keeps no project
    # registry, so the name is known only when the client gave it with the id. No name is
    # written as no key: a snapshot without one is byte for byte what it was before.
    project_name: str | None = Field(default=None, max_length=200, exclude_if=lambda v: v is None)

    @property
    def event_type(self) -> str | None:
        """The business event type an event-triggered workflow listens to."""
        value = self.trigger_config.get("event_type") or self.trigger_config.get("event")
        return str(value) if value else None

    def node(self, node_id: str) -> Node | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None
