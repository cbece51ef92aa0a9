"""The active workflows, indexed by workspace and event type, followed from the definitions topic.

Every processor instance reads the whole (compacted) topic: definitions are
small and each instance needs all of them, like a faust GlobalTable.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.kafka_io import make_consumer, topic_partitions
from infra.settings import Settings
from processors.matching.linking import listens_to
from processors.matching.watched import watched_types
from schemas.codec import decode
from schemas.errors import PoisonRecord
from schemas.records import (
    ActionDefined,
    ConditionDefined,
    IntegrationDefined,
    TriggerDefined,
    WorkflowDefined,
    WorkspaceDefined,
)
from schemas.topics import DEFINITIONS
from schemas.workflow import WorkflowSnapshot

log = logging.getLogger("fluxo.definitions")


class DefinitionsView:
    def __init__(self) -> None:
        self.workflows: dict[str, WorkflowSnapshot] = {}
        self.workspaces: dict[str, WorkspaceDefined] = {}
        self.integrations: dict[str, IntegrationDefined] = {}
        # Seed 003's reusable definitions, by id.
        self.triggers: dict[str, TriggerDefined] = {}
        self.actions: dict[str, ActionDefined] = {}
        self.conditions: dict[str, ConditionDefined] = {}
        # (workspace id, event type) -> workflow ids: matching is a lookup, not a scan.
        self._by_event: dict[tuple[str, str], set[str]] = defaultdict(set)
        # Attached triggers: trigger id -> workflow ids, and (workspace, EVENT CODE) -> trigger ids.
        self._linked: dict[str, set[str]] = defaultdict(set)
        self._triggers_by_code: dict[tuple[str, str], set[str]] = defaultdict(set)
        # Journeys: workspace -> (event types watched per contact, by any contact) -> the longest
        # lookback, derived from the workflows on first use after a change.
        self._watched: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []

    def apply(self, workflow: WorkflowSnapshot) -> None:
        self._watched.pop(workflow.workspace_id, None)
        current = self.workflows.get(workflow.id)
        if current is not None and current.version > workflow.version:
            return  # an older snapshot arriving late never wins
        if current is not None and current.event_type:
            self._by_event[(current.workspace_id, current.event_type)].discard(current.id)
        if current is not None:
            for ref in current.triggers:
                self._linked[ref.trigger_id].discard(current.id)
        if workflow.deleted:
            self.workflows.pop(workflow.id, None)
            return
        self.workflows[workflow.id] = workflow
        if workflow.event_type:
            self._by_event[(workflow.workspace_id, workflow.event_type)].add(workflow.id)
        for ref in workflow.triggers:
            self._linked[ref.trigger_id].add(workflow.id)

    def apply_trigger(self, trigger: TriggerDefined) -> None:
        current = self.triggers.get(trigger.id)
        if current is not None and current.version > trigger.version:
            return
        if current is not None and (code := listens_to(current)):
            self._triggers_by_code[(current.workspace_id, code)].discard(current.id)
        if trigger.deleted:
            self.triggers.pop(trigger.id, None)
            return
        self.triggers[trigger.id] = trigger
        if code := listens_to(trigger):
            self._triggers_by_code[(trigger.workspace_id, code)].add(trigger.id)

    def apply_action(self, action: ActionDefined) -> None:
        current = self.actions.get(action.id)
        if current is not None and current.version > action.version:
            return
        if action.deleted:
            self.actions.pop(action.id, None)
        else:
            self.actions[action.id] = action

    def apply_condition(self, condition: ConditionDefined) -> None:
        current = self.conditions.get(condition.id)
        if current is not None and current.version > condition.version:
            return
        if condition.deleted:
            self.conditions.pop(condition.id, None)
        else:
            self.conditions[condition.id] = condition

    def apply_integration(self, integration: IntegrationDefined) -> None:
        current = self.integrations.get(integration.id)
        if current is not None and current.version > integration.version:
            return
        if integration.deleted:
            self.integrations.pop(integration.id, None)
        else:
            self.integrations[integration.id] = integration

    def integration(self, workspace_id: str, wanted: str | None, integration_type: str) -> IntegrationDefined | None:
        """By id (in this workspace), else the newest active one of the type."""
        if wanted:
            found = self.integrations.get(wanted)
            if found is not None and found.workspace_id == workspace_id and found.is_active:
                return found
            named = [i for i in self.integrations.values() if i.workspace_id == workspace_id and i.name == wanted and i.is_active]
            return named[0] if named else None
        matching = [
            i for i in self.integrations.values()
            if i.workspace_id == workspace_id and i.is_active
            and (integration_type in (i.provider, i.integration_type) or i.provider.startswith(f"{integration_type}_"))
        ]
        return max(matching, key=lambda i: i.updated_at) if matching else None

    def allowed_hosts(self, workspace_id: str) -> tuple[str, ...]:
        workspace = self.workspaces.get(workspace_id)
        return workspace.allowed_hosts if workspace is not None else ()

    def watched(self, workspace_id: str) -> tuple[dict[str, float], dict[str, float]]:
        """The event types the workspace's workflows watch (wait_for_event, exit_when, goal), with
        the longest lookback of each: per contact, and by any contact. The matcher keeps recent
        events of these types (processors.matching.awaiting)."""
        found = self._watched.get(workspace_id)
        if found is None:
            found = watched_types(w for w in self.workflows.values() if w.workspace_id == workspace_id)
            self._watched[workspace_id] = found
        return found

    def candidates(self, workspace_id: str, event_type: str) -> list[WorkflowSnapshot]:
        ids = set(self._by_event.get((workspace_id, event_type), set()))
        # Workflows with an attached trigger for this event type (case-insensitive).
        for trigger_id in self._triggers_by_code.get((workspace_id, event_type.upper()), set()):
            ids |= self._linked.get(trigger_id, set())
        return [self.workflows[i] for i in sorted(ids) if i in self.workflows]

    async def start(self, settings: Settings) -> None:
        self._consumer = make_consumer(settings)
        await self._consumer.start()
        self._tps = await topic_partitions(self._consumer, settings, [DEFINITIONS])
        self._consumer.assign(self._tps)
        await self._consumer.seek_to_beginning(*self._tps)
        await self.catch_up()

    async def catch_up(self) -> None:
        """Read up to the current end: a definition acknowledged before an event
        was ingested is always seen when that event is matched."""
        assert self._consumer is not None
        end = await self._consumer.end_offsets(self._tps)
        behind = {tp for tp in self._tps if await self._consumer.position(tp) < end[tp]}
        while behind:
            batches = await self._consumer.getmany(*behind, timeout_ms=200)
            for records in batches.values():
                for record in records:
                    try:
                        _, data = decode(record.value, record.headers or ())
                    except PoisonRecord as exc:
                        log.warning("skipping bad definition record at %d: %s", record.offset, exc)
                        continue
                    if isinstance(data, WorkflowDefined):
                        self.apply(data.workflow)
                    elif isinstance(data, WorkspaceDefined):
                        self.workspaces[data.id] = data
                    elif isinstance(data, IntegrationDefined):
                        self.apply_integration(data)
                    elif isinstance(data, TriggerDefined):
                        self.apply_trigger(data)
                    elif isinstance(data, ActionDefined):
                        self.apply_action(data)
                    elif isinstance(data, ConditionDefined):
                        self.apply_condition(data)
            behind = {tp for tp in behind if await self._consumer.position(tp) < end[tp]}

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
