"""Flow control on the executor's side: an execution holding a `concurrency` slot gives it back
when it ends (processors/matching/flow.py decides the starts). Pure."""

from __future__ import annotations

from processors.engine.transition import Step
from schemas.envelope import deterministic_id
from schemas.records import FlowReleased
from schemas.topics import EVENTS

# The matcher marks a slot-holding execution's context with this (processors.matching.flow).
FLOW_CONTEXT = "flow_control"


def release(step: Step) -> None:
    state = step.state
    held = state["context"].get(FLOW_CONTEXT)
    if not isinstance(held, dict) or not isinstance(held.get("key"), str):
        return
    workflow_id, key = str(held.get("workflow_id") or step.workflow.id), held["key"]
    step.emit(
        FlowReleased(execution_id=state["execution_id"], workflow_id=workflow_id, flow_key=key),
        deterministic_id("flow-released", state["execution_id"]),
        EVENTS,
        # Where the matcher keeps the key's slots (processors.services.matcher.flow_partition_key).
        key=f"{state['workspace_id']}:flow:{workflow_id}:{key}",
    )
