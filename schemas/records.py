"""Versioned record types. Past-tense names; a breaking change is a new `.vN` type.

Each class's TYPE is the CloudEvents `type` of the envelope that carries it.
`RECORD_TYPES` maps a type string to its data model (the decoder's registry).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import RecordData
from schemas.workflow import NodeType, WorkflowSnapshot

MAX_KEY = 200


# --- fluxo.events.v1 ---------------------------------------------------------
class EventIngested(RecordData):
    """A business event, as a producer or the ingest API published it."""

    TYPE = "fluxo.event.ingested.v1"
    event_type: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
    data: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = Field(default=None, max_length=MAX_KEY)
    conversation_id: str | None = Field(default=None, max_length=MAX_KEY)
    # Profile fields the producer knows about the subject (email, names, ...).
    user: dict[str, Any] | None = None
    occurred_at: datetime | None = None


# --- fluxo.definitions.v1 ----------------------------------------------------
Role = Literal["owner", "admin", "editor", "viewer"]


class Membership(RecordData):
    TYPE = "fluxo.membership.v1"
    workspace_id: str
    role: Role


class WorkspaceDefined(RecordData):
    TYPE = "fluxo.workspace.defined.v1"
    id: str
    name: str
    plan: str = "trial"
    created_at: datetime
    # Hosts this workspace's HTTP nodes may reach although they are loopback or
    # private addresses (the SSRF guard refuses those otherwise).
    allowed_hosts: tuple[str, ...] = ()
    # Who created it through POST /workspaces (None: bootstrapped from the settings).
    created_by: str | None = None


class UserProfile(RecordData):
    """What a person says about themselves (seed 002's profile)."""

    TYPE = "fluxo.user.profile.v1"
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    avatar_color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")
    timezone: str = Field(default="UTC", max_length=64)
    language: str = Field(default="en", max_length=16)
    job_title: str = Field(default="", max_length=100)
    company: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=40)
    bio: str = Field(default="", max_length=1000)


class NotificationPreferences(RecordData):
    TYPE = "fluxo.user.notifications.v1"
    email: bool = True
    in_app: bool = True
    execution_failures: bool = True
    weekly_summary: bool = False
    product_updates: bool = False


class UserPreferences(RecordData):
    """How a person wants the product to behave (seed 002's preferences)."""

    TYPE = "fluxo.user.preferences.v1"
    theme: Literal["light", "dark", "system"] = "system"
    language: str = Field(default="en", max_length=16)
    notifications: NotificationPreferences = Field(default_factory=NotificationPreferences)
    # The dashboard's own layout (widgets, order, sizes): kept as given.
    dashboard_layout: dict[str, Any] = Field(default_factory=dict)


class UserDefined(RecordData):
    """A person. The password is an argon2 hash, never the password itself."""

    TYPE = "fluxo.user.defined.v1"
    id: str
    email: str
    username: str
    password_hash: str
    memberships: tuple[Membership, ...]
    is_active: bool = True
    created_at: datetime
    # Seed 002's users module: profile (avatar colour, ...) and preferences.
    profile: UserProfile = Field(default_factory=UserProfile)
    preferences: UserPreferences = Field(default_factory=UserPreferences)


class ApiKeyDefined(RecordData):
    """A machine credential. Only its HMAC-SHA256 digest travels; the key is shown once, never stored.

    A revocation is a later snapshot with `revoked_at` set (same key, so compaction keeps it).
    """

    TYPE = "fluxo.api_key.defined.v1"
    id: str
    workspace_id: str
    name: str = Field(min_length=1, max_length=200)
    # The key's public lookup part (`fx_<prefix>_...`): finds the row to compare digests with.
    prefix: str = Field(min_length=8, max_length=8)
    digest: str = Field(min_length=64, max_length=64)
    role: Role
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None


class InvitationDefined(RecordData):
    """An invitation of someone who has no account yet. Its token travels only as a digest."""

    TYPE = "fluxo.invitation.defined.v1"
    id: str
    workspace_id: str
    email: str = Field(max_length=320)
    role: Role
    token_digest: str = Field(min_length=64, max_length=64)
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    revoked_at: datetime | None = None


class WorkflowDefined(RecordData):
    """The full snapshot of a new workflow version (a deletion is a snapshot with deleted=true)."""

    TYPE = "fluxo.workflow.defined.v1"
    workflow: WorkflowSnapshot


