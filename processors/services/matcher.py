"""Trigger matcher: events in, trigger-log records and execution starts out.

It also reads the trigger log for accepted webhook calls (fluxo.webhook.called.v1 with
`start`) and writes their execution starts: a webhook call is one broker write at the
API, its start is derived here (processors/matching/webhooks.py). Its own trigger-log
records are passed over from their headers, undecoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from infra.settings import Settings
from processors.expressions.conditions import ConditionError
from processors.matching import awaiting, flow
from processors.matching.linking import compile_actions, trigger_context
from processors.matching.triggers import SubjectState, match_event, subject_of
from processors.matching.webhooks import start_of_call
from processors.services.definitions import DefinitionsView
from processors.streams.runner import Incoming, per_record
from processors.streams.state import StateStore
from schemas.codec import TYPE_HEADER
from schemas.envelope import SOURCE_PREFIX, Envelope, deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import (
    EventIngested,
    ExecutionStarted,
    FlowReleased,
    StartDecided,
    StartRequested,
    TriggerEvaluated,
    WatchDropped,
    WatchRegistered,
    WebhookCalled,
)
from schemas.state_versions import FLOW_PREFIX, WATCHES_PREFIX
from schemas.topics import EVENTS, EXECUTIONS, MATCHER_STATE, TRIGGER_LOG, TopicSpec

# Events caused by executions (tags added by actions, ...) may trigger more
# workflows; past this depth a causation chain is cut to stop infinite loops.
MAX_CAUSATION_DEPTH = 8
# Its own records on the trigger log (evaluations, flow-control decisions) are read back
# only because the topic is an input for webhook calls: they are skipped by type header.
_OWN_LOG_TYPES = frozenset({TriggerEvaluated.TYPE.encode(), StartDecided.TYPE.encode()})


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
        """Its own trigger evaluations and flow decisions, read back from the trigger log, change nothing."""
        return all(not (name == TYPE_HEADER and value in _OWN_LOG_TYPES) for name, value in headers)

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
        if isinstance(data, TriggerEvaluated | StartDecided):
            return []  # without the type header (another producer): decoded, still nothing to do
        if isinstance(data, WatchRegistered | WatchDropped):
            return self._watch(item, store, data)
        if isinstance(data, StartRequested | FlowReleased):
            return self._flow(item, store, data)
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
            if flow.gated(started.workflow.settings):
                outputs.append(self._gate(env, key, started))
                continue
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
        outputs.extend(self._watched_event(item, store, data, subject))
        return outputs

    # -- Flow control: starts decided per key (processors/matching/flow.py) ----------------
    def _gate(self, env: Envelope, log_key: str, started: ExecutionStarted) -> Output:
        """A matched start of a workflow with flow control: to the matcher owning its key."""
        settings = started.workflow.settings
        try:
            flow_key = flow.flow_key(settings, started.context)
            priority = flow.priority_of(settings, started.context)
        except ConditionError as exc:
            refused = StartDecided(event_id=env.id, execution_id=started.execution_id, workflow_id=started.workflow.id,
                                   flow_key="", decision="refused", reason=f"not started: {exc}")
            return _decided(env.workspaceid, log_key, refused, env.id, env.time)
        if settings.concurrency is not None:
            # The executor releases the slot when the execution ends.
            marked = {**started.context, flow.FLOW_CONTEXT: {"workflow_id": started.workflow.id, "key": flow_key}}
            started = started.model_copy(update={"context": marked})
        request = StartRequested(
            execution_id=started.execution_id, workflow_id=started.workflow.id, flow_key=flow_key, event_id=env.id,
            start=started, correlation_id=env.correlationid or env.id, depth=env.depth, priority=priority,
        )
        envelope = make_envelope(
            request, id=deterministic_id("start-requested", started.execution_id), source="processor/matcher",
            workspace_id=env.workspaceid, subject=started.subject, time=env.time,
            correlation_id=env.correlationid or env.id, causation_id=env.id, depth=env.depth,
        )
        return Output.of(EVENTS, flow_partition_key(env.workspaceid, started.workflow.id, flow_key), envelope)

    def _flow(self, item: Incoming, store: StateStore, data: StartRequested | FlowReleased) -> list[Output]:
        env = item.envelope
        key = f"{FLOW_PREFIX}{env.workspaceid}:{data.workflow_id}:{data.flow_key}"
        partition = item.record.partition
        state = flow.load(store.get(partition, key))
        if isinstance(data, StartRequested):
            state, decisions = flow.request(state, data, env.time)
        else:
            state, decisions = flow.release(state, data.execution_id)
        store.put(partition, key, None if flow.is_empty(state, env.time) else state)
        outputs: list[Output] = []
        for decision, request, reason, waited in decisions:
            start = request.start
            log_key = f"{env.workspaceid}:{start.subject}"
            outputs.append(_decided(env.workspaceid, log_key, StartDecided(
                event_id=request.event_id, execution_id=request.execution_id, workflow_id=request.workflow_id,
                flow_key=request.flow_key, decision=decision, reason=reason, from_queue=waited,
            ), env.id, env.time))
            if decision == "started":
                outputs.append(Output.of(EXECUTIONS, start.execution_id, make_envelope(
                    start, id=deterministic_id("started", start.execution_id), source="processor/matcher",
                    workspace_id=env.workspaceid, subject=start.subject, time=env.time,
                    execution_id=start.execution_id, correlation_id=request.correlation_id,
                    causation_id=env.id, depth=request.depth + 1,
                )))
        return outputs

    # -- Journeys: executions watching their contact's events (processors/matching/awaiting.py)
    def _watch(self, item: Incoming, store: StateStore, data: WatchRegistered | WatchDropped) -> list[Output]:
        env = item.envelope
        key = _book_key(env.workspaceid, data.subject)
        partition = item.record.partition
        book = awaiting.load(store.get(partition, key))
        resolved: list[awaiting.Resolution] = []
        if isinstance(data, WatchDropped) and data.expire:
            book, resolved = awaiting.expire(book, data.watch_id)
        elif isinstance(data, WatchDropped):
            book = awaiting.drop(book, data.watch_id)
        else:
            book, resolved = awaiting.register(book, data)
        _put_book(store, partition, key, book)
        return [_answer(env.workspaceid, r, env.id) for r in resolved]

    def _watched_event(self, item: Incoming, store: StateStore, data: EventIngested, subject: str) -> list[Output]:
        env = item.envelope
        own, anyone = self.definitions.watched(env.workspaceid)
        partition = item.record.partition
        outputs: list[Output] = []
        view: dict[str, object] | None = None
        for key, watched in ((_book_key(env.workspaceid, subject), own), (_book_key(env.workspaceid, None), anyone)):
            stored = store.get(partition, key)
            keep = watched.get(data.event_type)
            if stored is None and keep is None:
                continue  # the hot path: nobody watches this subject or this type
            view = view or awaiting.event_view(data, env.id, env.time)
            book, resolved = awaiting.on_event(awaiting.load(stored), view, keep)
            _put_book(store, partition, key, book)
            outputs.extend(_answer(env.workspaceid, r, env.id) for r in resolved)
        return outputs


def flow_partition_key(workspace_id: str, workflow_id: str, flow_key: str) -> str:
    """The events-topic key of a flow-controlled start: one key's starts are decided in one place."""
    return f"{workspace_id}:flow:{workflow_id}:{flow_key}"


