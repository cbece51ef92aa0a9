"""One transition of an execution: `Step` collects what one call to `advance` emits; the
execution state and the context templates and conditions see.

State is a JSON-able dict (it is stored in a compacted changelog topic).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from processors.engine import graph
from processors.engine.kinds import OPEN, SOURCE
from schemas.envelope import Envelope, RecordData, make_envelope
from schemas.outputs import Output
from schemas.topics import EXECUTIONS, TopicSpec
from schemas.workflow import Node, WorkflowSnapshot

State = dict[str, Any]


class Step:
    """Collects what one call to `advance` emits."""

    def __init__(self, state: State, workflow: WorkflowSnapshot, cause: Envelope, now: datetime) -> None:
        self.state = state
        self.workflow = workflow
        self.cause = cause
        self.now = now
        self.outputs: list[Output] = []

    def emit(self, data: RecordData, record_id: str, topic: TopicSpec = EXECUTIONS, *, key: str | None = None) -> None:
        """Emit a record, keyed by the execution unless `key` says otherwise (a watch: its contact)."""
        st = self.state
        envelope = make_envelope(
            data,
            id=record_id,
            source=SOURCE,
            workspace_id=st["workspace_id"],
            subject=st.get("subject"),
            time=self.now,
            execution_id=st["execution_id"],
            correlation_id=st.get("correlation_id"),
            causation_id=self.cause.id,
            depth=st.get("depth", 0),
        )
        self.outputs.append(Output.of(topic, st["execution_id"] if key is None else key, envelope))

    @property
    def running(self) -> bool:
        return bool(self.state["status"] == "running")


_SNAPSHOTS: dict[bytes, WorkflowSnapshot] = {}


def workflow_of(state: State) -> WorkflowSnapshot:
    """The pinned snapshot, parsed once (validating it on every record would dominate).

    Keyed by content, not by (id, version): correctness never rests on the
    assumption that a version number is never reused.
    """
    raw = state["workflow"]
    cache_key = hashlib.blake2b(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
    snapshot = _SNAPSHOTS.get(cache_key)
    if snapshot is None:
        snapshot = WorkflowSnapshot.model_validate(raw)
        if len(_SNAPSHOTS) > 2048:
            _SNAPSHOTS.clear()
        _SNAPSHOTS[cache_key] = snapshot
    return snapshot


def eval_context(state: State, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What templates and conditions see: the trigger context, every node's output so far."""
    context = dict(state["context"])
    nodes: dict[str, Any] = {}
    for info in state["nodes"].values():
        if info["status"] in ("succeeded", "failed"):
            nodes[info["node_id"]] = info.get("output", {})
    context["nodes"] = nodes
    context["execution"] = {
        "id": state["execution_id"],
        "workflow_id": state["workflow"]["id"],
        "started_at": state["started_at"],
    }
    loop = state.get("loop")
    if loop and loop["items"]:
        item = loop["items"][loop["index"]]
        context["loop"] = {"item": item, "index": loop["index"], "total": len(loop["items"])}
        context["item"] = item
    if extra:
        context.update(extra)
    return context


def start_nodes(workflow: WorkflowSnapshot) -> list[Node]:
    return graph.start_nodes(workflow)


def pending_keys(state: State) -> list[str]:
    return [k for k, info in state["nodes"].items() if info["status"] in OPEN]
