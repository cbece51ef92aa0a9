"""The pure part of the live executions stream (`GET /api/v1/console/executions/stream`):
the cursor a client resumes from, what one execution record tells a watching console, and
the server-sent-events framing. No I/O here: api/services/live.py tails Kafka with it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from schemas import records as r
from schemas.envelope import Envelope, RecordData
from schemas.errors import InvalidInput

# partition -> the next offset to read.
Cursor = dict[int, int]

_CURSOR = re.compile(r"\d{1,6}:\d{1,19}(,\d{1,6}:\d{1,19})*")
MAX_CURSOR_CHARS = 2000


def parse_cursor(text: str) -> Cursor:
    """`"0:15,1:3,2:9"` (what an earlier frame's `id` said) as {partition: next offset}.

    Refused with the field at fault when it is not that shape or names a partition twice:
    a cursor is only ever one this stream wrote.
    """
    if len(text) > MAX_CURSOR_CHARS or not _CURSOR.fullmatch(text):
        raise InvalidInput("the cursor is not one this stream wrote (partition:offset,...)",
                           fields={"after": "expected partition:offset pairs, comma-separated"})
    cursor: Cursor = {}
    for pair in text.split(","):
        partition, offset = (int(part) for part in pair.split(":"))
        if partition in cursor:
            raise InvalidInput(f"partition {partition} appears twice in the cursor", fields={"after": "duplicate partition"})
        cursor[partition] = offset
    return cursor


def format_cursor(cursor: Cursor) -> str:
    return ",".join(f"{partition}:{offset}" for partition, offset in sorted(cursor.items()))


def start_positions(cursor: Cursor | None, beginning: Cursor, end: Cursor) -> Cursor:
    """Where to read each partition from: the cursor's offset kept within what the topic
    still holds (retention may have dropped the start; a cursor from another deployment may
    point past the end), the end for a partition the cursor does not name (a client with no
    cursor sees what happens from now on). A partition the topic does not have is refused."""
    if cursor is not None:
        unknown = sorted(set(cursor) - set(end))
        if unknown:
            raise InvalidInput(f"the topic has no partition {unknown[0]}", fields={"after": f"no partition {unknown[0]}"})
    positions: Cursor = {}
    for partition, last in end.items():
        first = beginning.get(partition, 0)
        wanted = last if cursor is None or partition not in cursor else cursor[partition]
        positions[partition] = min(max(wanted, first), last)
    return positions


def _status(record: RecordData) -> str:
    if isinstance(record, r.ExecutionCompleted):
        return "completed"
    if isinstance(record, r.ExecutionFailed):
        return "failed"
    if isinstance(record, r.ExecutionCancelled):
        return "cancelled"
    return "running"


# The records a console shows, and the name of each change.
_CHANGES: dict[type[RecordData], str] = {
    r.ExecutionStarted: "started",
    r.NodeScheduled: "node_scheduled",
    r.NodeSucceeded: "node_succeeded",
    r.NodeFailed: "node_failed",
    r.NodeRetryScheduled: "node_retry_scheduled",
    r.ExecutionCompleted: "completed",
    r.ExecutionFailed: "failed",
    r.ExecutionCancelled: "cancelled",
}


def live_event(envelope: Envelope, record: RecordData, workflow: str | None = None) -> dict[str, Any] | None:
    """What one execution record tells a console watching the executions list, or None for a
    record it does not show (timers, cancel requests, notifications; another workflow's when
    `workflow` filters). The caller has already kept only the caller's workspace's records."""
    change = _CHANGES.get(type(record))
    if change is None:
        return None
    event: dict[str, Any] = {
        "change": change,
        "execution_id": getattr(record, "execution_id", envelope.executionid),
        "status": _status(record),
        "at": envelope.time.isoformat(),
    }
    if isinstance(record, r.ExecutionStarted):
        event.update(workflow_id=record.workflow.id, workflow_name=record.workflow.name,
                     workflow_version=record.workflow.version, trigger_type=record.trigger_type,
                     user_id=record.subject, retry_of=record.retry_of, started_at=envelope.time.isoformat())
    elif isinstance(record, (r.ExecutionCompleted, r.ExecutionFailed, r.ExecutionCancelled)):
        event.update(workflow_id=record.workflow_id, workflow_version=record.workflow_version,
                     started_at=record.started_at.isoformat(), completed_at=record.completed_at.isoformat(),
                     execution_path=list(record.execution_path))
        if isinstance(record, r.ExecutionFailed):
            event.update(failed_node=record.failed_node, error_message=record.error.message)
    else:
        event["node_id"] = getattr(record, "node_id", None)
    # Node records do not name their workflow: the workflow filter keeps what it can tell.
    if workflow is not None and event.get("workflow_id", workflow) != workflow:
        return None
    return event


def live_events(envelope: Envelope, record: RecordData, workflow: str | None = None) -> list[dict[str, Any]]:
    """What one record tells the console, as `live_event` does, with a compact
    ExecutionSteps (several node steps of one executor transaction) told step by step."""
    records = record.records() if isinstance(record, r.ExecutionSteps) else [record]
    return [event for step in records if (event := live_event(envelope, step, workflow)) is not None]


def frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One server-sent event. `data` is JSON on one line (orjson never writes a newline)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def comment(text: str) -> bytes:
    """A comment line: keeps the connection from looking idle to proxies, shows nothing."""
    return f": {text}\n\n".encode()
