"""Trigger matching: which workflows an event starts, and why the others do not. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from processors.expressions.conditions import ConditionError, evaluate_filter
from processors.matching.linking import LinkedMatch, link_priority, match_linked
from schemas.envelope import deterministic_id
from schemas.records import EventIngested, TriggerDefined, TriggerEvaluation
from schemas.workflow import TriggerType, WorkflowSnapshot, WorkflowStatus

# Profile fields a USER_CREATED / USER_UPDATED event may carry in its data.
_PROFILE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "name",
    "username",
    "phone",
    "language",
    "custom_fields",
    "profile",
)


@dataclass
class SubjectState:
    """What the matcher remembers of one subject (user or lead) in one workspace."""

    profile: dict[str, Any] = field(default_factory=dict)
    # workflow id -> {"count": runs started, "last_at": ISO time of the last start}
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "runs": self.runs}

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> SubjectState:
        if not value:
            return cls()
        return cls(profile=dict(value.get("profile", {})), runs=dict(value.get("runs", {})))


@dataclass(frozen=True)
class Match:
    workflow: WorkflowSnapshot
    execution_id: str
    # The attached (seed 003) trigger that fired, when the workflow matched through one.
    link: LinkedMatch | None = None


def subject_of(event: EventIngested, event_id: str) -> str:
    return event.user_id or event.conversation_id or f"event:{event_id}"


def apply_profile(state: SubjectState, event: EventIngested) -> SubjectState:
    """Fold the event into the subject's contact profile (before matching, so a
    USER_CREATED event's own email is visible as `user.email`)."""
    profile = dict(state.profile)
    if event.user_id:
        profile["id"] = event.user_id
    if event.user:
        profile.update(event.user)
    kind = event.event_type.upper()
    if kind in ("USER_CREATED", "USER_UPDATED"):
        for name in _PROFILE_FIELDS:
            if name in event.data:
                profile[name] = event.data[name]
    tags = list(profile.get("tags", []))
    tag = event.data.get("tag") or event.data.get("tag_name")
    if kind == "TAG_ADDED" and isinstance(tag, str) and tag not in tags:
        tags.append(tag)
    if kind == "TAG_REMOVED" and isinstance(tag, str) and tag in tags:
        tags.remove(tag)
    profile["tags"] = tags
    if kind == "USER_UPDATED" and isinstance(event.data.get("custom_fields"), dict):
        profile["custom_fields"] = {**(state.profile.get("custom_fields") or {}), **event.data["custom_fields"]}
    status = event.data.get("status")
    if kind == "CONVERSATION_STATUS_CHANGED" and isinstance(status, str):
        profile["conversation_status"] = status.lower()
    note = event.data.get("note")
    if kind == "NOTE_ADDED" and isinstance(note, str):
        profile["notes"] = ([n for n in state.profile.get("notes", []) if isinstance(n, str)] + [note])[-20:]
    if event.conversation_id and "conversation_status" not in profile:
        profile["conversation_status"] = "open"
    return SubjectState(profile=profile, runs=state.runs)


def event_context(
    event: EventIngested, event_id: str, time: datetime, profile: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "event": {
            "id": event_id,
            "type": event.event_type,
            "data": event.data,
            "timestamp": (event.occurred_at or time).isoformat(),
        },
        "user": dict(profile),
        "conversation": (
            {"id": event.conversation_id, "status": profile.get("conversation_status", "open")}
            if event.conversation_id
            else {}
        ),
        "input_data": event.data,
        # Short names the seeds write templates with: `{{data.email}}`, seed 000's `{{visitor.email}}`.
        "data": event.data,
        "visitor": dict(profile),
    }


def _priority(workflow: WorkflowSnapshot) -> int:
    linked = link_priority(workflow)
    if linked is not None:
        return linked
    value = workflow.trigger_config.get("priority", 100)
    return value if isinstance(value, int) else 100


