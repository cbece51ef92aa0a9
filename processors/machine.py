"""The execution state machine: `advance(state, record) -> (state, outputs)`. Pure.

The executor process, the dry-run endpoint and the tests all call this one
function. It never does I/O: side-effecting nodes become work orders for the
node workers, and their results come back as records. Record ids are derived
from (execution, node, attempt), so a re-run of the same input produces the
same records, and a duplicate input is recognised and ignored.

State is a JSON-able dict (it is stored in a compacted changelog topic).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infra.kafka_io import Output
from processors.conditions import ConditionError, evaluate_cel, evaluate_condition
from processors.templates import TemplateError, render_value
from schemas.envelope import Envelope, RecordData, deterministic_id, make_envelope
from schemas.records import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    NodeError,
    NodeFailed,
    NodeScheduled,
    NodeSucceeded,
    NodeWorkOrdered,
)
from schemas.topics import EXECUTIONS, NODE_WORK
from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

State = dict[str, Any]

SOURCE = "processor/executor"
# Nodes the executor evaluates itself; everything else is a side effect for a worker.
INLINE = {NodeType.TRIGGER, NodeType.CONDITION, NodeType.TRANSFORM}
DISPATCHED = {NodeType.ACTION, NodeType.HTTP_REQUEST, NodeType.DATABASE_QUERY}
# A bound on steps per execution, so a malformed graph can never spin forever.
MAX_STEPS = 1000
DEFAULT_NODE_TIMEOUT = 30.0
_TRUE_LABELS = {"true", "yes", "oui", "vrai", "valid"}
_FALSE_LABELS = {"false", "no", "non", "faux", "invalid"}


class _Step:
    """Collects what one call to `advance` emits."""

    def __init__(self, state: State, cause: Envelope, now: datetime) -> None:
        self.state = state
        self.cause = cause
        self.now = now
        self.outputs: list[Output] = []

    def emit(self, data: RecordData, record_id: str, topic: Any = EXECUTIONS) -> None:
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
        self.outputs.append(Output.of(topic, st["execution_id"], envelope))


def workflow_of(state: State) -> WorkflowSnapshot:
    return WorkflowSnapshot.model_validate(state["workflow"])


def eval_context(state: State, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What templates and conditions see: the trigger context, every node's output so far."""
    context = dict(state["context"])
    nodes = {nid: info.get("output", {}) for nid, info in state["nodes"].items()}
    context["nodes"] = nodes
    context["execution"] = {
        "id": state["execution_id"],
        "workflow_id": state["workflow"]["id"],
        "started_at": state["started_at"],
    }
    if extra:
        context.update(extra)
    return context


def start_nodes(workflow: WorkflowSnapshot) -> list[Node]:
    triggers = [n for n in workflow.nodes if n.node_type == NodeType.TRIGGER]
    if triggers:
        return triggers
    targets = {e.target_node for e in workflow.edges}
    return [n for n in workflow.nodes if n.id not in targets]


def advance(state: State | None, envelope: Envelope, data: RecordData, now: datetime) -> tuple[State | None, list[Output]]:
    if isinstance(data, ExecutionStarted):
        if state is not None:
            return state, []  # duplicate start
        return _start(envelope, data, now)
    if state is None or state.get("status") != "running":
        # Echoes of our own records, or results arriving after the end.
        return state, []
    if isinstance(data, NodeSucceeded):
        return _on_success(state, envelope, data, now)
    if isinstance(data, NodeFailed):
        return _on_failure(state, envelope, data, now)
    return state, []


# -- transitions ----------------------------------------------------------------
def _start(envelope: Envelope, data: ExecutionStarted, now: datetime) -> tuple[State, list[Output]]:
    workflow = data.workflow
    state: State = {
        "execution_id": data.execution_id,
        "workspace_id": envelope.workspaceid,
        "subject": data.subject,
        "correlation_id": envelope.correlationid,
        "depth": envelope.depth,
        "workflow": workflow.model_dump(mode="json"),
        "context": data.context,
        "status": "running",
        "started_at": envelope.time.isoformat(),
        "path": [],
        "nodes": {},
        "pending": [],
        "steps": 0,
    }
    step = _Step(state, envelope, now)
    roots = start_nodes(workflow)
    if not roots:
        _finish(step, workflow)
        return state, step.outputs
    for node in roots:
        _run(step, workflow, node, attempt=1)
    _maybe_finish(step, workflow)
    return state, step.outputs


