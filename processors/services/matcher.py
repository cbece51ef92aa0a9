"""Trigger matcher: events in, trigger-log records and execution starts out.

It also reads the trigger log for accepted webhook calls (fluxo.webhook.called.v1 with
`start`) and writes their execution starts: a webhook call is one broker write at the
API, its start is derived here (processors/matching/webhooks.py). Its own trigger-log
records are passed over from their headers, undecoded.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.settings import Settings
from processors.matching.linking import compile_actions, trigger_context
from processors.matching.triggers import SubjectState, match_event, subject_of
from processors.matching.webhooks import start_of_call
from processors.services.definitions import DefinitionsView
from processors.streams.runner import Incoming, per_record
from processors.streams.state import StateStore
from schemas.codec import TYPE_HEADER
from schemas.envelope import SOURCE_PREFIX, deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import EventIngested, ExecutionStarted, TriggerEvaluated, WebhookCalled
from schemas.topics import EVENTS, EXECUTIONS, MATCHER_STATE, TRIGGER_LOG, TopicSpec

# Events caused by executions (tags added by actions, ...) may trigger more
# workflows; past this depth a causation chain is cut to stop infinite loops.
MAX_CAUSATION_DEPTH = 8
_EVALUATED = TriggerEvaluated.TYPE.encode()


class TriggerMatcher:
    name = "matcher"
    inputs: tuple[TopicSpec, ...] = (EVENTS, TRIGGER_LOG)
    state_topic: TopicSpec | None = MATCHER_STATE

    def __init__(self) -> None:
        self.definitions = DefinitionsView()

    async def start(self, settings: Settings) -> None:
        await self.definitions.start(settings)

    async def stop(self) -> None:
        await self.definitions.stop()

    def wants(self, headers: Sequence[tuple[str, bytes]]) -> bool:
        """Its own trigger evaluations, read back from the trigger log, change nothing."""
        return all(not (name == TYPE_HEADER and value == _EVALUATED) for name, value in headers)

    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]:
        if batch:
            await self.definitions.catch_up()
        return per_record(batch, store, self.name, self._one)

    def _webhook_call(self, item: Incoming, call: WebhookCalled) -> list[Output]:
        env = item.envelope
        workflow = self.definitions.workflows.get(call.workflow_id)
        started = start_of_call(call, env.workspaceid, workflow, self.definitions.actions)
        if started is None:
            return []
        return [Output.of(
            EXECUTIONS,
            started.execution_id,
            make_envelope(
                started,
                id=deterministic_id("started", started.execution_id),
                source="processor/matcher",
                workspace_id=env.workspaceid,
                time=env.time,
                execution_id=started.execution_id,
                correlation_id=started.execution_id,
                causation_id=env.id,
                depth=max(env.depth, 1),
            ),
        )]

    def _one(self, item: Incoming, store: StateStore) -> list[Output]:
        env, data = item.envelope, item.data
        if isinstance(data, WebhookCalled):
            return self._webhook_call(item, data)
        if isinstance(data, TriggerEvaluated):
            return []  # without the type header (another producer): decoded, still nothing to do
        if not isinstance(data, EventIngested):
            raise ValueError(f"{env.type} does not belong on the events topic")  # noqa: TRY004 - a bad record, not a bug
        if not env.source.startswith(SOURCE_PREFIX) and env.workspaceid not in self.definitions.workspaces:
            # Written straight to Kafka by a producer (the API checks the workspace itself): a
            # workspace nobody defined is a mistake to tell about (a dead letter), not a no-op.
            raise ValueError(f"unknown workspace {env.workspaceid!r}: no workspace of that id is defined")
        subject = subject_of(data, env.id)
        key = f"{env.workspaceid}:{subject}"
        state = SubjectState.from_json(store.get(item.record.partition, key))
        candidates = self.definitions.candidates(env.workspaceid, data.event_type)
        matches, evaluations, new_state, context = match_event(
            data, env.id, env.time, candidates, state, self.definitions.triggers, env.source
        )
        if env.depth >= MAX_CAUSATION_DEPTH and matches:
            # A workflow whose actions keep triggering workflows: stop the chain here.
            matches = []
            new_state = SubjectState(new_state.profile, state.runs)
            evaluations = [
                e.model_copy(update={"matched": False, "execution_id": None, "reason": f"causation depth {env.depth} reached the limit of {MAX_CAUSATION_DEPTH}: loop guard"})
                if e.matched else e
                for e in evaluations
            ]
        store.put(item.record.partition, key, new_state.to_json())
        outputs = [
            Output.of(
                TRIGGER_LOG,
                key,
                make_envelope(
                    TriggerEvaluated(
                        event_id=env.id,
                        event_type=data.event_type,
                        user_id=data.user_id,
                        conversation_id=data.conversation_id,
                        event_data=data.data,
                        evaluations=tuple(evaluations),
                        profile=new_state.profile,
                    ),
                    id=deterministic_id("trigger-log", env.id),
                    source="processor/matcher",
                    workspace_id=env.workspaceid,
                    subject=subject,
                    time=env.time,
                    correlation_id=env.correlationid or env.id,
                    causation_id=env.id,
                    depth=env.depth,
                ),
            )
        ]
        for match in matches:
            run_context = context
            if match.link is not None:
                run_context = {**context, "trigger": trigger_context(match.link)}
            started = ExecutionStarted(
                execution_id=match.execution_id,
                # Pinned: the attached actions as they are now, compiled into action nodes.
                workflow=compile_actions(
                    match.workflow, self.definitions.actions, match.link.trigger if match.link else None
                ),
                trigger_type="api_call" if match.link is not None and match.link.trigger.trigger_type == "api_call" else "event",
                event_id=env.id,
                subject=subject,
                context=run_context,
            )
            outputs.append(
                Output.of(
                    EXECUTIONS,
                    match.execution_id,
                    make_envelope(
                        started,
                        id=deterministic_id("started", match.execution_id),
                        source="processor/matcher",
                        workspace_id=env.workspaceid,
                        subject=subject,
                        time=env.time,
                        execution_id=match.execution_id,
                        correlation_id=env.correlationid or env.id,
                        causation_id=env.id,
                        depth=env.depth + 1,
                    ),
                )
            )
        return outputs
