"""Trigger matching rules, pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from processors.matching.triggers import SubjectState, apply_profile, match_event
from schemas.records import EventIngested
from schemas.workflow import TriggerType, WorkflowSnapshot, WorkflowStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def wf(**kw: Any) -> WorkflowSnapshot:
    base: dict[str, Any] = {"id": "w1", "workspace_id": "ws", "version": 1, "name": "n", "status": WorkflowStatus.ACTIVE,
                                "trigger_type": TriggerType.EVENT, "trigger_config": {"event_type": "USER_CREATED"},
                                "created_at": T0, "updated_at": T0}
    base.update(kw)
    return WorkflowSnapshot(**base)


EVENT = EventIngested(event_type="USER_CREATED", user_id="u1", data={"email": "a@example.com"})


def test_matching_event_starts_one_execution_with_a_deterministic_id() -> None:
    matches, evals, state, context = match_event(EVENT, "e1", T0, [wf()], SubjectState())
    assert len(matches) == 1 and evals[0].matched
    again, *_ = match_event(EVENT, "e1", T0, [wf()], SubjectState())
    assert again[0].execution_id == matches[0].execution_id
    other, *_ = match_event(EVENT, "e2", T0, [wf()], SubjectState())
    assert other[0].execution_id != matches[0].execution_id
    assert context["user"]["email"] == "a@example.com" and state.runs["w1"]["count"] == 1


def test_reasons_for_not_matching() -> None:
    cases = [
        (wf(status=WorkflowStatus.DRAFT), "workflow is draft"),
        (wf(trigger_config={"event_type": "OTHER"}), "listens to OTHER"),
        (wf(trigger_type=TriggerType.CRON), "triggered by cron"),
        (wf(start_date=T0 + timedelta(days=1)), "start_date"),
        (wf(end_date=T0 - timedelta(days=1)), "end_date"),
        (wf(trigger_config={"event_type": "USER_CREATED", "filters": {"field": "user.email", "operator": "ends_with", "value": "@x.org"}}), "filters did not match"),
    ]
    for workflow, reason in cases:
        matches, evals, *_ = match_event(EVENT, "e1", T0, [workflow], SubjectState())
        assert matches == [] and reason in evals[0].reason, (reason, evals[0].reason)


def test_max_executions_and_delay_between_executions_per_subject() -> None:
    limited = wf(max_executions=1)
    _, _, state, _ = match_event(EVENT, "e1", T0, [limited], SubjectState())
    matches, evals, *_ = match_event(EVENT, "e2", T0, [limited], state)
    assert matches == [] and "max_executions" in evals[0].reason
    spaced = wf(delay_between_executions=3600)
    _, _, state, _ = match_event(EVENT, "e1", T0, [spaced], SubjectState())
    assert match_event(EVENT, "e2", T0 + timedelta(minutes=5), [spaced], state)[0] == []
    assert len(match_event(EVENT, "e3", T0 + timedelta(hours=2), [spaced], state)[0]) == 1


def test_priority_orders_evaluations() -> None:
    low = wf(id="low", trigger_config={"event_type": "USER_CREATED", "priority": 1})
    high = wf(id="high", trigger_config={"event_type": "USER_CREATED", "priority": 200})
    _, evals, *_ = match_event(EVENT, "e1", T0, [low, high], SubjectState())
    assert [e.workflow_id for e in evals] == ["high", "low"]


def test_profile_folds_user_events_and_tags() -> None:
    state = apply_profile(SubjectState(), EVENT)
    state = apply_profile(state, EventIngested(event_type="TAG_ADDED", user_id="u1", data={"tag": "vip"}))
    assert state.profile["email"] == "a@example.com" and state.profile["tags"] == ["vip"]
    state = apply_profile(state, EventIngested(event_type="TAG_REMOVED", user_id="u1", data={"tag": "vip"}))
    assert state.profile["tags"] == []
    assert SubjectState.from_json(state.to_json()) == state
