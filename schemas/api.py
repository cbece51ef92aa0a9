"""Request bodies of the REST API. Strict: unknown fields are refused, not dropped."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from schemas.workflow import NodeType, Port, Position, TriggerType, WorkflowSettings, WorkflowStatus

MAX_NAME = 200
MAX_EXECUTIONS = 1_000_000_000
# Seconds; ten years is more than any rule needs and stays far inside what a timedelta holds.
MAX_DELAY = 10 * 366 * 86400


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _lower(value: Any) -> Any:
    # Seed 003 spells statuses in upper case (ACTIVE); we store lower case.
    return value.lower() if isinstance(value, str) else value


class LoginRequest(Strict):
    email: str | None = Field(default=None, max_length=320)
    username: str | None = Field(default=None, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    # Sign in to this workspace (one the user belongs to) instead of their home workspace.
    workspace_id: str | None = Field(default=None, min_length=1, max_length=100)


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=4096)


class NodeIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"id": "tag", "name": "Tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "vip"}}]})

    id: str | None = Field(
        default=None, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$",
        validation_alias=AliasChoices("id", "tracking_id"),
    )
    name: str = Field(default="", max_length=MAX_NAME)
    node_type: NodeType = Field(validation_alias=AliasChoices("node_type", "type"))
    position: Position = Position()
    config: dict[str, Any] = Field(default_factory=dict)
    inputs: list[Port] = Field(default_factory=list, max_length=100)
    outputs: list[Port] = Field(default_factory=list, max_length=100)


class EdgeIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"source_node": "trigger", "target_node": "tag", "label": "next"}]})

    id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    source_node: str = Field(min_length=1, max_length=100, validation_alias=AliasChoices("source_node", "source"))
    target_node: str = Field(min_length=1, max_length=100, validation_alias=AliasChoices("target_node", "target"))
    condition: str | None = Field(default=None, max_length=4000)
    # A reusable condition (/conditions) instead of `condition`: a filter tree, pinned when saved.
    condition_id: str | None = Field(default=None, min_length=1, max_length=100)
    label: str | None = Field(default=None, max_length=MAX_NAME)
    style: dict[str, Any] | None = None


class ProjectIn(Strict):
    """Seed 004's project as its answers show it: the id (`tracking_id`) and its name."""

    tracking_id: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)


# `project`: an id (seed 004's request), or seed 004's object (what its answers show, so a
# client may send back what it read). `project_name` names the project of a given id.
ProjectField = Annotated[str, Field(max_length=100)] | ProjectIn | None


class WorkflowCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Welcome flow", "trigger_type": "event", "trigger_config": {"event_type": "USER_CREATED"},
        "nodes": [{"id": "trigger", "node_type": "trigger"},
                  {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "new"}}],
        "edges": [{"source_node": "trigger", "target_node": "tag"}],
    }]})

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=5000)
    project: ProjectField = None
    project_name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    status: WorkflowStatus = WorkflowStatus.DRAFT
    trigger_type: TriggerType = TriggerType.EVENT
    trigger_config: dict[str, Any] = Field(default_factory=dict)
    settings: WorkflowSettings = WorkflowSettings()
    max_executions: int | None = Field(default=None, ge=0, le=MAX_EXECUTIONS)
    delay_between_executions: int = Field(default=0, ge=0, le=MAX_DELAY)
    start_date: datetime | None = None
    end_date: datetime | None = None
    nodes: list[NodeIn] = Field(default_factory=list, max_length=500)
    edges: list[EdgeIn] = Field(default_factory=list, max_length=2000)

    _status = field_validator("status", "trigger_type", mode="before")(_lower)