class IntegrationDefined(RecordData):
    """A connection to an outside service. Secrets travel only sealed (AES-GCM)."""

    TYPE = "fluxo.integration.defined.v1"
    id: str
    workspace_id: str
    version: int = Field(ge=1)
    name: str
    integration_type: str
    provider: str
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    secrets_sealed: str | None = None
    secret_fields: tuple[str, ...] = ()
    is_active: bool = True
    test_mode: bool = False
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted: bool = False


WebhookMethod = Literal["GET", "POST", "PUT", "PATCH"]


class WebhookDefined(RecordData):
    """The full snapshot of an inbound webhook version (a deletion is a snapshot with deleted=true).

    The token is the public credential in the webhook's URL: like an API key, only
    its SHA-256 digest (`ingest.webhooks.token_digest`) and a short display prefix
    are kept; the token itself is answered once (create, regenerate_token). The
    HMAC secret travels only sealed (AES-GCM, the webhook id as associated data).
    v2 (from v1, which held the token in clear): `token_digest`, `token_prefix`,
    `signature_format`; v1 records are upcast with `signature_format: "legacy"`.
    """

    TYPE = "fluxo.webhook.defined.v2"
    id: str
    workspace_id: str
    version: int = Field(ge=1)
    name: str
    description: str = ""
    workflow_id: str
    token_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    token_prefix: str = Field(min_length=1, max_length=16)
    methods: tuple[WebhookMethod, ...] = ("POST",)
    auth_mode: Literal["none", "hmac"] = "none"
    secret_sealed: str | None = None
    # `timestamped`: only `t=<unix seconds>,v1=<hex>` signatures; `legacy` also takes the
    # older `sha256=<hex>` of the body alone (no replay protection), for existing senders.
    signature_format: Literal["timestamped", "legacy"] = "timestamped"
    response_mode: Literal["immediate", "last_node"] = "immediate"
    response_timeout_seconds: float = Field(default=10, gt=0, le=30)
    is_active: bool = True
    deleted: bool = False
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class TriggerDefined(RecordData):
    """Seed 003's reusable trigger, one full snapshot per version (deleted=true removes it).

    `trigger_type` is an event code in upper case (MESSAGE_RECEIVED, ...) or one of
    the kinds webhook, cron, manual, api_call, event (then `event_type` names the code).
    """

    TYPE = "fluxo.trigger.defined.v1"
    id: str
    workspace_id: str
    version: int = Field(ge=1)
    name: str
    description: str = ""
    trigger_type: str
    event_type: str | None = None
    filters: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = None
    timezone: str | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted: bool = False


class ActionDefined(RecordData):
    """Seed 003's reusable action: what to do, its configuration, order and own delay."""

    TYPE = "fluxo.action.defined.v1"
    id: str
    workspace_id: str
    version: int = Field(ge=1)
    name: str
    description: str = ""
    action_type: str
    configuration: dict[str, Any] = Field(default_factory=dict)
    order: int = Field(default=0, ge=0, le=1_000_000)
    delay: float = Field(default=0, ge=0, le=366 * 86400)
    is_active: bool = True
    is_required: bool = True
    # The workflow it was created for, if any (it is attached to it as well).
    workflow_id: str | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted: bool = False


class ConditionDefined(RecordData):
    """Seed 003's reusable condition: an and/or/not tree, or custom code."""

    TYPE = "fluxo.condition.defined.v1"
    id: str
    workspace_id: str
    version: int = Field(ge=1)
    name: str
    description: str = ""
    operator: str = "and"
    conditions: tuple[dict[str, Any], ...] = ()
    use_custom_code: bool = False
    custom_code: str | None = None
    language: str = "python"
    is_active: bool = True
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted: bool = False


# --- fluxo.trigger-log.v1 ----------------------------------------------------
class TriggerEvaluation(RecordData):
    TYPE = "fluxo.trigger.evaluation.v1"
    workflow_id: str
    workflow_version: int
    matched: bool
    reason: str
    execution_id: str | None = None


class TriggerEvaluated(RecordData):
    """One per ingested event: which workflows it started and why the others did not."""

    TYPE = "fluxo.trigger.evaluated.v1"
    event_id: str
    event_type: str
    user_id: str | None = None
    conversation_id: str | None = None
    event_data: dict[str, Any] = Field(default_factory=dict)
    evaluations: tuple[TriggerEvaluation, ...] = ()
    # The subject's contact profile after this event (projected to `contacts`).
    profile: dict[str, Any] | None = None



