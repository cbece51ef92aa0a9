"""api.services.runs.manual_context: what a manual run sees, for seed 004's and seed 003's bodies."""

from __future__ import annotations

from api.services.runs import manual_context

AT = "2026-12-03T10:00:00+00:00"


def test_seed_004_input_data_is_the_event_data_and_the_input() -> None:
    context = manual_context("x1", {"client_id": 7}, {}, None, AT)
    assert context["event"] == {"id": "x1", "type": "manual", "data": {"client_id": 7}, "timestamp": AT}
    assert context["input_data"] == {"client_id": 7}
    assert context["user"] == {} and context["conversation"] == {}


def test_seed_003_context_runs_as_its_user_and_event() -> None:
    given = {"user": {"id": "customer-123", "first_name": "John"},
             "event": {"type": "MANUAL_TRIGGER", "data": {"reason": "Testing workflow"}},
             "conversation": {"id": "conv-1"}}
    context = manual_context("x2", given, {}, given, AT)
    assert context["user"] == {"id": "customer-123", "first_name": "John"}
    assert context["event"] == {"id": "x2", "type": "MANUAL_TRIGGER", "data": {"reason": "Testing workflow"}, "timestamp": AT}
    assert context["conversation"] == {"id": "conv-1"}


def test_execution_context_user_wins_and_odd_shapes_are_ignored() -> None:
    given = {"user": "not an object", "event": {"data": "nor this"}}
    context = manual_context("x3", {}, {"user": {"id": "u9"}}, given, AT)
    assert context["user"] == {"id": "u9"}
    assert context["event"]["type"] == "manual" and context["event"]["data"] == {}
    assert context["execution_context"] == {"user": {"id": "u9"}}
