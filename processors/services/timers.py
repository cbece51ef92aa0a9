"""Timer service: durable wake-ups and cron fires, exactly once.

Pending timers are state in a compacted changelog, partitioned like the
executions they belong to. Each tick turns the due ones into `timer.fired`
records on the executions topic and deletes them from state in the same
transaction, so a timer fires once even if this process dies at any moment.

Cron schedules live here too: the last fire time of each schedule is state,
and each due fire time becomes an `execution.started` with an id derived
from (workflow, fire time) in the same transaction that advances it.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infra.settings import Settings
from processors.expressions.cron import CronError, due_fires, schedule_of
from processors.matching.linking import compile_actions
from processors.services.definitions import DefinitionsView
from processors.streams.runner import Incoming, per_record
from processors.streams.state import StateStore
from schemas.envelope import deterministic_id, make_envelope, now
from schemas.outputs import Output
from schemas.records import (
    ExecutionStarted,
    TimerCancelled,
    TimerFired,
    TimerScheduled,
    TriggerDefined,
)
from schemas.topics import EXECUTIONS, TIMER_STATE, TIMERS, TopicSpec
from schemas.workflow import TriggerType, WorkflowSnapshot, WorkflowStatus

log = logging.getLogger("fluxo.timers")

SOURCE = "processor/timers"


@dataclass(frozen=True)
class _Schedule:
    key: str  # its state key: the last fire time is kept per schedule
    expression: str | None
    timezone: str | None
    since: datetime  # fires start after this (the schedule's last (re)activation)
    trigger: TriggerDefined | None  # the attached trigger it comes from, None for the workflow's own


def cron_partition(workflow_id: str, partitions: int) -> int:
    """Which partition's owner runs a schedule: stable across processes (not hash())."""
    digest = hashlib.sha256(workflow_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % partitions


class TimerService:
    name = "timers"
    inputs: tuple[TopicSpec, ...] = (TIMERS,)
    state_topic: TopicSpec | None = TIMER_STATE

    def __init__(self) -> None:
        self.definitions = DefinitionsView()
        self.tick_seconds = 0.1
        self.partitions = 3
        self.catchup = timedelta(hours=1)
        # (fire_at timestamp, partition, timer id): an index over state so a tick
        # pops what is due instead of scanning every pending timer.
        self._heap: list[tuple[float, int, str]] = []
        self._definitions_read_at = 0.0

    async def start(self, settings: Settings) -> None:
        self.tick_seconds = settings.timer_tick_seconds
        self.partitions = settings.partitions
        self.catchup = timedelta(seconds=settings.cron_catchup_seconds)
        await self.definitions.start(settings)

    async def stop(self) -> None:
        await self.definitions.stop()

    # -- records in -----------------------------------------------------------
    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]:
        return per_record(batch, store, self.name, self._one)

    def _one(self, item: Incoming, store: StateStore) -> list[Output]:
        data, env, partition = item.data, item.envelope, item.record.partition
        if isinstance(data, TimerScheduled):
            value = {
                "timer_id": data.timer_id,
                "execution_id": data.execution_id,
                "purpose": data.purpose,
                "fire_at": data.fire_at.isoformat(),
                "node_id": data.node_id,
                "attempt": data.attempt,
                "iteration": data.iteration,
                "workspace_id": env.workspaceid,
                "subject": env.subject,
                "correlation_id": env.correlationid,
                "cause_id": env.id,
                "depth": env.depth,
            }
            store.put(partition, _timer_key(data.timer_id), value)
            heapq.heappush(self._heap, (data.fire_at.timestamp(), partition, _timer_key(data.timer_id)))
            log.debug("timer %s (%s) for %s due %s", data.timer_id, data.purpose, data.execution_id, data.fire_at.isoformat())
        elif isinstance(data, TimerCancelled):
            # Its heap entry stays until it comes due (lazy deletion); `_compact` bounds those.
            store.put(partition, _timer_key(data.timer_id), None)
        else:
            raise TypeError(f"{env.type} does not belong on the timers topic")
        return []

    def restored(self, store: StateStore, partitions: set[int]) -> None:
        pending = 0
        for partition, key, value in store.items():
            if partition in partitions and key.startswith("timer:") and value:
                at = datetime.fromisoformat(value["fire_at"]).timestamp()
                heapq.heappush(self._heap, (at, partition, key))
                pending += 1
        log.info("timers: %d pending timers in partitions %s", pending, sorted(partitions))

    # -- the clock ------------------------------------------------------------
    async def tick(self, store: StateStore, partitions: set[int]) -> list[Output]:
        current = now()
        outputs = self._due_timers(store, partitions, current)
        self._compact(store)
        # Reading the definitions' end offsets is a broker round trip: once a second is plenty for cron.
        if current.timestamp() - self._definitions_read_at >= 1.0:
            await self.definitions.catch_up()
            self._definitions_read_at = current.timestamp()
        for workflow in list(self.definitions.workflows.values()):
            schedules = self._schedules(workflow)
            if schedules:
                partition = cron_partition(workflow.id, self.partitions)
                if partition in partitions:
                    for schedule in schedules:
                        outputs.extend(self._cron(store, partition, workflow, schedule, current))
        return outputs

    def _compact(self, store: StateStore) -> None:
        """Drop heap entries of cancelled or superseded timers once they outnumber the live ones.

        Every execution schedules a timeout timer and cancels it when it ends, so
        without this the heap held one dead entry per execution for the whole
        timeout (300 s by default): memory grew with the execution rate x timeout.
        Rebuilding when the heap is over twice the state's size keeps the cost
        amortised O(1) per cancelled timer.
        """
        if len(self._heap) <= 2 * store.size() + 1024:
            return
        live = []
        for at, partition, key in self._heap:
            value = store.get(partition, key)
            if value and datetime.fromisoformat(value["fire_at"]).timestamp() == at:
                live.append((at, partition, key))
        heapq.heapify(live)
        self._heap = live

    def _schedules(self, workflow: WorkflowSnapshot) -> list[_Schedule]:
        """The workflow's own cron schedule, and those of its attached active cron triggers (seed 003)."""
        found: list[_Schedule] = []
        if workflow.trigger_type == TriggerType.CRON:
            found.append(_Schedule(
                f"cron:{workflow.id}", schedule_of(workflow.trigger_config), workflow.trigger_config.get("timezone"),
                workflow.updated_at, None,
            ))
        for ref in workflow.triggers:
            trigger = self.definitions.triggers.get(ref.trigger_id)
            if (trigger is None or trigger.deleted or not trigger.is_active or trigger.trigger_type != "cron"
                    or trigger.workspace_id != workflow.workspace_id):
                continue
            found.append(_Schedule(
                f"cron:{workflow.id}:{trigger.id}", trigger.schedule, trigger.timezone,
                max(workflow.updated_at, trigger.updated_at), trigger,
            ))
        return found

    def _due_timers(self, store: StateStore, partitions: set[int], current: datetime) -> list[Output]:
        outputs: list[Output] = []
        limit = current.timestamp()
        while self._heap and self._heap[0][0] <= limit:
            at, partition, key = heapq.heappop(self._heap)
            value = store.get(partition, key)
            if partition not in partitions or not value:
                continue  # cancelled, already fired, or no longer ours (a restore re-indexes it)
            if datetime.fromisoformat(value["fire_at"]).timestamp() != at:
                continue  # superseded by a later schedule of the same timer
            store.put(partition, key, None)
            log.info("firing timer %s (%s) of %s", value["timer_id"], value["purpose"], value["execution_id"])
            fired = TimerFired(
                timer_id=value["timer_id"],
                execution_id=value["execution_id"],
                purpose=value["purpose"],
                node_id=value.get("node_id"),
                attempt=value.get("attempt"),
                iteration=value.get("iteration"),
                fire_at=datetime.fromisoformat(value["fire_at"]),
                fired_at=current,
            )
            outputs.append(
                Output.of(
                    EXECUTIONS,
                    value["execution_id"],
                    make_envelope(
                        fired,
                        id=deterministic_id("timer-fired", value["timer_id"]),
                        source=SOURCE,
                        workspace_id=value["workspace_id"],
                        subject=value.get("subject"),
                        time=current,
                        execution_id=value["execution_id"],
                        correlation_id=value.get("correlation_id"),
                        causation_id=value.get("cause_id"),
                        depth=int(value.get("depth") or 0),
                    ),
                )
            )
        return outputs

    def _cron(
        self, store: StateStore, partition: int, workflow: WorkflowSnapshot, schedule: _Schedule, current: datetime
    ) -> list[Output]:
        key = schedule.key
        state: dict[str, Any] = store.get(partition, key) or {}
        if workflow.status != WorkflowStatus.ACTIVE:
            return []
        if workflow.start_date and current < workflow.start_date:
            return []
        expression = schedule.expression
        if expression is None:
            return []
        # Fires start after the schedule was (re)activated: never a burst for the time it was paused.
        anchor = schedule.since
        if state.get("last_fire"):
            anchor = max(anchor, datetime.fromisoformat(state["last_fire"]))
        end = min(current, workflow.end_date) if workflow.end_date else current
        try:
            fires, skipped = due_fires(expression, schedule.timezone, anchor, end, self.catchup)
        except CronError as exc:
            if state.get("error") != str(exc):
                log.warning("workflow %s: %s", workflow.id, exc)
                store.put(partition, key, {**state, "error": str(exc)})
            return []
        if skipped:
            log.warning("workflow %s: skipped %d cron fires older than the catch-up window", workflow.id, skipped)
        if not fires:
            return []
        store.put(partition, key, {"last_fire": fires[-1].isoformat(), "version": workflow.version})
        # Attached actions (seed 003) are compiled into the snapshot the execution pins.
        pinned = compile_actions(workflow, self.definitions.actions, schedule.trigger)
        return [self._start(pinned, expression, fire, current, schedule.trigger) for fire in fires]

    def _start(
        self, workflow: WorkflowSnapshot, expression: str, fire: datetime, current: datetime,
        trigger: TriggerDefined | None = None,
    ) -> Output:
        fire_iso = fire.isoformat()
        # One id per (workflow, schedule, fire time): whatever happens, a fire time starts one execution.
        execution_id = (
            deterministic_id("cron", workflow.id, fire_iso) if trigger is None
            else deterministic_id("cron", workflow.id, trigger.id, fire_iso)
        )
        input_data = dict(workflow.trigger_config.get("input_data") or {})
        input_data.setdefault("scheduled_time", fire_iso)
        context = {
            "event": {"id": execution_id, "type": "cron", "data": {"scheduled_time": fire_iso}, "timestamp": fire_iso},
            "trigger": {"type": "cron", "schedule": expression, "scheduled_time": fire_iso,
                        **({"id": trigger.id, "name": trigger.name} if trigger is not None else {})},
            "user": {},
            "conversation": {},
            "input_data": input_data,
        }
        started = ExecutionStarted(
            execution_id=execution_id,
            workflow=workflow,
            trigger_type="cron",
            context=context,
        )
        return Output.of(
            EXECUTIONS,
            execution_id,
            make_envelope(
                started,
                id=deterministic_id("started", execution_id),
                source=SOURCE,
                workspace_id=workflow.workspace_id,
                time=current,
                execution_id=execution_id,
                correlation_id=execution_id,
                depth=1,
            ),
        )


def _timer_key(timer_id: str) -> str:
    return f"timer:{timer_id}"