class WebhookStart(RecordData):
    """What an accepted call starts: the matcher turns it into the `execution.started` of
    the call's `execution_id` (the call record is the webhook's one broker write)."""

    TYPE = "fluxo.webhook.start.v1"
    # The execution's input: the body's JSON object (or form fields, or a GET's query), whole.
    input: dict[str, Any] = Field(default_factory=dict)
    content_type: str | None = Field(default=None, max_length=500)
    # A last_node call (its caller waits for the end): the call is logged by the record of
    # its final outcome, written next under the same call id; this one only starts it.
    logged_later: bool = False


class WebhookCalled(RecordData):
    """One inbound call of a webhook: what came in, what it started (if anything) and what we answered.

    Headers are filtered (no credentials, cookies or signatures) and bodies are bounded.
    With `start`, the call starts the execution `execution_id` (downstream, in the matcher).
    A `last_node` call, whose caller waits for the execution's end, is written again with
    the same `call_id`, no `start` and its final outcome once it is known: that one is its
    log line (`start.logged_later`).
    """

    TYPE = "fluxo.webhook.called.v1"
    call_id: str
    webhook_id: str
    workflow_id: str
    execution_id: str | None = None
    test: bool = False
    method: str
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    request_body: Any = None
    request_size: int = Field(ge=0)
    request_truncated: bool = False
    response_status: int
    response_body: Any = None
    response_truncated: bool = False
    duration_ms: float = Field(ge=0)
    outcome: str  # accepted | completed | failed | timeout | rejected
    error: str | None = None
    received_at: datetime
    start: WebhookStart | None = None


# --- fluxo.executions.v1 -----------------------------------------------------
class ExecutionStarted(RecordData):
    """Pins the workflow version: the executor runs this snapshot, whatever changes later."""

    TYPE = "fluxo.execution.started.v1"
    execution_id: str
    workflow: WorkflowSnapshot
    trigger_type: str
    event_id: str | None = None
    subject: str | None = None
    # The data the execution sees: event, user, conversation, input_data.
    context: dict[str, Any] = Field(default_factory=dict)
    performed_by: str = "system"
    # Retry-from-node: the execution this one continues, the node it resumes
    # at, and the outputs of the nodes that had already succeeded there.
    retry_of: str | None = None
    resume_from: str | None = None
    prior_nodes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    prior_path: tuple[str, ...] = ()


class NodeScheduled(RecordData):
    TYPE = "fluxo.node.scheduled.v1"
    execution_id: str
    node_id: str
    node_type: NodeType
    attempt: int = Field(ge=1)
    # Which pass of the enclosing loop node this step belongs to (None outside loops).
    iteration: int | None = Field(default=None, ge=0)
    input: dict[str, Any] = Field(default_factory=dict)


class NodeSucceeded(RecordData):
    TYPE = "fluxo.node.succeeded.v1"
    execution_id: str
    node_id: str
    node_type: NodeType
    attempt: int = Field(ge=1)
    # Which pass of the enclosing loop node this step belongs to (None outside loops).
    iteration: int | None = Field(default=None, ge=0)
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    completed_at: datetime


class NodeError(RecordData):
    TYPE = "fluxo.node.error.v1"
    code: str
    message: str
    retryable: bool = False
    # The integration the failing call used, for its health statistics.
    integration_id: str | None = None


class NodeFailed(RecordData):
    TYPE = "fluxo.node.failed.v1"
    execution_id: str
    node_id: str
    node_type: NodeType
    attempt: int = Field(ge=1)
    # Which pass of the enclosing loop node this step belongs to (None outside loops).
    iteration: int | None = Field(default=None, ge=0)
    input: dict[str, Any] = Field(default_factory=dict)
    error: NodeError
    started_at: datetime
    completed_at: datetime


class ExecutionCompleted(RecordData):
    TYPE = "fluxo.execution.completed.v1"
    execution_id: str
    workflow_id: str
    workflow_version: int
    output: dict[str, Any] = Field(default_factory=dict)
    execution_path: tuple[str, ...] = ()
    started_at: datetime
    completed_at: datetime