class ProcessEvent(Strict):
    """Seed 003's main ingest body."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"event_type": "MESSAGE_RECEIVED", "user_id": "user-1", "data": {"content": "hello"}}]})

    event_type: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
    data: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = Field(default=None, max_length=200)
    conversation_id: str | None = Field(default=None, max_length=200)
    user: dict[str, Any] | None = None
    timestamp: datetime | None = None


class ProcessEventItem(ProcessEvent):
    """One item of POST /triggers/process_events: an event, and its own idempotency key
    (the role of the `Idempotency-Key` header of a single call)."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class ExecuteWorkflow(Strict):
    """POST /workflows/{id}/execute: a manual run. `context` is seed 004's short form."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"input_data": {"client_name": "Dupont"}}]})

    input_data: dict[str, Any] | None = None
    execution_context: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    # The attached manual (or api_call) trigger the run is attributed to; by default the
    # highest-priority active one, if the workflow has any.
    trigger_id: str | None = Field(default=None, min_length=1, max_length=100)


class TestEvent(Strict):
    """An event a dry run receives on its virtual clock (a wait_for_event's, an exit's, a goal's)."""

    event_type: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
    data: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = Field(default=None, max_length=200, description="the contact's; default: the dry run's own contact")
    after_seconds: float = Field(default=0, ge=0, le=366 * 86400, description="when it arrives, in seconds after the start")


class TestWorkflow(Strict):
    """POST /workflows/{id}/test: a dry run with `test_data` as the trigger's data.

    `test_mode` and `capture_outputs` are seed 004's: a dry run is the only mode a test
    has (nothing is sent, no execution is stored), and `capture_outputs: false` leaves the
    nodes' outputs out of the answer."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "test_data": {"client_id": 999, "client_email": "test@example.com", "client_name": "Client Test"},
        "test_mode": "dry_run", "capture_outputs": True}]})

    test_data: dict[str, Any] = Field(default_factory=dict)
    user: dict[str, Any] | None = None
    event_type: str | None = Field(default=None, max_length=100)
    test_mode: Literal["dry_run"] = "dry_run"
    capture_outputs: bool = True
    test_events: list[TestEvent] = Field(default_factory=list, max_length=100)


class CancelExecution(Strict):
    reason: str | None = Field(default=None, max_length=500)


class IntegrationIn(Strict):
    """Seed 004's integration body: secrets sit in `configuration` and are sealed on write."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "SMTP", "type": "email", "provider": "smtp",
                                   "configuration": {"host": "smtp.example.com", "from_email": "crm@example.com"}}]})

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=50, pattern=r"^[a-z_]+$")
    provider: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")
    description: str = Field(default="", max_length=2000)
    configuration: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class IntegrationPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    configuration: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    is_active: bool | None = None


class AutomationRun(BaseModel):
    """Seed 001: run one connector for a lead. camelCase accepted (leadId, workflowId, nodeId)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    lead_id: str = Field(min_length=1, max_length=200, validation_alias=AliasChoices("lead_id", "leadId"))
    config: dict[str, Any] = Field(default_factory=dict)
    workflow_id: str | None = Field(default=None, max_length=200, validation_alias=AliasChoices("workflow_id", "workflowId"))
    node_id: str | None = Field(default=None, max_length=100, validation_alias=AliasChoices("node_id", "nodeId"))
    lead: dict[str, Any] | None = None


WebhookMethodIn = Literal["GET", "POST", "PUT", "PATCH"]


def _default_methods() -> list[WebhookMethodIn]:
    return ["POST"]


def _upper_all(value: Any) -> Any:
    return [v.upper() if isinstance(v, str) else v for v in value] if isinstance(value, list) else value


class WebhookIn(Strict):
    """An inbound webhook bound to a workflow. `secret` (HMAC mode) is write-only."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Orders", "workflow_id": "4f1c2e0a-0000-4000-8000-000000000000", "methods": ["POST"]}]})

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=2000)
    workflow_id: str = Field(min_length=1, max_length=200, validation_alias=AliasChoices("workflow_id", "workflow"))
    methods: list[WebhookMethodIn] = Field(default_factory=_default_methods, min_length=1, max_length=4)
    auth_mode: Literal["none", "hmac"] = "none"
    secret: str | None = Field(default=None, min_length=16, max_length=512)
    # `timestamped` signatures only (t=<unix seconds>,v1=<hex>); `legacy` also takes sha256=<hex>.
    signature_format: Literal["timestamped", "legacy"] = "timestamped"
    response_mode: Literal["immediate", "last_node"] = "immediate"
    response_timeout_seconds: float = Field(default=10, gt=0, le=30)
    is_active: bool = True

    _methods = field_validator("methods", mode="before")(_upper_all)