def _own_trigger(workflow: WorkflowSnapshot, event: EventIngested, context: Mapping[str, Any]) -> str | None:
    """The workflow's own trigger (trigger_type + trigger_config): None when it fires."""
    if workflow.trigger_type != TriggerType.EVENT:
        return f"workflow is triggered by {workflow.trigger_type.value}"
    if workflow.event_type != event.event_type:
        return f"listens to {workflow.event_type}, not {event.event_type}"
    filters = workflow.trigger_config.get("filters")
    if filters:
        try:
            if not evaluate_filter(filters, context):
                return "trigger filters did not match"
        except ConditionError as exc:
            return f"trigger filters are invalid: {exc}"
    return None


def evaluate(
    workflow: WorkflowSnapshot,
    event: EventIngested,
    context: Mapping[str, Any],
    state: SubjectState,
    now: datetime,
    triggers: Mapping[str, TriggerDefined] | None = None,
) -> str | None:
    """None when the workflow should start; otherwise the reason it does not."""
    return _evaluate(workflow, event, context, state, now, triggers or {})[0]


def _evaluate(
    workflow: WorkflowSnapshot,
    event: EventIngested,
    context: Mapping[str, Any],
    state: SubjectState,
    now: datetime,
    triggers: Mapping[str, TriggerDefined],
    source: str = "",
) -> tuple[str | None, LinkedMatch | None]:
    if workflow.status != WorkflowStatus.ACTIVE:
        return f"workflow is {workflow.status.value}", None
    link: LinkedMatch | None = None
    own = None if workflow.triggers and not workflow.event_type else _own_trigger(workflow, event, context)
    if workflow.triggers and (own is not None or not workflow.event_type):
        # Seed 003: the workflow's attached triggers; the highest priority that fires wins.
        link, why = match_linked(workflow, event.event_type, context, triggers, source)
        if link is None:
            return (why if own is None else f"{own}; {why}"), None
    elif own is not None:
        return own, None
    if workflow.start_date and now < workflow.start_date:
        return "before the workflow's start_date", None
    if workflow.end_date and now > workflow.end_date:
        return "after the workflow's end_date", None
    runs = state.runs.get(workflow.id, {})
    if workflow.max_executions and runs.get("count", 0) >= workflow.max_executions:
        return f"max_executions ({workflow.max_executions}) reached for this subject", None
    if workflow.delay_between_executions and runs.get("last_at"):
        since = now - datetime.fromisoformat(runs["last_at"])
        if since < timedelta(seconds=workflow.delay_between_executions):
            return f"delay_between_executions ({workflow.delay_between_executions}s) not elapsed", None
    return None, link


def match_event(
    event: EventIngested,
    event_id: str,
    time: datetime,
    candidates: Iterable[WorkflowSnapshot],
    state: SubjectState,
    triggers: Mapping[str, TriggerDefined] | None = None,
    source: str = "",
) -> tuple[list[Match], list[TriggerEvaluation], SubjectState, dict[str, Any]]:
    """Evaluate every candidate workflow in priority order.

    `triggers` are the workspace's reusable triggers (seed 003) by id, for workflows
    that have some attached; `source` is the event envelope's (api_call triggers hear
    only events ingested by the API). Returns the matches, one evaluation per candidate, the
    subject's new state and the context the executions start with.
    """
    state = apply_profile(state, event)
    context = event_context(event, event_id, time, state.profile)
    matches: list[Match] = []
    evaluations: list[TriggerEvaluation] = []
    runs = dict(state.runs)
    ordered = sorted(candidates, key=lambda w: (-_priority(w), w.created_at, w.id))
    for workflow in ordered:
        reason, link = _evaluate(workflow, event, context, SubjectState(state.profile, runs), time, triggers or {}, source)
        execution_id = None
        if reason is None:
            # Same event, same workflow version -> same id: re-delivery starts nothing new.
            execution_id = deterministic_id("execution", event_id, workflow.id, str(workflow.version))
            matches.append(Match(workflow, execution_id, link))
            previous = runs.get(workflow.id, {})
            runs[workflow.id] = {"count": previous.get("count", 0) + 1, "last_at": time.isoformat()}
        evaluations.append(
            TriggerEvaluation(
                workflow_id=workflow.id,
                workflow_version=workflow.version,
                matched=reason is None,
                reason=reason or (f"matched trigger {link.trigger.name!r} (priority {link.ref.priority})" if link else "matched"),
                execution_id=execution_id,
            )
        )
    return matches, evaluations, SubjectState(state.profile, runs), context