class ExecutionFailed(RecordData):
    TYPE = "fluxo.execution.failed.v1"
    execution_id: str
    workflow_id: str
    workflow_version: int
    error: NodeError
    failed_node: str | None = None
    execution_path: tuple[str, ...] = ()
    started_at: datetime
    completed_at: datetime


class NodeRetryScheduled(RecordData):
    """A failed attempt will be retried after a backoff; the timer brings it back."""

    TYPE = "fluxo.node.retry_scheduled.v1"
    execution_id: str
    node_id: str
    attempt: int = Field(ge=1)
    next_attempt: int = Field(ge=2)
    delay_seconds: float = Field(ge=0)
    retry_at: datetime
    error: NodeError
    iteration: int | None = Field(default=None, ge=0)


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduledStep(_Step):
    type: Literal["fluxo.node.scheduled.v1"]
    data: NodeScheduled


class SucceededStep(_Step):
    type: Literal["fluxo.node.succeeded.v1"]
    data: NodeSucceeded


class FailedStep(_Step):
    type: Literal["fluxo.node.failed.v1"]
    data: NodeFailed


class RetryStep(_Step):
    type: Literal["fluxo.node.retry_scheduled.v1"]
    data: NodeRetryScheduled


# A node step inside ExecutionSteps: the record it stands for, tagged with that record's type.
NodeStep = Annotated[ScheduledStep | SucceededStep | FailedStep | RetryStep, Field(discriminator="type")]
NodeStepRecord = NodeScheduled | NodeSucceeded | NodeFailed | NodeRetryScheduled
_STEP_OF: dict[type[RecordData], type[ScheduledStep | SucceededStep | FailedStep | RetryStep]] = {
    NodeScheduled: ScheduledStep, NodeSucceeded: SucceededStep, NodeFailed: FailedStep, NodeRetryScheduled: RetryStep,
}


class ExecutionSteps(RecordData):
    """The node steps one executor transaction decided for one execution, in order: what would
    otherwise be one record each (the results of inline nodes, the scheduling of the next
    worker step, an inline failure and its retry). Written for two or more steps; a lone step
    stays its own record. Consumers read it as its `records()`, one after the other, exactly
    as if each had been its own record at this point of the log.
    """

    TYPE = "fluxo.execution.steps.v1"
    execution_id: str
    steps: tuple[NodeStep, ...] = Field(min_length=1)

    @classmethod
    def of(cls, execution_id: str, records: list[NodeStepRecord]) -> ExecutionSteps:
        return cls(execution_id=execution_id, steps=tuple(_STEP_OF[type(r)](type=r.TYPE, data=r) for r in records))  # type: ignore[arg-type]

    def records(self) -> list[NodeStepRecord]:
        return [step.data for step in self.steps]


STEP_RECORDS: frozenset[type[RecordData]] = frozenset(_STEP_OF)


class TimerFired(RecordData):
    """A durable timer came due (written by the timer service to the executions topic)."""

    TYPE = "fluxo.timer.fired.v1"
    timer_id: str
    execution_id: str
    purpose: str
    node_id: str | None = None
    attempt: int | None = None
    iteration: int | None = None
    fire_at: datetime
    fired_at: datetime


class ExecutionCancelRequested(RecordData):
    TYPE = "fluxo.execution.cancel_requested.v1"
    execution_id: str
    requested_by: str
    reason: str = "cancelled by user"


class ExecutionCancelled(RecordData):
    TYPE = "fluxo.execution.cancelled.v1"
    execution_id: str
    workflow_id: str
    workflow_version: int
    reason: str
    execution_path: tuple[str, ...] = ()
    started_at: datetime
    completed_at: datetime


class FailureNotified(RecordData):
    """The workflow's notifications.on_failure fired for a failed execution."""

    TYPE = "fluxo.execution.failure_notified.v1"
    execution_id: str
    workflow_id: str
    channel: str
    target: str


class DataRecordCreated(RecordData):
    """A create_record node wrote a row into one of the workspace's data tables."""

    TYPE = "fluxo.data.record_created.v1"
    record_id: str
    table: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")
    data: dict[str, Any] = Field(default_factory=dict)
    execution_id: str
    node_id: str


# --- journeys: an execution watching its contact's events --------------------
WatchKind = Literal["wait", "exit", "goal"]