class WebhookPatch(Strict):
    """PUT/PATCH: fields left out keep their value; a secret left out keeps the stored one."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=2000)
    workflow_id: str | None = Field(default=None, min_length=1, max_length=200, validation_alias=AliasChoices("workflow_id", "workflow"))
    methods: list[WebhookMethodIn] | None = Field(default=None, min_length=1, max_length=4)
    auth_mode: Literal["none", "hmac"] | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=512)
    signature_format: Literal["timestamped", "legacy"] | None = None
    response_mode: Literal["immediate", "last_node"] | None = None
    response_timeout_seconds: float | None = Field(default=None, gt=0, le=30)
    is_active: bool | None = None

    _methods = field_validator("methods", mode="before")(_upper_all)


class WebhookTest(Strict):
    """POST /webhooks/{id}/test: a sample call, sent through the same path as a real one."""

    body: dict[str, Any] | None = None
    query: dict[str, str] = Field(default_factory=dict)
    method: WebhookMethodIn | None = None


class WorkflowPatch(Strict):
    """PATCH /workflows/{id}: the fields given change; `settings` and `trigger_config` merge
    into the current ones. `status` moves only along the allowed transitions."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=5000)
    project: ProjectField = None
    project_name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    status: WorkflowStatus | None = None
    trigger_type: TriggerType | None = None
    trigger_config: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    max_executions: int | None = Field(default=None, ge=0, le=MAX_EXECUTIONS)
    delay_between_executions: int | None = Field(default=None, ge=0, le=MAX_DELAY)
    start_date: datetime | None = None
    end_date: datetime | None = None
    nodes: list[NodeIn] | None = Field(default=None, max_length=500)
    edges: list[EdgeIn] | None = Field(default=None, max_length=2000)

    _status = field_validator("status", "trigger_type", mode="before")(_lower)


class WorkflowPut(WorkflowPatch):
    """PUT /workflows/{id}: `name` is required and every field given replaces the current
    value whole (settings, trigger_config included); fields left out keep their value
    (seed 004's PUT example sends only what it changes)."""

    name: str = Field(min_length=1, max_length=MAX_NAME)


class NodePatch(Strict):
    name: str | None = Field(default=None, max_length=MAX_NAME)
    node_type: NodeType | None = Field(default=None, validation_alias=AliasChoices("node_type", "type"))
    position: Position | None = None
    config: dict[str, Any] | None = None
    inputs: list[Port] | None = Field(default=None, max_length=100)
    outputs: list[Port] | None = Field(default=None, max_length=100)


class NodePut(NodePatch):
    """PUT a node: `name` required; the fields given replace the current ones whole."""

    name: str = Field(max_length=MAX_NAME)


class NodeCheck(Strict):
    """POST /nodes/validate and /nodes/test: one node, and (for a test) its input."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"node_type": "action", "config": {"action_type": "add_tag", "tag_name": "vip"}, "input_data": {"a": 1}}]})

    node_type: NodeType = Field(validation_alias=AliasChoices("node_type", "type"))
    config: dict[str, Any] = Field(default_factory=dict)
    name: str = Field(default="", max_length=MAX_NAME)
    inputs: list[Port] = Field(default_factory=list, max_length=100)
    outputs: list[Port] = Field(default_factory=list, max_length=100)
    input_data: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("input_data", "test_data", "input"))
    user: dict[str, Any] | None = None


class ErrorDetail(BaseModel):
    code: str = Field(description="a stable machine code, e.g. AUTO_001 (not found), AUTO_007 (invalid input)")
    message: str
    fields: dict[str, Any] = Field(description="for invalid input: each field at fault and what is wrong with it")


class ErrorResponse(BaseModel):
    """Every error answer of the API (api/errors.py)."""

    error: ErrorDetail
