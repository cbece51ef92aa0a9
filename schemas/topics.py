"""The topic registry: the only place a topic name is spelled.

Everything else refers to these specs; `Settings.topic(spec)` adds the
deployment's prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    cleanup: Literal["delete", "compact"]
    holds: str
    # Retention for delete topics; None keeps the broker default.
    retention_ms: int | None = None


EVENTS = TopicSpec(
    "fluxo.events.v1",
    key="workspace_id:subject",
    cleanup="delete",
    holds="incoming business events (fluxo.event.ingested.v1)",
    retention_ms=14 * 24 * 3600 * 1000,
)
DEFINITIONS = TopicSpec(
    "fluxo.definitions.v1",
    key="workspace_id:kind:id",
    cleanup="compact",
    holds="full snapshots of workspaces, users, workflows, integrations, webhooks",
)
TRIGGER_LOG = TopicSpec(
    "fluxo.trigger-log.v1",
    key="workspace_id:subject (the webhook id for webhook calls)",
    cleanup="delete",
    holds="why executions started: one fluxo.trigger.evaluated.v1 per event (what matched and"
    " why not), one fluxo.webhook.called.v1 per inbound webhook call",
)
EXECUTIONS = TopicSpec(
    "fluxo.executions.v1",
    key="execution_id",
    cleanup="delete",
    holds="the execution lifecycle: started, node steps, completed/failed",
)
NODE_WORK = TopicSpec(
    "fluxo.node-work.v1",
    key="execution_id",
    cleanup="delete",
    holds="work orders for node workers (fluxo.node.work_ordered.v1)",
)
TIMERS = TopicSpec(
    "fluxo.timers.v1",
    key="execution_id",
    cleanup="delete",
    holds="durable wake-ups: waits, retries with backoff, cron fires",
)
DEADLETTER = TopicSpec(
    "fluxo.deadletter.v1",
    key="original key",
    cleanup="delete",
    holds="records that failed validation, with the reason and the original bytes",
)
AUDIT = TopicSpec(
    "fluxo.audit.v1",
    key="workspace_id",
    cleanup="delete",
    holds="who did what through the API",
)
# Processor state changelogs: compacted, partitioned like the input they follow.
MATCHER_STATE = TopicSpec(
    "fluxo.matcher-state.v1",
    key="workspace_id:subject",
    cleanup="compact",
    holds="trigger matcher state per subject: contact profile and per-workflow run history",
)
EXECUTOR_STATE = TopicSpec(
    "fluxo.executor-state.v1",
    key="execution_id",
    cleanup="compact",
    holds="executor state per execution (tombstoned when the execution ends)",
)
TIMER_STATE = TopicSpec(
    "fluxo.timer-state.v1",
    key="timer id, or cron:workflow_id",
    cleanup="compact",
    holds="pending durable timers and the last fire time of each cron schedule",
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
