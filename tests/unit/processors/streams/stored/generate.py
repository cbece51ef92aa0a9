"""Wrote the stored UNVERSIONED state values (version 1), once, as the processors stored them before state versions.

Each file is one changelog value exactly as `StateStore.changelog` wrote it
then (`orjson.dumps(state)`), under `<topic>/<quoted key>.json`. The states
are real: an execution started by the pure machine (`advance`) on a workflow
that waits on a timer, the marker it leaves when finished, a matcher subject
state from `match_event`, and the timer service's timer and cron values from
its own code. Do not regenerate these: they are what old changelogs hold.
A later state version gets its own stored values, written by a script of its
own next to this one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import orjson

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def states() -> dict[tuple[str, str], Any]:
    from processors.engine.machine import advance, finished_marker
    from processors.matching.triggers import SubjectState, match_event
    from processors.services.timers import TimerService
    from processors.streams.runner import Incoming
    from processors.streams.state import StateStore
    from schemas.envelope import make_envelope
    from schemas.records import EventIngested, ExecutionStarted, TimerScheduled
    from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot, WorkflowStatus

    workflow = WorkflowSnapshot(
        id="wf-wait", workspace_id="ws-1", version=2, name="wait then shape", created_at=T0, updated_at=T0,
        trigger_config={"event_type": "USER_CREATED"},
        nodes=(Node(id="t", node_type=NodeType.TRIGGER),
               Node(id="d", node_type=NodeType.DELAY, config={"delay_seconds": 2}),
               Node(id="shape", node_type=NodeType.TRANSFORM, config={"mapping": {"email": "{{user.email}}"}})),
        edges=(Edge(id="t->d", source_node="t", target_node="d"), Edge(id="d->shape", source_node="d", target_node="shape")),
    )
    start = ExecutionStarted(execution_id="ex-wait", workflow=workflow, trigger_type="event", event_id="ev-1",
                             subject="u-1", context={"user": {"id": "u-1", "email": "ada@example.com"}})
    envelope = make_envelope(start, source="tests", workspace_id="ws-1", id="ev-start-1", execution_id="ex-wait",
                             subject="u-1", time=T0)
    running, outputs = advance(None, envelope, start, T0)
    assert running is not None and running["status"] == "running"

    # The wait's timer, as the timer service stores it from the executor's TimerScheduled.
    timers = TimerService()
    store = StateStore()
    for out in outputs:
        body = orjson.loads(out.value) if out.value else {}
        if body.get("type") == TimerScheduled.TYPE and body["data"]["purpose"] == "wait":
            from schemas.codec import decode

            env, data = decode(out.value)
            timers._one(Incoming(SimpleNamespace(partition=0), env, data), store)  # type: ignore[arg-type]
    store.commit()
    (timer_key, timer), = [(k, v) for _, k, v in store.items()]

    _, _, subject, _ = match_event(
        EventIngested(event_type="USER_CREATED", user_id="u-1", data={"email": "ada@example.com"},
                      user={"first_name": "Ada", "email": "ada@example.com"}),
        "ev-1", T0, [workflow.model_copy(update={"status": WorkflowStatus.ACTIVE})], SubjectState(),
    )
    return {
        ("executor-state", "ex-wait"): running,
        ("executor-state", "ex-done"): finished_marker({**running, "status": "completed"}, 1767225600.5),
        # Markers from before they carried a time.
        ("executor-state", "ex-done-untimed"): finished_marker({**running, "status": "failed"}),
        ("matcher-state", "ws-1:u-1"): subject.to_json(),
        ("timer-state", timer_key): timer,
        ("timer-state", "cron:wf-cron"): {"last_fire": T0.isoformat(), "version": 4},
        ("timer-state", "cron:wf-cron:tr-1"): {"last_fire": T0.isoformat(), "version": 4, "error": "bad cron"},
    }


def main() -> None:
    for (topic, key), state in states().items():
        path = HERE / topic / f"{quote(key, safe='')}.json"
        path.parent.mkdir(exist_ok=True)
        # What StateStore.changelog wrote before versions: orjson.dumps(state)
        # (checked against it when these files were written, with the StateStore of then).
        path.write_bytes(orjson.dumps(state))
        print(f"wrote {path.relative_to(HERE)}")


if __name__ == "__main__":
    main()