class WatchRegistered(RecordData):
    """An execution asks the matcher to tell it when a matching event arrives (fluxo.events.v1).

    Keyed `workspace:subject` like the events it watches, so the matcher sees it in order with
    them (`subject` None: any contact's, written to every partition). `kind` is a
    `wait_for_event` node (`wait`), an `exit_when` rule (`exit`) or the `goal` (`goal`).
    `context` is what `condition` reads besides `event` (the execution's context at
    registration). An event counts from `started_at - lookback_seconds` until `expires_at`.
    """

    TYPE = "fluxo.watch.registered.v1"
    watch_id: str
    execution_id: str
    workflow_id: str
    kind: WatchKind
    event_type: str = Field(min_length=1, max_length=100)
    condition: str | None = Field(default=None, max_length=4000)
    context: dict[str, Any] = Field(default_factory=dict)
    subject: str | None = Field(default=None, max_length=MAX_KEY)
    started_at: datetime
    lookback_seconds: float = Field(default=0, ge=0)
    expires_at: datetime | None = None
    # The event that started the execution: never its own exit or goal.
    cause_event_id: str | None = None
    # A wait: the node step it resumes. An exit rule: its name (`exit_when[0]`).
    node_id: str | None = None
    attempt: int | None = None
    iteration: int | None = None
    rule: str | None = None


class WatchDropped(RecordData):
    """The matcher forgets a watch: the execution ended, or (`expire`) a wait's timeout fired.

    An expiring wait still in the book is answered `timed_out`: the timeout is decided in the
    contact's log order, so an event written before the timeout fired is received, even if the
    matcher was down then."""

    TYPE = "fluxo.watch.dropped.v1"
    watch_id: str
    execution_id: str
    subject: str | None = Field(default=None, max_length=MAX_KEY)
    expire: bool = False


class WatchResolved(RecordData):
    """A matching event arrived for a wait or an exit rule (the matcher, to the executions topic).

    `error` when the condition could not be evaluated against the event (the wait fails).
    """

    TYPE = "fluxo.watch.resolved.v1"
    watch_id: str
    execution_id: str
    kind: WatchKind
    event: dict[str, Any] = Field(default_factory=dict)
    node_id: str | None = None
    attempt: int | None = None
    iteration: int | None = None
    rule: str | None = None
    error: NodeError | None = None
    # A wait's timeout, decided by the matcher (no event came within the window).
    timed_out: bool = False


class ExecutionConverted(RecordData):
    """The workflow's goal event arrived within `goal.within_seconds` of the execution's start."""

    TYPE = "fluxo.execution.converted.v1"
    execution_id: str
    workflow_id: str
    event_id: str
    event_type: str
    started_at: datetime
    converted_at: datetime


# --- flow control: starts decided per key ------------------------------------
FlowDecision = Literal["started", "queued", "throttled", "refused"]


class StartRequested(RecordData):
    """A matched start of a workflow with flow control (fluxo.events.v1, key
    `workspace:flow:<workflow>:<flow key>`): the matcher owning that key decides it."""

    TYPE = "fluxo.start.requested.v1"
    execution_id: str
    workflow_id: str
    flow_key: str = Field(max_length=1000)
    event_id: str | None = None
    start: ExecutionStarted
    correlation_id: str | None = None
    depth: int = Field(default=0, ge=0)
    # settings.priority's value for this start: waiting starts start highest first.
    priority: int = 0


class FlowReleased(RecordData):
    """An execution under `concurrency` ended: its slot goes to the next waiting start."""

    TYPE = "fluxo.flow.released.v1"
    execution_id: str
    workflow_id: str
    flow_key: str = Field(max_length=1000)


class StartDecided(RecordData):
    """What flow control did with a matched start (fluxo.trigger-log.v1): started, queued,
    throttled, or refused (its key could not be evaluated)."""

    TYPE = "fluxo.start.decided.v1"
    event_id: str | None = None
    execution_id: str
    workflow_id: str
    flow_key: str = Field(max_length=1000)
    decision: FlowDecision
    reason: str = Field(max_length=2000)
    # A start that waited in the queue (a `queued` decision came first).
    from_queue: bool = False


# --- fluxo.timers.v1 ---------------------------------------------------------
class TimerScheduled(RecordData):
    """Wake an execution at `fire_at`: waits, retry backoffs, timeouts."""

    TYPE = "fluxo.timer.scheduled.v1"
    timer_id: str
    execution_id: str
    purpose: str  # wait | retry | execution_timeout
    fire_at: datetime
    node_id: str | None = None
    attempt: int | None = None
    iteration: int | None = None