def _on_success(state: State, envelope: Envelope, data: NodeSucceeded, now: datetime) -> tuple[State, list[Output]]:
    info = state["nodes"].get(data.node_id)
    if info is None or info["status"] != "scheduled" or info["attempt"] != data.attempt:
        return state, []  # duplicate or stale result
    workflow = workflow_of(state)
    step = _Step(state, envelope, now)
    _record_success(state, data.node_id, data.output)
    node = workflow.node(data.node_id)
    if node is not None:
        _follow(step, workflow, node, data.output)
    _maybe_finish(step, workflow)
    return state, step.outputs


def _on_failure(state: State, envelope: Envelope, data: NodeFailed, now: datetime) -> tuple[State, list[Output]]:
    info = state["nodes"].get(data.node_id)
    if info is None or info["status"] != "scheduled" or info["attempt"] != data.attempt:
        return state, []
    workflow = workflow_of(state)
    step = _Step(state, envelope, now)
    node = workflow.node(data.node_id)
    settings = workflow.settings
    if (
        node is not None
        and data.error.retryable
        and settings.retry_on_failure
        and data.attempt <= settings.max_retries
    ):
        _run(step, workflow, node, attempt=data.attempt + 1)
        return state, step.outputs
    info["status"] = "failed"
    state["pending"] = [p for p in state["pending"] if p != data.node_id]
    _fail(step, workflow, data.error, data.node_id)
    return state, step.outputs


# -- running nodes ----------------------------------------------------------------
def _run(step: _Step, workflow: WorkflowSnapshot, node: Node, attempt: int) -> None:
    state = step.state
    state["steps"] += 1
    if state["steps"] > MAX_STEPS:
        _fail(step, workflow, NodeError(code="AUTO_006", message=f"more than {MAX_STEPS} steps"), node.id)
        return
    state["nodes"][node.id] = {"status": "scheduled", "attempt": attempt, "output": {}}
    context = eval_context(state)
    if node.node_type in INLINE:
        _run_inline(step, workflow, node, attempt, context)
        return
    if node.node_type not in DISPATCHED:
        error = NodeError(
            code="NODE_UNSUPPORTED",
            message=f"node type {node.node_type.value} is not supported by this engine version",
        )
        _inline_failure(step, workflow, node, attempt, {}, error)
        return
    try:
        config = render_value(node.config, context, now=step.now)
    except TemplateError as exc:
        error = NodeError(code="TEMPLATE_ERROR", message=f"{exc.path}: {exc}")
        _inline_failure(step, workflow, node, attempt, dict(node.config), error)
        return
    action_type = str(config.get("action_type") or node.node_type.value)
    execution_id = state["execution_id"]
    state["pending"].append(node.id)
    step.emit(
        NodeScheduled(execution_id=execution_id, node_id=node.id, node_type=node.node_type, attempt=attempt, input=config),
        deterministic_id("scheduled", execution_id, node.id, str(attempt)),
    )
    timeout = config.get("timeout_seconds", DEFAULT_NODE_TIMEOUT)
    step.emit(
        NodeWorkOrdered(
            execution_id=execution_id,
            workflow_id=workflow.id,
            node_id=node.id,
            node_type=node.node_type,
            action_type=action_type,
            attempt=attempt,
            config=config,
            idempotency_key=f"{execution_id}:{node.id}:{attempt}",
            timeout_seconds=float(timeout) if isinstance(timeout, int | float) and timeout > 0 else DEFAULT_NODE_TIMEOUT,
        ),
        deterministic_id("work", execution_id, node.id, str(attempt)),
        topic=NODE_WORK,
    )


def _run_inline(step: _Step, workflow: WorkflowSnapshot, node: Node, attempt: int, context: dict[str, Any]) -> None:
    state = step.state
    try:
        node_input, output = _evaluate_inline(node, context, step.now)
    except (ConditionError, TemplateError) as exc:
        error = NodeError(code="AUTO_007", message=f"{node.node_type.value} node {node.id}: {exc}")
        _inline_failure(step, workflow, node, attempt, {}, error)
        return
    step.emit(
        NodeSucceeded(
            execution_id=state["execution_id"],
            node_id=node.id,
            node_type=node.node_type,
            attempt=attempt,
            input=node_input,
            output=output,
            started_at=step.now,
            completed_at=step.now,
        ),
        deterministic_id("succeeded", state["execution_id"], node.id, str(attempt)),
    )
    _record_success(state, node.id, output)
    _follow(step, workflow, node, output)


