"""The execution state machine: `advance(state, record) -> (state, outputs)`. Pure.

The executor process, the dry-run endpoint and the tests all call this one
function. It never does I/O: side-effecting nodes become work orders for the
node workers, waits and backoffs become timers, and their results come back
as records. Record ids are derived from (execution, node, attempt, iteration),
so a re-run of the same input produces the same records, and a duplicate
input is recognised and ignored.

Graph semantics:
- A node runs once all its incoming edges are resolved (taken or dead) and
  at least one was taken; a node whose incoming edges are all dead is
  skipped and kills its own outgoing edges (dead-path elimination). So a
  join after parallel branches runs once, after every live branch.
- Condition nodes choose edges by label (true/false), by `true_path` /
  `false_path`, or by the edge's own CEL condition.
- A node that fails for good takes its error edges (label `error`) if it
  has any; otherwise the execution fails.
- A loop node runs its body (edges labelled `body`) once per item, one
  iteration after the other, then follows its other edges.

The machine is split by concern: `transitions` here (start, resume, a result, a timer, a
cancel), `dispatch` (running one node), `flow` (edges and joins), `loops`, `retries`,
`timers`, `ending`, `ids` (record ids) and `transition` (the state and one step).
State is a JSON-able dict (it is stored in a compacted changelog topic).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from processors.engine import dispatch, flow, graph, loops, retries, waits
from processors.engine.ending import cancel, fail, finished_marker
from processors.engine.ids import key_of, message_event_id, result_id, work_result
from processors.engine.kinds import (
    ACTION_DEFAULTS,
    CODE_ACTIONS,
    CODE_FIELDS,
    MESSAGE_ACTIONS,
    MESSAGE_SENT,
    SOURCE,
    WAIT_ACTIONS,
)
from processors.engine.pinned import SHARED, UnknownWorkflow, Workflows
from processors.engine.timers import schedule_timer
from processors.engine.transition import (
    State,
    Step,
    eval_context,
    pending_keys,
    start_nodes,
    workflow_of,
)
from schemas.envelope import Envelope, RecordData, deterministic_id
from schemas.outputs import Output
from schemas.records import (
    ExecutionCancelRequested,
    ExecutionStarted,
    NodeError,
    NodeFailed,
    NodeSucceeded,
    TimerFired,
    WatchResolved,
)
from schemas.workflow import NodeType

# The engine's public surface: the executor, the worker, the simulator, the API and the tests
# import these from here, whichever module of the engine defines them.
__all__ = [
    "ACTION_DEFAULTS", "ACTS_ON", "CODE_ACTIONS", "CODE_FIELDS", "MESSAGE_SENT", "SOURCE", "WAIT_ACTIONS",
    "State", "UnknownWorkflow", "Workflows", "advance", "eval_context", "finished_marker", "key_of", "message_event_id", "pending_keys",
    "result_id", "start_nodes", "work_result", "workflow_of",
]


# The record types `advance` acts on; it returns every other one unchanged with no outputs.
ACTS_ON = frozenset({
    ExecutionStarted.TYPE, NodeSucceeded.TYPE, NodeFailed.TYPE, TimerFired.TYPE, ExecutionCancelRequested.TYPE,
    WatchResolved.TYPE,
})


def advance(
    state: State | None, envelope: Envelope, data: RecordData, now: datetime, workflows: Workflows | None = None,
) -> tuple[State | None, list[Output]]:
    """One record applied to one execution's state. `workflows`: the pinned snapshots the states
    name (processors/engine/pinned.py); a start adds its own. The executor passes its catalogue; by
    default the process-wide one, for callers that run an execution start to end in one process."""
    workflows = SHARED if workflows is None else workflows
    if isinstance(data, ExecutionStarted):
        if state is not None:
            return state, []  # duplicate start
        return _start(envelope, data, now, workflows)
    if state is None or state.get("status") != "running":
        # Echoes of our own records, or results arriving after the end.
        return state, []
    if isinstance(data, NodeSucceeded | NodeFailed | TimerFired | ExecutionCancelRequested | WatchResolved):
        step = Step(state, workflow_of(state, workflows), envelope, now)
        if isinstance(data, NodeSucceeded):
            _on_success(step, data)
        elif isinstance(data, NodeFailed):
            _on_failure(step, data)
        elif isinstance(data, TimerFired):
            _on_timer(step, data)
        elif isinstance(data, WatchResolved):
            waits.on_resolved(step, data)
        else:
            _on_cancel(step, data)
        loops.settle(step)
        return state, step.flush()
    return state, []


def _start(envelope: Envelope, data: ExecutionStarted, now: datetime, workflows: Workflows) -> tuple[State, list[Output]]:
    ref, workflow = workflows.pin(data.workflow)
    state: State = {
        "execution_id": data.execution_id,
        "workspace_id": envelope.workspaceid,
        "subject": data.subject,
        "correlation_id": envelope.correlationid,
        "depth": envelope.depth,
        # The snapshot by reference, not by value: every changelog write of the state used to
        # carry the whole workflow (docs/benchmarks.md); `workflows` holds it once.
        "workflow_id": workflow.id,
        "workflow_version": workflow.version,
        "workflow_ref": ref,
        # A copy: contact actions rewrite context["user"], and `advance` must not change the
        # record it was given (a dry run or a test may pass the same record twice).
        "context": orjson.loads(orjson.dumps(data.context)),
        "status": "running",
        "started_at": envelope.time.isoformat(),
        "path": [],
        "nodes": {},
        "edges": {},
        "timers": {},
        "loop": None,
        "steps": 0,
    }
    step = Step(state, workflow, envelope, now)
    if data.resume_from:
        _resume(step, data)
    else:
        roots = start_nodes(workflow)
        for node in roots:
            dispatch.run_node(step, node, attempt=1)
    waits.register_journey(step)
    loops.settle(step)
    timeout = workflow.settings.timeout_seconds
    if step.running and timeout is not None:
        # Only when the workflow asks for one: an unbounded execution costs no timer (its
        # scheduled and cancelled records and its timer-state writes: 4 records of ~20).
        schedule_timer(
            step,
            purpose="execution_timeout",
            timer_id=deterministic_id("timer", data.execution_id, "execution_timeout"),
            fire_at=now + timedelta(seconds=timeout),
        )
    return state, step.flush()


def _resume(step: Step, data: ExecutionStarted) -> None:
    """Retry-from-node: earlier nodes count as done with their original outputs."""
    state, workflow = step.state, step.workflow
    for node_id in data.prior_path:
        if node_id in data.prior_nodes and workflow.node(node_id) is not None:
            state["nodes"][node_id] = {"node_id": node_id, "status": "succeeded", "attempt": 1, "output": data.prior_nodes[node_id], "iteration": None}
            state["path"].append(node_id)
    # Re-derive the decisions those nodes made, so joins downstream see them.
    for node_id in list(state["path"]):
        node = workflow.node(node_id)
        if node is not None:
            for edge in graph.outgoing(workflow, node_id):
                if edge.target_node != data.resume_from and edge.target_node not in state["nodes"]:
                    try:
                        taken = not graph.is_error_edge(edge) and flow.edge_taken(state, node, edge, state["nodes"][node_id]["output"])
                    except flow.EdgeError as exc:
                        fail(step, NodeError(code="AUTO_007", message=str(exc)), node_id)
                        return
                    state["edges"][edge.id] = "taken" if taken else "dead"
    resume = workflow.node(data.resume_from or "")
    if resume is None:
        fail(step, NodeError(code="AUTO_001", message=f"node {data.resume_from} is not in the workflow"), None)
        return
    dispatch.run_node(step, resume, attempt=1)
    for node in workflow.nodes:
        if node.id not in state["nodes"] and step.running:
            flow.check_ready(step, node, None)


def _on_success(step: Step, data: NodeSucceeded) -> None:
    state = step.state
    key = key_of(data.node_id, data.iteration)
    info = state["nodes"].get(key)
    if info is None or info["status"] != "scheduled" or info["attempt"] != data.attempt:
        return  # duplicate or stale result
    node = step.workflow.node(data.node_id)
    decisions: dict[str, bool] | None = None
    edge_error: flow.EdgeError | None = None
    if node is not None:
        try:
            decisions = flow.decide(step, node, data.output)
        except flow.EdgeError as exc:
            edge_error = exc
    if edge_error is None:
        flow.record_success(state, key, data.output)
    if node is not None and node.node_type == NodeType.ACTION and str(node.config.get("action_type", "")).lower() in MESSAGE_ACTIONS:
        dispatch.message_sent(step, node, data)
    if node is None:
        return
    if edge_error is not None:
        # The worker's success is recorded already (its side effect happened): the node's
        # edge cannot be evaluated, so it fails from here (its error edges, else the execution).
        retries.node_failed(step, node, data.iteration, data.attempt, NodeError(code="AUTO_007", message=str(edge_error)),
                            recorded=True, node_input=data.input)
        return
    flow.follow(step, node, decisions)


def _on_failure(step: Step, data: NodeFailed) -> None:
    state = step.state
    key = key_of(data.node_id, data.iteration)
    info = state["nodes"].get(key)
    if info is None or info["status"] != "scheduled" or info["attempt"] != data.attempt:
        return
    node = step.workflow.node(data.node_id)
    if node is None:
        info["status"] = "failed"
        fail(step, data.error, data.node_id)
        return
    retries.node_failed(step, node, data.iteration, data.attempt, data.error, recorded=True, node_input=data.input)


def _on_timer(step: Step, data: TimerFired) -> None:
    state = step.state
    if state["timers"].pop(data.timer_id, None) is None:
        return  # cancelled or already handled
    if data.purpose == "execution_timeout":
        seconds = step.workflow.settings.timeout_seconds
        open_nodes = pending_keys(state)
        error = NodeError(code="AUTO_006", message=f"execution timed out after {seconds}s")
        failed_node = state["nodes"][open_nodes[0]]["node_id"] if open_nodes else None
        fail(step, error, failed_node)
        return
    if data.purpose == waits.TIMEOUT_PURPOSE:
        waits.on_timeout(step, data)
        return
    if data.node_id is None:
        return
    key = key_of(data.node_id, data.iteration)
    info = state["nodes"].get(key)
    node = step.workflow.node(data.node_id)
    if info is None or node is None or data.attempt is None or info["attempt"] != data.attempt:
        return
    if data.purpose == "wait" and info["status"] == "waiting":
        output = {"waited_seconds": info.get("wait_seconds", 0), "resumed_at": step.now.isoformat()}
        dispatch.succeed_inline(step, node, data.iteration, data.attempt, info.get("input", {}), output, started_at=info.get("started_at"))
    elif data.purpose == "pre_delay" and info["status"] == "delayed":
        dispatch.dispatch(step, node, data.attempt, data.iteration, after_delay=True)
    elif data.purpose == "retry" and info["status"] == "retrying":
        dispatch.run_node(step, node, attempt=data.attempt, iteration=data.iteration)


def _on_cancel(step: Step, data: ExecutionCancelRequested) -> None:
    cancel(step, data.reason)
