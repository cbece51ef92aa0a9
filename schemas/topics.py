"""The topic registry: the only place a topic name is spelled.

Everything else refers to these specs; `Settings.topic(spec)` adds the
deployment's prefix. Each spec names the record types its values carry: the
published stream contract (schemas/asyncapi.py) is generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from schemas import records as r
from schemas.envelope import RecordData
from schemas.state_versions import (
    EXECUTOR_STATE_CODEC,
    MATCHER_STATE_CODEC,
    TIMER_STATE_CODEC,
    StateCodec,
)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    cleanup: Literal["delete", "compact"]
    holds: str
    # Retention for delete topics; None keeps the broker default.
    retention_ms: int | None = None
    # The record types (CloudEvents `type`s) a value on this topic can be.
    records: tuple[type[RecordData], ...] = ()
    # A processor's private state changelog: versioned JSON values and tombstones,
    # not CloudEvents, and no contract for anyone outside that processor.
    internal: bool = False
    # For a state changelog: the kinds of state its values are, with their
    # versions and upcasters (schemas/state_versions.py).
    state: StateCodec | None = None

    @cached_property
    def type_names(self) -> tuple[str, ...]:
        # Cached: checked for every record written (infra.kafka_io.Output.of).
        return tuple(model.TYPE for model in self.records)


EVENTS = TopicSpec(
    "fluxo.events.v1",
    key="workspace_id:subject",
    cleanup="delete",
    holds="incoming business events (fluxo.event.ingested.v1, or plain CloudEvents of a producer's own event"
    " types), and the watches executions keep on their contact's events (wait_for_event, exit_when, goal),"
    " in order with those events",
    retention_ms=14 * 24 * 3600 * 1000,
    records=(r.EventIngested, r.WatchRegistered, r.WatchDropped, r.StartRequested, r.FlowReleased),
)
DEFINITIONS = TopicSpec(
    "fluxo.definitions.v1",
    key="workspace_id:kind:id",
    cleanup="compact",
    holds="full snapshots of workspaces, users, workflows, integrations, webhooks, triggers, actions, conditions,"
    " API keys (digests only) and invitations (token digests only)",
    records=(
        r.WorkspaceDefined, r.UserDefined, r.WorkflowDefined, r.IntegrationDefined, r.WebhookDefined,
        r.TriggerDefined, r.ActionDefined, r.ConditionDefined, r.ApiKeyDefined, r.InvitationDefined,
    ),
)
TRIGGER_LOG = TopicSpec(
    "fluxo.trigger-log.v1",
    key="workspace_id:subject",
    cleanup="delete",
    holds="why executions started: one fluxo.trigger.evaluated.v1 per event (what matched and"
    " why not), one fluxo.webhook.called.v1 per inbound webhook call (subject: the webhook id)",
    records=(r.TriggerEvaluated, r.WebhookCalled, r.StartDecided),
)
EXECUTIONS = TopicSpec(
    "fluxo.executions.v1",
    key="execution_id",
    cleanup="delete",
    holds="the execution lifecycle: started, node steps (several decided in one executor transaction:"
    " one fluxo.execution.steps.v1), completed/failed",
    records=(
        r.ExecutionStarted,
        r.NodeScheduled,
        r.NodeSucceeded,
        r.NodeFailed,
        r.NodeRetryScheduled,
        r.ExecutionSteps,
        r.TimerFired,
        r.ExecutionCancelRequested,
        r.ExecutionCompleted,
        r.ExecutionFailed,
        r.ExecutionCancelled,
        r.FailureNotified,
        r.DataRecordCreated,
        r.WatchResolved,
        r.ExecutionConverted,
    ),
)
NODE_WORK = TopicSpec(
    "fluxo.node-work.v1",
    key="execution_id",
    cleanup="delete",
    holds="work orders for node workers (fluxo.node.work_ordered.v1)",
    records=(r.NodeWorkOrdered,),
)
TIMERS = TopicSpec(
    "fluxo.timers.v1",
    key="execution_id",
    cleanup="delete",
    holds="durable wake-ups: waits, retries with backoff, cron fires",
    records=(r.TimerScheduled, r.TimerCancelled),
)
DEADLETTER = TopicSpec(
    "fluxo.deadletter.v1",
    key="original key",
    cleanup="delete",
    holds="records that failed validation, with the reason and the original bytes",
    records=(r.RecordDeadLettered,),
)
AUDIT = TopicSpec(
    "fluxo.audit.v1",
    key="workspace_id",
    cleanup="delete",
    holds="who did what through the API: one fluxo.api_call.audited.v1 per state-changing call"
    " (no bodies, no secrets; key \"\" when no workspace is known)",
    # Audit trails outlive execution history: kept a year, so a replay rebuilds that much.
    retention_ms=365 * 24 * 3600 * 1000,
    records=(r.ApiCallAudited,),
)
# Processor state changelogs: compacted, partitioned like the input they follow.
MATCHER_STATE = TopicSpec(
    "fluxo.matcher-state.v1",
    key="workspace_id:subject",
    cleanup="compact",
    holds="trigger matcher state per subject: contact profile and per-workflow run history;"
    " under watches:<workspace>:<subject>, the executions watching its events and its recent events",
    internal=True,
    state=MATCHER_STATE_CODEC,
)
EXECUTOR_STATE = TopicSpec(
    "fluxo.executor-state.v1",
    key="execution_id",
    cleanup="compact",
    holds="executor state per execution (tombstoned when the execution ends)",
    internal=True,
    state=EXECUTOR_STATE_CODEC,
)
TIMER_STATE = TopicSpec(
    "fluxo.timer-state.v1",
    key="timer id, or cron:workflow_id",
    cleanup="compact",
    holds="pending durable timers and the last fire time of each cron schedule",
    internal=True,
    state=TIMER_STATE_CODEC,
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    EVENTS,
    DEFINITIONS,
    TRIGGER_LOG,
    EXECUTIONS,
    NODE_WORK,
    TIMERS,
    DEADLETTER,
    AUDIT,
    MATCHER_STATE,
    EXECUTOR_STATE,
    TIMER_STATE,
)