def _decided(workspace_id: str, log_key: str, decided: StartDecided, cause_id: str, time: datetime) -> Output:
    return Output.of(TRIGGER_LOG, log_key, make_envelope(
        decided, id=deterministic_id("start-decided", decided.execution_id, decided.decision), source="processor/matcher",
        workspace_id=workspace_id, time=time, causation_id=cause_id,
    ))


def _book_key(workspace_id: str, subject: str | None) -> str:
    return f"{WATCHES_PREFIX}{workspace_id}:{subject if subject is not None else '*'}"


def _put_book(store: StateStore, partition: int, key: str, book: awaiting.Book) -> None:
    # An empty book is a tombstone: a contact nobody watches costs nothing.
    store.put(partition, key, None if awaiting.is_empty(book) else book)


def _answer(workspace_id: str, resolution: awaiting.Resolution, cause_id: str) -> Output:
    record_id, data = awaiting.answer(resolution)
    at = resolution.event.get("time")
    envelope = make_envelope(
        data, id=record_id, source="processor/matcher", workspace_id=workspace_id,
        subject=resolution.watch.get("subject"), time=datetime.fromisoformat(str(at)) if at else None,
        execution_id=data.execution_id, causation_id=cause_id,
    )
    return Output.of(EXECUTIONS, data.execution_id, envelope)