class TimerCancelled(RecordData):
    TYPE = "fluxo.timer.cancelled.v1"
    timer_id: str
    execution_id: str


# --- fluxo.node-work.v1 ------------------------------------------------------
class NodeWorkOrdered(RecordData):
    """A side effect to perform. `config` is already rendered against the context."""

    TYPE = "fluxo.node.work_ordered.v1"
    execution_id: str
    workflow_id: str
    node_id: str
    node_type: NodeType
    action_type: str
    attempt: int = Field(ge=1)
    # Which pass of the enclosing loop node this step belongs to (None outside loops).
    iteration: int | None = Field(default=None, ge=0)
    config: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str
    timeout_seconds: float = Field(gt=0)


# --- fluxo.deadletter.v1 -----------------------------------------------------
class RecordDeadLettered(RecordData):
    """A record no processor could accept, kept whole so it can be inspected or replayed."""

    TYPE = "fluxo.record.deadlettered.v1"
    reason: str
    consumer: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_key_b64: str | None = None
    original_value_b64: str
    original_headers: dict[str, str] = Field(default_factory=dict)
    # A record too large to carry whole inside a dead letter (the broker's limit) keeps
    # its head, with its full size and SHA-256 to match it against the original.
    original_truncated: bool = False
    original_size: int | None = None
    original_sha256: str | None = None


# --- fluxo.audit.v1 ----------------------------------------------------------
AuditOutcome = Literal["success", "denied", "invalid", "not_found", "error"]


class AuditActor(RecordData):
    """Who made an API call: a person (JWT), a machine (API key) or nobody known.

    A failed login names the identifier that was tried as `email` (never the password).
    """

    TYPE = "fluxo.audit.actor.v1"
    type: Literal["user", "api_key", "anonymous"]
    user_id: str | None = Field(default=None, max_length=MAX_KEY)
    email: str | None = Field(default=None, max_length=320)
    api_key_id: str | None = Field(default=None, max_length=MAX_KEY)


class ApiCallAudited(RecordData):
    """One state-changing API call, successful or not: who, what, when, from where, how it ended.

    Never a secret: no bodies, no headers but the user agent, no query string, and the
    route as its template (`/api/v1/hooks/{token}`), never the path that was called.
    `changed_fields` names the top-level body fields sent, without their values.
    """

    TYPE = "fluxo.api_call.audited.v1"
    id: str
    # "" when the call could not be tied to a workspace (kept, visible to none).
    workspace_id: str = Field(max_length=MAX_KEY)
    occurred_at: datetime
    actor: AuditActor
    action: str = Field(min_length=1, max_length=200)
    method: Literal["POST", "PUT", "PATCH", "DELETE"]
    route: str = Field(max_length=500)
    resource_type: str | None = Field(default=None, max_length=100)
    resource_id: str | None = Field(default=None, max_length=MAX_KEY)
    status_code: int = Field(ge=100, le=599)
    outcome: AuditOutcome
    client_ip: str | None = Field(default=None, max_length=100)
    user_agent: str | None = Field(default=None, max_length=500)
    request_id: str = Field(min_length=1, max_length=100)
    duration_ms: float = Field(ge=0)
    changed_fields: tuple[str, ...] = ()


RECORD_TYPES: dict[str, type[RecordData]] = {
    cls.TYPE: cls
    for cls in (
        EventIngested,
        WorkspaceDefined,
        UserDefined,
        ApiKeyDefined,
        InvitationDefined,
        WorkflowDefined,
        IntegrationDefined,
        TriggerDefined,
        ActionDefined,
        ConditionDefined,
        WebhookDefined,
        TriggerEvaluated,
        WebhookCalled,
        ExecutionStarted,
        NodeScheduled,
        NodeSucceeded,
        NodeFailed,
        ExecutionCompleted,
        ExecutionFailed,
        NodeWorkOrdered,
        NodeRetryScheduled,
        ExecutionSteps,
        TimerFired,
        ExecutionCancelRequested,
        ExecutionCancelled,
        FailureNotified,
        DataRecordCreated,
        WatchRegistered,
        WatchDropped,
        WatchResolved,
        ExecutionConverted,
        StartRequested,
        FlowReleased,
        StartDecided,
        TimerScheduled,
        TimerCancelled,
        RecordDeadLettered,
        ApiCallAudited,
    )
}
