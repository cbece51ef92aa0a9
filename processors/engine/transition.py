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
from processors.engine.pinned import Workflows
from schemas.envelope import Envelope, RecordData, deterministic_id, make_envelope
from schemas.outputs import Output
from schemas.records import STEP_RECORDS, ExecutionSteps, NodeStepRecord
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
        # Node steps on the executions topic not written yet, and where in `outputs` they go:
        # consecutive ones become one ExecutionSteps record (`flush`).
        self._steps: list[tuple[NodeStepRecord, str]] = []
        self._steps_at = 0

    def emit(self, data: RecordData, record_id: str, topic: TopicSpec = EXECUTIONS, *, key: str | None = None) -> None:
        """Emit a record, keyed by the execution unless `key` says otherwise (a watch: its contact)."""
        if topic is EXECUTIONS and key is None:
            if type(data) in STEP_RECORDS:
                if not self._steps:
                    self._steps_at = len(self.outputs)
                self._steps.append((data, record_id))  # type: ignore[arg-type]
                return
            # Another executions record: the steps before it are written before it.
            self.flush()
        self.outputs.append(self._output(data, record_id, topic, key))

    def flush(self) -> list[Output]:
        """Write the pending node steps: a lone one as its own record, several as one
        ExecutionSteps (issue 17: one record, not one per step, for what this transaction
        decided), where the first of them was emitted. Returns `outputs`, complete."""
        steps, self._steps = self._steps, []
        if len(steps) == 1:
            self.outputs.insert(self._steps_at, self._output(*steps[0], EXECUTIONS))
        elif steps:
            compact = ExecutionSteps.of(self.state["execution_id"], [data for data, _ in steps])
            # The first step's id is derived from (kind, execution, node, attempt, iteration) and
            # emitted once: so is this record's, and a re-run of the same input derives it again.
            self.outputs.insert(self._steps_at, self._output(compact, deterministic_id("steps", steps[0][1]), EXECUTIONS))
        return self.outputs

    def _output(self, data: RecordData, record_id: str, topic: TopicSpec, key: str | None = None) -> Output:
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
        return Output.of(topic, st["execution_id"] if key is None else key, envelope)

    @property
    def running(self) -> bool:
        return bool(self.state["status"] == "running")


_INLINE: dict[bytes, WorkflowSnapshot] = {}


def workflow_of(state: State, workflows: Workflows) -> WorkflowSnapshot:
    """The snapshot the execution is pinned to: by its reference, or the inline copy of a state
    stored before references (version 1, upcast; the executor moves the copy out when it next
    writes the state). An inline copy is parsed once (validating it on every record would dominate)."""
    raw = state.get("workflow")
    if raw is None:
        return workflows.get(state["workflow_ref"])
    cache_key = hashlib.blake2b(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
    snapshot = _INLINE.get(cache_key)
    if snapshot is None:
        snapshot = WorkflowSnapshot.model_validate(raw)
        if len(_INLINE) > 2048:
            _INLINE.clear()
        _INLINE[cache_key] = snapshot
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
        "workflow_id": state["workflow_id"],
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