def _evaluate_inline(node: Node, context: dict[str, Any], now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    config = node.config
    if node.node_type == NodeType.TRIGGER:
        return {}, dict(context.get("input_data") or {})
    if node.node_type == NodeType.CONDITION:
        spec: Any = config.get("condition")
        if spec is None:
            spec = config.get("filters") or ({"operator": config.get("operator", "and"), "conditions": config["conditions"]} if "conditions" in config else None)
        result = evaluate_condition(spec, context)
        output: dict[str, Any] = {"result": result}
        for port in node.outputs:
            output[port.name] = result
        return {"condition": spec}, output
    # transform: map fields through templates
    mapping = config.get("mapping") or config.get("fields") or {}
    rendered = render_value(mapping, context, now=now)
    return {"mapping": mapping}, rendered if isinstance(rendered, dict) else {"value": rendered}


def _inline_failure(step: _Step, workflow: WorkflowSnapshot, node: Node, attempt: int, node_input: dict[str, Any], error: NodeError) -> None:
    state = step.state
    state["nodes"][node.id] = {"status": "failed", "attempt": attempt, "output": {}}
    step.emit(
        NodeFailed(
            execution_id=state["execution_id"],
            node_id=node.id,
            node_type=node.node_type,
            attempt=attempt,
            input=node_input,
            error=error,
            started_at=step.now,
            completed_at=step.now,
        ),
        deterministic_id("failed", state["execution_id"], node.id, str(attempt)),
    )
    _fail(step, workflow, error, node.id)


def _record_success(state: State, node_id: str, output: dict[str, Any]) -> None:
    info = state["nodes"][node_id]
    info["status"] = "succeeded"
    info["output"] = output
    state["path"].append(node_id)
    state["pending"] = [p for p in state["pending"] if p != node_id]


def _edge_taken(state: State, node: Node, edge: Edge, output: Mapping[str, Any]) -> bool:
    if edge.condition:
        context = eval_context(state, {**output, "output": dict(output)})
        try:
            return evaluate_cel(edge.condition, context) is True
        except ConditionError:
            return False
    if node.node_type != NodeType.CONDITION:
        return True
    result = bool(output.get("result"))
    true_path, false_path = node.config.get("true_path"), node.config.get("false_path")
    if edge.target_node in (true_path, false_path):
        return edge.target_node == (true_path if result else false_path)
    label = (edge.label or "").strip().lower()
    if label in _FALSE_LABELS:
        return not result
    # An unlabelled edge out of a condition is its "true" branch.
    return result


def _follow(step: _Step, workflow: WorkflowSnapshot, node: Node, output: Mapping[str, Any]) -> None:
    state = step.state
    for edge in workflow.edges:
        if edge.source_node != node.id or state["status"] != "running":
            continue
        target = workflow.node(edge.target_node)
        if target is None or target.id in state["nodes"]:
            continue  # dangling edge, or already reached by another branch
        if _edge_taken(state, node, edge, output):
            _run(step, workflow, target, attempt=1)


def _maybe_finish(step: _Step, workflow: WorkflowSnapshot) -> None:
    if step.state["status"] == "running" and not step.state["pending"]:
        _finish(step, workflow)


def _finish(step: _Step, workflow: WorkflowSnapshot) -> None:
    state = step.state
    state["status"] = "completed"
    output: dict[str, Any] = {}
    for node_id in state["path"]:
        node = workflow.node(node_id)
        if node is not None and node.node_type != NodeType.TRIGGER:
            output.update(state["nodes"][node_id].get("output", {}))
    step.emit(
        ExecutionCompleted(
            execution_id=state["execution_id"],
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            output=output,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("completed", state["execution_id"]),
    )


def _fail(step: _Step, workflow: WorkflowSnapshot, error: NodeError, node_id: str | None) -> None:
    state = step.state
    if state["status"] != "running":
        return
    state["status"] = "failed"
    step.emit(
        ExecutionFailed(
            execution_id=state["execution_id"],
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            error=error,
            failed_node=node_id,
            execution_path=tuple(state["path"]),
            started_at=datetime.fromisoformat(state["started_at"]),
            completed_at=step.now,
        ),
        deterministic_id("failed-execution", state["execution_id"]),
    )


def finished_marker(state: State) -> State:
    """What the store keeps after the end: enough to ignore late duplicates, no more."""
    return {"execution_id": state["execution_id"], "status": state["status"]}
