"""Static checks of a workflow graph, and its shape (paths, complexity, layout). Pure.

`validate_workflow` answers `GET /workflows/{id}/validate` and decides whether a
workflow may be activated. It follows the executor's own reading of a graph
(`processors.engine.graph`): an edge-less workflow runs its nodes in order, the run
starts at the trigger nodes (else at the nodes nothing points to), and the only
cycles allowed are a loop node's body coming back to that loop node.

Issue codes (seed 004): AUTO_002 node not connected, AUTO_003 circular
dependency, AUTO_004 integration not configured, AUTO_007 invalid data
(dangling references, `true_path`/`false_path` naming no node, missing config or
inputs, conditions that do not parse, an edge condition naming something its
source node cannot output). Reads of `nodes.<id>` / `input_data.<x>` that cannot
exist are warnings: a missing field reads as null, so the condition is just false.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from processors.checks.journeys import journey_problems
from processors.checks.node_config import config_problems, integration_type_of
from processors.engine import graph
from processors.engine.flow import CONDITION_ALIASES
from processors.engine.policies import fixed_wait_seconds
from processors.expressions.conditions import referenced_fields, validate_condition
from processors.expressions.references import KNOWN_ROOTS
from processors.matching.condition_refs import reference_problems
from schemas.records import ConditionDefined
from schemas.workflow import Edge, Node, NodeType, Position, WorkflowSnapshot

NOT_CONNECTED = "AUTO_002"
CIRCULAR = "AUTO_003"
TIMEOUT = "AUTO_006"
NO_INTEGRATION = "AUTO_004"
INVALID = "AUTO_007"

# (check name, message when it passes)
CHECKS: tuple[tuple[str, str], ...] = (
    ("references_valid", "every edge joins two nodes of this workflow"),
    ("nodes_connected", "every node is reachable from the workflow's entry"),
    ("no_circular_dependencies", "no circular dependency (loops only through a loop node)"),
    ("required_inputs", "every required input and config value is provided"),
    ("conditions_valid", "every condition parses"),
    ("integration_availability", "every integration used is configured and active"),
)


@dataclass(frozen=True)
class IntegrationRef:
    """What the checks need to know of an integration in the workspace."""

    id: str
    name: str
    type: str
    provider: str
    is_active: bool = True
    test_mode: bool = False
    # The names of the email templates kept in its configuration (`templates`); None when
    # unknown, then a named template is only checked when the node runs.
    templates: frozenset[str] | None = None


@dataclass(frozen=True)
class Issue:
    code: str
    check: str
    field: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.issues

    def checks(self) -> list[dict[str, str]]:
        out = []
        for name, passed in CHECKS:
            failed = [i for i in self.issues if i.check == name]
            warned = [w for w in self.warnings if w.check == name]
            if failed:
                out.append({"check": name, "status": "failed", "message": "; ".join(i.message for i in failed[:5])})
            elif warned:
                out.append({"check": name, "status": "warning", "message": "; ".join(w.message for w in warned[:5])})
            else:
                out.append({"check": name, "status": "passed", "message": passed})
        return out

    def fields(self) -> dict[str, str]:
        """Issues keyed by the field at fault (the API's error `fields`)."""
        out: dict[str, str] = {}
        for issue in self.issues:
            out.setdefault(issue.field, f"{issue.code}: {issue.message}")
        return out

    @property
    def code(self) -> str:
        return self.issues[0].code if self.issues else ""


# -- graph helpers ----------------------------------------------------------------------------
def effective_edges(workflow: WorkflowSnapshot) -> tuple[Edge, ...]:
    """The edges the executor follows (a linear chain for an edge-less workflow)."""
    return graph.linear_edges(workflow)


def _with_edges(workflow: WorkflowSnapshot) -> WorkflowSnapshot:
    edges = effective_edges(workflow)
    return workflow if edges is workflow.edges else workflow.model_copy(update={"edges": edges})


def loop_back_edges(workflow: WorkflowSnapshot) -> set[str]:
    """Edges from a loop's body back to that loop node: the one allowed kind of cycle."""
    back: set[str] = set()
    for node in workflow.nodes:
        if node.node_type == NodeType.LOOP:
            body = graph.loop_body(workflow, node.id)
            back.update(e.id for e in workflow.edges if e.target_node == node.id and e.source_node in body)
    return back


def _successors(edges: Iterable[Edge], ids: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    for e in edges:
        if e.source_node in ids and e.target_node in ids:
            out[e.source_node].append(e.target_node)
    return out


def strongly_connected(successors: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a deep graph must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in successors:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            nexts = successors[node]
            while i < len(nexts):
                nxt = nexts[i]
                i += 1
                if nxt not in index:
                    work.append((node, i))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def cycles(workflow: WorkflowSnapshot) -> list[list[str]]:
    """Groups of nodes that depend on each other other than through a loop node's body."""
    wf = _with_edges(workflow)
    allowed = loop_back_edges(wf)
    ids = {n.id for n in wf.nodes}
    edges = [e for e in wf.edges if e.id not in allowed]
    succ = _successors(edges, ids)
    found = []
    for component in strongly_connected(succ):
        if len(component) > 1 or component[0] in succ[component[0]]:
            order = {n.id: i for i, n in enumerate(wf.nodes)}
            found.append(sorted(component, key=order.__getitem__))
    return found


def reachable(workflow: WorkflowSnapshot) -> set[str]:
    wf = _with_edges(workflow)
    seen: set[str] = set()
    frontier = [n.id for n in graph.start_nodes(wf)]
    succ = _successors(wf.edges, {n.id for n in wf.nodes})
    while frontier:
        node_id = frontier.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        frontier.extend(succ.get(node_id, []))
    return seen


# -- validation -------------------------------------------------------------------------------
def _integration_ref(config: dict[str, Any]) -> str | None:
    wanted = config.get("integration_id") or config.get("integration")
    return str(wanted) if wanted else None


def _find_integration(integrations: Sequence[IntegrationRef], wanted: str) -> IntegrationRef | None:
    by_id = [i for i in integrations if i.id == wanted]
    return by_id[0] if by_id else next((i for i in integrations if i.name == wanted), None)


def _serves(integration: IntegrationRef, kind: str) -> bool:
    # The worker's own rule (processors.services.definitions): type, provider, or provider prefix.
    return kind in (integration.provider, integration.type) or integration.provider.startswith(f"{kind}_")


def validate_workflow(
    workflow: WorkflowSnapshot,
    integrations: Sequence[IntegrationRef] = (),
    conditions: Mapping[str, ConditionDefined] | None = None,
) -> Report:
    """Every check; `conditions` are the workspace's reusable conditions the workflow
    references (None: not known, references are not checked)."""
    report = Report()
    issue = report.issues.append
    warn = report.warnings.append
    index = {n.id: i for i, n in enumerate(workflow.nodes)}

    # references
    seen: set[str] = set()
    for i, node in enumerate(workflow.nodes):
        if node.id in seen:
            issue(Issue(INVALID, "references_valid", f"nodes.{i}.id", f"duplicate node id {node.id}", node.id))
        seen.add(node.id)
    pairs: set[tuple[str, str, str, str]] = set()
    edge_ids: set[str] = set()
    for i, edge in enumerate(workflow.edges):
        for end in ("source_node", "target_node"):
            ref = getattr(edge, end)
            if ref not in index:
                issue(Issue(INVALID, "references_valid", f"edges.{i}.{end}", f"no node {ref!r} in this workflow", edge_id=edge.id))
        if edge.id in edge_ids:
            issue(Issue(INVALID, "references_valid", f"edges.{i}.id", f"duplicate edge id {edge.id}", edge_id=edge.id))
        edge_ids.add(edge.id)
        pair = (edge.source_node, edge.target_node, edge.label or "", edge.condition or "")
        if pair in pairs:
            warn(Issue(INVALID, "references_valid", f"edges.{i}", f"duplicate edge {edge.source_node} -> {edge.target_node}", edge_id=edge.id))
        pairs.add(pair)
    if any(i.check == "references_valid" for i in report.issues):
        return report  # the graph checks below need a well-formed graph

    # connectivity
    wf = _with_edges(workflow)
    touched = {e.source_node for e in wf.edges} | {e.target_node for e in wf.edges}
    reached = reachable(workflow)
    for i, node in enumerate(workflow.nodes):
        if node.id in reached:
            continue
        if node.id not in touched and len(workflow.nodes) > 1:
            issue(Issue(NOT_CONNECTED, "nodes_connected", f"nodes.{i}", f"node {node.id} is not connected to any other node", node.id))
        else:
            issue(Issue(NOT_CONNECTED, "nodes_connected", f"nodes.{i}", f"node {node.id} cannot be reached from the workflow's entry", node.id))

    # cycles
    allowed = loop_back_edges(wf)
    for group in cycles(workflow):
        members = set(group)
        at = next((i for i, e in enumerate(workflow.edges) if e.source_node in members and e.target_node in members and e.id not in allowed), None)
        where = f"edges.{at}" if at is not None else f"nodes.{index[group[0]]}"
        path = " -> ".join([*group, group[0]])
        issue(Issue(CIRCULAR, "no_circular_dependencies", where, f"circular dependency: {path}", group[0],
                    workflow.edges[at].id if at is not None else None))

    # required inputs and node configs
    fed = {e.target_node for e in wf.edges}
    for i, node in enumerate(workflow.nodes):
        for key, message in config_problems(node.node_type, node.config).items():
            check = "conditions_valid" if key.startswith("config.condition") and "required" not in message else "required_inputs"
            issue(Issue(INVALID, check, f"nodes.{i}.{key}", f"node {node.id}: {key} {message}", node.id))
        for p, port in enumerate(node.inputs):
            if port.required and node.id not in fed and _blank(node.config.get(port.name)):
                issue(Issue(INVALID, "required_inputs", f"nodes.{i}.inputs.{p}",
                            f"node {node.id}: required input {port.name} has no incoming edge and no config value", node.id))

    # waits against the execution's timeout (which counts the time spent waiting)
    timeout = workflow.settings.timeout_seconds
    if timeout is not None:
        for i, node in enumerate(workflow.nodes):
            seconds = fixed_wait_seconds(node)
            if seconds is not None and seconds >= timeout:
                warn(Issue(TIMEOUT, "required_inputs", f"nodes.{i}.config",
                           f"node {node.id} waits {seconds:g}s, at least the workflow's timeout_seconds ({timeout}):"
                           " the execution will time out during the wait", node.id))

    # conditions on edges and on the trigger
    for i, edge in enumerate(workflow.edges):
        if edge.condition:
            errors = validate_condition(edge.condition)
            for error in errors:
                issue(Issue(INVALID, "conditions_valid", f"edges.{i}.condition", f"edge {edge.id}: {error}", edge_id=edge.id))
            if not errors:
                for message in unknown_edge_names(workflow, edge):
                    issue(Issue(INVALID, "conditions_valid", f"edges.{i}.condition", f"edge {edge.id}: {message}", edge_id=edge.id))
    filters = workflow.trigger_config.get("filters")
    if filters:
        for error in validate_condition(filters):
            issue(Issue(INVALID, "conditions_valid", "trigger_config.filters", str(error)))
    if conditions is not None:
        # Reusable conditions (/conditions) referenced by condition_id.
        for ref in reference_problems(workflow, conditions):
            (warn if ref.warning else issue)(Issue(INVALID, "conditions_valid", ref.field, ref.message, ref.node_id, ref.edge_id))

    # true_path / false_path: a node of this workflow, reached by one of the condition's edges
    for i, node in enumerate(workflow.nodes):
        if node.node_type != NodeType.CONDITION:
            continue
        targets = {e.target_node for e in wf.edges if e.source_node == node.id}
        for key in ("true_path", "false_path"):
            target = node.config.get(key)
            if target in (None, ""):
                continue
            if str(target) not in index:
                issue(Issue(INVALID, "references_valid", f"nodes.{i}.config.{key}",
                            f"node {node.id}: config.{key} names no node of this workflow: {target!r}", node.id))
            elif str(target) not in targets:
                warn(Issue(INVALID, "references_valid", f"nodes.{i}.config.{key}",
                           f"node {node.id}: config.{key} names {target}, but no edge leads there from this condition", node.id))

    # names a condition reads that cannot exist (warnings: a context may carry more)
    for where, spec, node_id, edge_id in _conditions(workflow):
        for message in unknown_reads(workflow, spec):
            warn(Issue(INVALID, "conditions_valid", where, message, node_id, edge_id))

    # journeys: wait_for_event's match and edge labels, exit_when and goal conditions
    for check, where, message, node_id, edge_id, is_error in journey_problems(workflow):
        (issue if is_error else warn)(Issue(INVALID, check, where, message, node_id, edge_id))

    # integrations
    for i, node in enumerate(workflow.nodes):
        kind = integration_type_of(node.node_type, node.config)
        wanted = _integration_ref(node.config)
        if wanted:
            found = _find_integration(integrations, wanted)
            field_name = f"nodes.{i}.config.{'integration_id' if node.config.get('integration_id') else 'integration'}"
            if found is None:
                issue(Issue(NO_INTEGRATION, "integration_availability", field_name, f"node {node.id}: integration {wanted} does not exist in this workspace", node.id))
                continue
            if not found.is_active:
                issue(Issue(NO_INTEGRATION, "integration_availability", field_name, f"node {node.id}: integration {found.name} is not active", node.id))
                continue
        elif kind:
            candidates = [x for x in integrations if x.is_active and _serves(x, kind)]
            if not candidates:
                warn(Issue(NO_INTEGRATION, "integration_availability", f"nodes.{i}.config",
                           f"node {node.id}: no active {kind} integration in this workspace; the node will fail when it runs", node.id))
                continue
            found = candidates[0]
        else:
            continue
        template = node.config.get("template")
        if (kind == "email" and isinstance(template, str) and "{{" not in template
                and found.templates is not None and template not in found.templates):
            # The worker's own refusal (processors.connectors.email.apply_template), before any run.
            known = ", ".join(sorted(found.templates)) or "none"
            issue(Issue(INVALID, "integration_availability", f"nodes.{i}.config.template",
                        f"node {node.id}: no email template {template!r} in integration {found.name} (it has: {known})", node.id))
        if found.test_mode:
            warn(Issue(NO_INTEGRATION, "integration_availability", f"nodes.{i}.config",
                       f"node {node.id}: integration {found.name} is in test mode; nothing will be sent", node.id))
    return report


def _conditions(workflow: WorkflowSnapshot) -> list[tuple[str, Any, str | None, str | None]]:
    """Every condition of the workflow: (field, spec, node id, edge id)."""
    found: list[tuple[str, Any, str | None, str | None]] = []
    for i, node in enumerate(workflow.nodes):
        if node.node_type == NodeType.CONDITION and not node.config.get("use_custom_code"):
            for key in ("condition", "filters"):
                if node.config.get(key):
                    found.append((f"nodes.{i}.config.{key}", node.config[key], node.id, None))
    for i, edge in enumerate(workflow.edges):
        if edge.condition:
            found.append((f"edges.{i}.condition", edge.condition, None, edge.id))
    if workflow.trigger_config.get("filters"):
        found.append(("trigger_config.filters", workflow.trigger_config["filters"], None, None))
    return found


def condition_outputs(node: Node) -> frozenset[str] | None:
    """Every name a node's output can hold, when the engine alone makes it (a condition
    node); None when a worker or the data decides (anything may be there)."""
    if node.node_type != NodeType.CONDITION:
        return None
    names = {*CONDITION_ALIASES, "missing_fields", "error", *(port.name for port in node.outputs)}
    if node.config.get("use_custom_code"):
        names.add("value")  # the sandbox's answer (processors/connectors/code.py)
    return frozenset(names)


def unknown_edge_names(workflow: WorkflowSnapshot, edge: Edge) -> list[str]:
    """What an edge condition reads that its source node cannot output (seed 004's
    `validation_result == true` out of a node whose output has no such name)."""
    source = workflow.node(edge.source_node)
    outputs = condition_outputs(source) if source is not None else None
    if outputs is None:
        return []
    problems = []
    for ref in referenced_fields(edge.condition):
        root = ref.segments[0]
        if root == "output" and len(ref.segments) > 1 and ref.segments[1] not in outputs:
            problems.append(f"output.{ref.segments[1]} is not an output of node {edge.source_node} (it has: {', '.join(sorted(outputs))})")
        elif root not in KNOWN_ROOTS and root not in outputs:
            problems.append(f"{root} is neither an output of node {edge.source_node} (it has: {', '.join(sorted(outputs))}) nor a context name")
    return list(dict.fromkeys(problems))


def _declared_input(workflow: WorkflowSnapshot) -> frozenset[str] | None:
    """The fields `input_data` is declared to have: the trigger nodes' output ports. None
    when no trigger declares any (then input_data may hold anything)."""
    declared = {p.name for n in workflow.nodes if n.node_type == NodeType.TRIGGER for p in n.outputs} - {"input_data"}
    if not declared:
        return None
    # Conservative: any port a node declares may be what the caller sends as input.
    return frozenset(declared | {p.name for n in workflow.nodes for p in (*n.inputs, *n.outputs)})


def unknown_reads(workflow: WorkflowSnapshot, spec: Any) -> list[str]:
    """`nodes.<id>` and `input_data.<x>` reads that cannot exist (a missing field reads as
    null, so such a condition is quietly false: worth a warning, never an issue)."""
    declared = _declared_input(workflow)
    problems = []
    for ref in referenced_fields(spec):
        segments = ref.segments
        if segments[0] == "nodes" and len(segments) > 1:
            target = workflow.node(segments[1])
            if target is None:
                problems.append(f"reads {ref.path}: no node {segments[1]} in this workflow")
                continue
            outputs = condition_outputs(target)
            if outputs is not None and len(segments) > 2 and segments[2] not in outputs:
                problems.append(f"reads {ref.path}: node {target.id} outputs only {', '.join(sorted(outputs))}")
        elif segments[0] == "input_data" and len(segments) > 1 and declared is not None and segments[1] not in declared:
            problems.append(f"reads {ref.path}: the trigger declares no input {segments[1]} (it declares: {', '.join(sorted(declared))})")
    return list(dict.fromkeys(problems))


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


# -- shape ------------------------------------------------------------------------------------
def _dag_successors(workflow: WorkflowSnapshot, *, with_body: bool) -> dict[str, list[str]]:
    """Successors without the loop back-edges (and without any other cycle's closing edge)."""
    wf = _with_edges(workflow)
    allowed = loop_back_edges(wf)
    ids = [n.id for n in wf.nodes]
    edges = [e for e in wf.edges if e.id not in allowed and (with_body or not graph.is_body_edge(wf, e))]
    succ = _successors(edges, set(ids))
    # Drop edges that close a remaining (invalid) cycle, found by depth-first order.
    state: dict[str, int] = {}
    for root in ids:
        if root in state:
            continue
        work = [(root, iter(list(succ[root])))]
        state[root] = 1
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                work.pop()
            elif state.get(nxt) == 1:
                succ[node].remove(nxt)
            elif nxt not in state:
                state[nxt] = 1
                work.append((nxt, iter(list(succ[nxt]))))
    return succ


def execution_paths(workflow: WorkflowSnapshot) -> int:
    """Distinct entry -> leaf paths. A loop's body counts once, inside its loop node: paths
    go through the loop node's other edges (a loop with no other edge is a leaf)."""
    succ = _dag_successors(workflow, with_body=False)
    starts = [n.id for n in graph.start_nodes(_with_edges(workflow))]
    memo: dict[str, int] = {}
    order = _topological(succ)
    for node_id in reversed(order):
        nexts = succ[node_id]
        memo[node_id] = 1 if not nexts else sum(memo[n] for n in nexts)
    return sum(memo.get(s, 0) for s in starts)


def _topological(succ: dict[str, list[str]]) -> list[str]:
    indegree = dict.fromkeys(succ, 0)
    for nexts in succ.values():
        for n in nexts:
            indegree[n] += 1
    ready = [n for n in succ if indegree[n] == 0]
    out: list[str] = []
    while ready:
        node = ready.pop(0)
        out.append(node)
        for n in succ[node]:
            indegree[n] -= 1
            if indegree[n] == 0:
                ready.append(n)
    return out


def complexity_score(workflow: WorkflowSnapshot) -> int:
    """McCabe's cyclomatic complexity of the graph as the executor runs it: E - N + 2P,
    with P the weakly connected components (0 for an empty workflow)."""
    wf = _with_edges(workflow)
    ids = [n.id for n in wf.nodes]
    if not ids:
        return 0
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges = [e for e in wf.edges if e.source_node in parent and e.target_node in parent]
    for e in edges:
        parent[find(e.source_node)] = find(e.target_node)
    components = len({find(i) for i in ids})
    return len(edges) - len(ids) + 2 * components


LAYER_X = 200.0
ROW_Y = 120.0
MARGIN = 50.0


def layout(workflow: WorkflowSnapshot) -> tuple[str, dict[str, Position]]:
    """Each node's position: as stored, or (when every position is 0, 0) by depth:
    a node's column is its longest distance from the entry, rows in listed order."""
    if any(n.position.x or n.position.y for n in workflow.nodes) or not workflow.nodes:
        return "manual", {n.id: n.position for n in workflow.nodes}
    succ = _dag_successors(workflow, with_body=True)
    depth = dict.fromkeys(succ, 0)
    for node_id in _topological(succ):
        for n in succ[node_id]:
            depth[n] = max(depth[n], depth[node_id] + 1)
    rows: dict[int, int] = {}
    positions: dict[str, Position] = {}
    for node in workflow.nodes:
        d = depth.get(node.id, 0)
        row = rows.get(d, 0)
        rows[d] = row + 1
        positions[node.id] = Position(x=MARGIN + d * LAYER_X, y=MARGIN + row * ROW_Y)
    return "depth", positions
