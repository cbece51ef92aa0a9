"""Wrote the stored VERSION 1 executor records and state (`stored/v1/executions/`), once, with the engine of 4 Dec 2026.

Version 1 of the executor's "execution" state carried the whole pinned
workflow snapshot in every changelog write (`{"k": "execution", "v": 1, "s":
{..., "workflow": {...}}}`). These files are what an executor of that version
left behind for executions still waiting when the engine that stores a
reference instead was deployed: for each execution, every record it had
written or read on the executions and timers topics (the start, its node
steps, its timer orders), in order, and its changelog value. Written by the
pure machine of then (`advance`), encoded by the codec of then
(`EXECUTOR_STATE_CODEC`); the integration test
tests/integration/test_old_executions_new_engine.py writes them to a broker
and lets today's processors finish them. Do not regenerate these: they are
what old topics hold. (They were written by running this script on an export of
commit fab473b, the last engine of version 1: `git archive fab473b | tar -x -C DIR`,
then `PYTHONPATH=DIR python -m tests.unit.processors.streams.stored.generate_v1` in DIR.)

Two executions, each of a workflow the other does not use:
- `ex-old-delay`: trigger -> delay 2 s -> transform -> delay 6 s -> add_tag, waiting on the first delay's timer;
- `ex-old-wait`: trigger -> condition -> wait action 1 s -> set/transform, waiting on the wait's timer,
  its workflow deleted since (the definitions topic no longer has it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent / "v1" / "executions"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def executions() -> dict[str, dict[str, Any]]:
    from processors.engine.machine import advance
    from schemas.envelope import make_envelope
    from schemas.records import ExecutionStarted
    from schemas.state_versions import EXECUTOR_STATE_CODEC
    from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot, WorkflowStatus

    delay = WorkflowSnapshot(
        id="wf-old-delay", workspace_id="ws-old", version=3, name="delay then tag", created_at=T0, updated_at=T0,
        status=WorkflowStatus.ACTIVE, trigger_config={"event_type": "USER_CREATED"},
        nodes=(Node(id="t", node_type=NodeType.TRIGGER),
               Node(id="d", node_type=NodeType.DELAY, config={"delay_seconds": 2}),
               Node(id="shape", node_type=NodeType.TRANSFORM, config={"mapping": {"email": "{{user.email}}"}}),
               Node(id="d2", node_type=NodeType.DELAY, config={"delay_seconds": 6}),
               Node(id="tag", node_type=NodeType.ACTION, config={"action_type": "add_tag", "tag": "old-engine"})),
        edges=(Edge(id="t->d", source_node="t", target_node="d"), Edge(id="d->shape", source_node="d", target_node="shape"),
               Edge(id="shape->d2", source_node="shape", target_node="d2"), Edge(id="d2->tag", source_node="d2", target_node="tag")),
    )
    wait = WorkflowSnapshot(
        id="wf-old-wait", workspace_id="ws-old", version=7, name="check, wait, shape", created_at=T0, updated_at=T0,
        status=WorkflowStatus.ACTIVE, trigger_config={"event_type": "ORDER_PLACED"},
        nodes=(Node(id="t", node_type=NodeType.TRIGGER),
               Node(id="c", node_type=NodeType.CONDITION, config={"expression": "data.total > 10"}),
               Node(id="w", node_type=NodeType.ACTION, config={"action_type": "wait", "seconds": 1}),
               Node(id="out", node_type=NodeType.TRANSFORM, config={"mapping": {"total": "{{data.total}}"}})),
        edges=(Edge(id="t->c", source_node="t", target_node="c"),
               Edge(id="c->w", source_node="c", target_node="w", label="true"),
               Edge(id="w->out", source_node="w", target_node="out")),
    )
    found: dict[str, dict[str, Any]] = {}
    for execution_id, workflow, subject, context in (
        ("ex-old-delay", delay, "u-old-1", {"user": {"id": "u-old-1", "email": "ada@example.com"}}),
        ("ex-old-wait", wait, "u-old-2", {"user": {"id": "u-old-2"}, "data": {"total": 42}}),
    ):
        start = ExecutionStarted(execution_id=execution_id, workflow=workflow, trigger_type="event",
                                 event_id=f"ev-{execution_id}", subject=subject, context=context)
        envelope = make_envelope(start, source="urn:fluxo:processor/matcher", workspace_id="ws-old",
                                 id=f"started-{execution_id}", execution_id=execution_id, subject=subject, time=T0)
        running, outputs = advance(None, envelope, start, T0)
        assert running is not None and running["status"] == "running" and running["timers"], execution_id
        from schemas.codec import encode, record_headers

        records = [{"topic": "executions", "key": execution_id,
                    "headers": [[n, v.decode()] for n, v in record_headers(envelope)],
                    "value": orjson.loads(encode(envelope))}]
        for out in outputs:
            assert out.value is not None
            records.append({"topic": out.topic.name.removeprefix("fluxo.").removesuffix(".v1"), "key": out.key,
                            "headers": [[n, v.decode()] for n, v in out.headers], "value": orjson.loads(out.value)})
        found[execution_id] = {
            "records": records,
            "state": orjson.loads(EXECUTOR_STATE_CODEC.encode(execution_id, running)),
        }
    return found


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for execution_id, stored in executions().items():
        path = HERE / f"{execution_id}.json"
        path.write_bytes(orjson.dumps(stored, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        print(f"wrote {path.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
