"""The pure part of the live executions stream: cursors, what each record tells a console,
and the server-sent-events framing (api/services/live_frames.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.services.live_frames import (
    comment,
    format_cursor,
    frame,
    live_event,
    live_events,
    parse_cursor,
    start_positions,
)
from schemas import records as r
from schemas.envelope import Envelope, RecordData, make_envelope
from schemas.errors import InvalidInput
from schemas.workflow import WorkflowSnapshot

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=2)


def _snapshot() -> WorkflowSnapshot:
    return WorkflowSnapshot(id="wf-1", workspace_id="ws-1", version=3, name="Welcome", created_at=T0, updated_at=T0)


def _env(record: RecordData) -> Envelope:
    return make_envelope(record, source="tests", workspace_id="ws-1", time=T1, execution_id="ex-1")


# -- cursors ----------------------------------------------------------------------------------
def test_a_cursor_reads_back_as_written() -> None:
    assert parse_cursor("0:15,1:3,2:9") == {0: 15, 1: 3, 2: 9}
    assert format_cursor({2: 9, 0: 15, 1: 3}) == "0:15,1:3,2:9"


@given(st.dictionaries(st.integers(0, 999), st.integers(0, 10**12), min_size=1, max_size=20))
def test_every_cursor_round_trips(cursor: dict[int, int]) -> None:
    assert parse_cursor(format_cursor(cursor)) == cursor


@pytest.mark.parametrize("text", ["", "0", "0:", ":1", "a:1", "0:1,", "0:1;1:2", "0:-1", " 0:1", "0:1\n", "0:1,0:2", "x" * 3000])
def test_a_cursor_this_stream_never_wrote_is_refused_with_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cursor(text)
    assert "after" in refused.value.fields


def test_without_a_cursor_the_stream_starts_at_the_end() -> None:
    assert start_positions(None, {0: 0, 1: 5}, {0: 10, 1: 20}) == {0: 10, 1: 20}


def test_a_cursor_is_kept_within_what_the_topic_holds() -> None:
    # Retention dropped offsets before 5 on partition 1; partition 2's cursor is past the end.
    positions = start_positions({0: 4, 1: 2, 2: 99}, {0: 0, 1: 5, 2: 0}, {0: 10, 1: 20, 2: 30})
    assert positions == {0: 4, 1: 5, 2: 30}


def test_a_partition_the_cursor_does_not_name_starts_at_its_end() -> None:
    assert start_positions({0: 4}, {0: 0, 1: 0}, {0: 10, 1: 7}) == {0: 4, 1: 7}


def test_a_partition_the_topic_lacks_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        start_positions({0: 1, 7: 1}, {0: 0}, {0: 10})
    assert refused.value.fields == {"after": "no partition 7"}


# -- what a record tells the console ----------------------------------------------------------
def test_a_start_names_the_workflow_and_runs() -> None:
    started = r.ExecutionStarted(execution_id="ex-1", workflow=_snapshot(), trigger_type="event", subject="u-42", retry_of="ex-0")
    event = live_event(_env(started), started)
    assert event == {
        "change": "started", "execution_id": "ex-1", "status": "running", "at": T1.isoformat(),
        "workflow_id": "wf-1", "workflow_name": "Welcome", "workflow_version": 3, "trigger_type": "event",
        "user_id": "u-42", "retry_of": "ex-0", "started_at": T1.isoformat(),
    }


def test_the_ends_carry_their_status_path_and_failed_node() -> None:
    common = {"execution_id": "ex-1", "workflow_id": "wf-1", "workflow_version": 3, "execution_path": ("trigger", "check"),
              "started_at": T0, "completed_at": T1}
    completed = r.ExecutionCompleted(**common)
    failed = r.ExecutionFailed(**common, error=r.NodeError(code="HTTP_400", message="bad request"), failed_node="check")
    cancelled = r.ExecutionCancelled(**common, reason="by hand")
    for record, status in ((completed, "completed"), (failed, "failed"), (cancelled, "cancelled")):
        event = live_event(_env(record), record)
        assert event is not None
        assert (event["change"], event["status"], event["execution_path"]) == (status, status, ["trigger", "check"])
        assert (event["started_at"], event["completed_at"]) == (T0.isoformat(), T1.isoformat())
    failed_event = live_event(_env(failed), failed)
    assert failed_event is not None
    assert (failed_event["failed_node"], failed_event["error_message"]) == ("check", "bad request")


def test_node_steps_name_their_node_and_the_execution_still_runs() -> None:
    scheduled = r.NodeScheduled(execution_id="ex-1", node_id="check", node_type="condition", attempt=1)
    succeeded = r.NodeSucceeded(execution_id="ex-1", node_id="check", node_type="condition", attempt=1, started_at=T0, completed_at=T1)
    failed = r.NodeFailed(execution_id="ex-1", node_id="call", node_type="http_request", attempt=2,
                          error=r.NodeError(code="HTTP_500", message="down"), started_at=T0, completed_at=T1)
    retry = r.NodeRetryScheduled(execution_id="ex-1", node_id="call", attempt=1, next_attempt=2, delay_seconds=1.0, retry_at=T1,
                                 error=r.NodeError(code="HTTP_500", message="down"))
    changes = [live_event(_env(x), x) for x in (scheduled, succeeded, failed, retry)]
    assert [(c or {}).get("change") for c in changes] == ["node_scheduled", "node_succeeded", "node_failed", "node_retry_scheduled"]
    assert [(c or {}).get("node_id") for c in changes] == ["check", "check", "call", "call"]
    assert {(c or {}).get("status") for c in changes} == {"running"}


def test_a_compact_steps_record_is_told_step_by_step_and_a_lone_record_as_itself() -> None:
    scheduled = r.NodeScheduled(execution_id="ex-1", node_id="call", node_type="http_request", attempt=1)
    succeeded = r.NodeSucceeded(execution_id="ex-1", node_id="check", node_type="condition", attempt=1, started_at=T0, completed_at=T1)
    steps = r.ExecutionSteps.of("ex-1", [succeeded, scheduled])
    assert [(e["change"], e["node_id"]) for e in live_events(_env(steps), steps)] == [
        ("node_succeeded", "check"), ("node_scheduled", "call")]
    assert live_events(_env(succeeded), succeeded) == [live_event(_env(succeeded), succeeded)]
    asked = r.ExecutionCancelRequested(execution_id="ex-1", requested_by="u")
    assert live_events(_env(asked), asked) == []


def test_records_a_console_does_not_show_are_left_out() -> None:
    asked = r.ExecutionCancelRequested(execution_id="ex-1", requested_by="u")
    fired = r.TimerFired(timer_id="t", execution_id="ex-1", purpose="retry", fire_at=T0, fired_at=T1)
    assert live_event(_env(asked), asked) is None
    assert live_event(_env(fired), fired) is None


def test_the_workflow_filter_keeps_that_workflow_and_what_cannot_tell() -> None:
    started = r.ExecutionStarted(execution_id="ex-1", workflow=_snapshot(), trigger_type="manual")
    step = r.NodeScheduled(execution_id="ex-1", node_id="check", node_type="condition", attempt=1)
    assert live_event(_env(started), started, "wf-1") is not None
    assert live_event(_env(started), started, "wf-2") is None
    # A node record names no workflow: kept (the console matches it to a row it already shows).
    assert live_event(_env(step), step, "wf-2") is not None


# -- framing ----------------------------------------------------------------------------------
def test_a_frame_is_one_server_sent_event() -> None:
    assert frame("execution", {"a": "x\ny"}, "0:1") == b'id: 0:1\nevent: execution\ndata: {"a":"x\\ny"}\n\n'
    assert frame("ready", {"cursor": ""}) == b'event: ready\ndata: {"cursor":""}\n\n'
    assert comment("keepalive") == b": keepalive\n\n"


@given(st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=5))
def test_a_frame_holds_its_data_on_one_line(data: dict[str, str]) -> None:
    lines = frame("execution", data, "0:1").decode().split("\n")
    assert lines[:2] == ["id: 0:1", "event: execution"] and lines[-2:] == ["", ""]
    assert orjson.loads(lines[2].removeprefix("data: ")) == data


def test_every_change_is_what_the_published_model_says() -> None:
    """The stream's `execution` data as documented (schemas/answers/live.py ExecutionChange)."""
    from schemas.answers.live import ExecutionChange

    common = {"execution_id": "ex-1", "workflow_id": "wf-1", "workflow_version": 3, "started_at": T0, "completed_at": T1}
    error = r.NodeError(code="X", message="x")
    samples: list[RecordData] = [
        r.ExecutionStarted(execution_id="ex-1", workflow=_snapshot(), trigger_type="event"),
        r.NodeScheduled(execution_id="ex-1", node_id="n", node_type="action", attempt=1),
        r.NodeSucceeded(execution_id="ex-1", node_id="n", node_type="action", attempt=1, started_at=T0, completed_at=T1),
        r.NodeFailed(execution_id="ex-1", node_id="n", node_type="action", attempt=1, error=error, started_at=T0, completed_at=T1),
        r.NodeRetryScheduled(execution_id="ex-1", node_id="n", attempt=1, next_attempt=2, delay_seconds=1, retry_at=T1, error=error),
        r.ExecutionCompleted(**common),
        r.ExecutionFailed(**common, error=error, failed_node="n"),
        r.ExecutionCancelled(**common, reason="r"),
    ]
    for record in samples:
        event = live_event(_env(record), record)
        assert event is not None
        assert set(event) <= set(ExecutionChange.model_fields), set(event) - set(ExecutionChange.model_fields)
        ExecutionChange.model_validate(event)
