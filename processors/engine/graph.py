"""Graph helpers for the state machine: edge kinds, loop bodies, incoming edges. Pure."""

from __future__ import annotations

import hashlib
from itertools import pairwise

from schemas.workflow import Edge, Node, NodeType, WorkflowSnapshot

# Edge labels that mean "taken when the source node failed" (a failure path).
ERROR_LABELS = frozenset({"error", "failure", "failed", "on_error", "on_failure", "catch"})
# Edge labels out of a loop node that lead into its body (run once per item).
BODY_LABELS = frozenset({"body", "each", "item", "loop", "iteration", "for_each"})
TRUE_LABELS = frozenset({"true", "yes", "oui", "vrai", "valid"})
FALSE_LABELS = frozenset({"false", "no", "non", "faux", "invalid"})


def label_of(edge: Edge) -> str:
    return (edge.label or "").strip().lower()


def is_error_edge(edge: Edge) -> bool:
    return label_of(edge) in ERROR_LABELS


def is_body_edge(workflow: WorkflowSnapshot, edge: Edge) -> bool:
    source = workflow.node(edge.source_node)
    return source is not None and source.node_type == NodeType.LOOP and label_of(edge) in BODY_LABELS


def outgoing(workflow: WorkflowSnapshot, node_id: str) -> list[Edge]:
    return [e for e in workflow.edges if e.source_node == node_id]


def start_nodes(workflow: WorkflowSnapshot) -> list[Node]:
    triggers = [n for n in workflow.nodes if n.node_type == NodeType.TRIGGER]
    if triggers:
        return triggers
    targets = {e.target_node for e in workflow.edges}
    return [n for n in workflow.nodes if n.id not in targets]


def loop_body(workflow: WorkflowSnapshot, loop_id: str) -> frozenset[str]:
    """Nodes reachable from the loop's body edges without passing back through the loop."""
    seen: set[str] = set()
    frontier = [e.target_node for e in outgoing(workflow, loop_id) if is_body_edge(workflow, e)]
    while frontier:
        node_id = frontier.pop()
        if node_id in seen or node_id == loop_id:
            continue
        seen.add(node_id)
        frontier.extend(e.target_node for e in outgoing(workflow, node_id))
    return frozenset(seen)


def incoming(workflow: WorkflowSnapshot, node: Node, body: frozenset[str] | None, loop_id: str | None) -> list[Edge]:
    """The edges a node waits for before it runs.

    A loop node does not wait for the back-edges from its own body. Inside a
    loop body only edges from the body and from the loop node count: they are
    resolved once per iteration.
    """
    edges = [e for e in workflow.edges if e.target_node == node.id]
    if node.node_type == NodeType.LOOP:
        own = loop_body(workflow, node.id)
        edges = [e for e in edges if e.source_node not in own]
    if body is not None and node.id in body:
        edges = [e for e in edges if e.source_node in body or e.source_node == loop_id]
    return edges


MAX_EDGE_ID = 100


def derived_edge_id(kind: str, source: str, target: str) -> str:
    """The id of an edge the engine adds (`kind:source->target`), within an edge id's bound:
    node ids of up to 100 characters each would not fit, so a long one is a digest of it
    (deterministic, so replays and retries see the same ids)."""
    readable = f"{kind}:{source}->{target}"
    if len(readable) <= MAX_EDGE_ID:
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()[:40]
    return f"{kind}:{digest}"


def linear_edges(workflow: WorkflowSnapshot) -> tuple[Edge, ...]:
    """Seed 003's linear action lists: a workflow with nodes but no edges runs its
    triggers, then its other nodes one after the other in `config.order` (then
    as listed). Each action's own `delay` still applies before it runs."""
    if workflow.edges or len(workflow.nodes) < 2:
        return workflow.edges
    triggers = [n for n in workflow.nodes if n.node_type == NodeType.TRIGGER]
    rest = [n for n in workflow.nodes if n.node_type != NodeType.TRIGGER]

    def order(item: tuple[int, Node]) -> tuple[float, int]:
        value = item[1].config.get("order")
        return (float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("inf"), item[0])

    chain = [n for _, n in sorted(enumerate(rest), key=order)]
    edges = [Edge(id=derived_edge_id("linear", t.id, chain[0].id), source_node=t.id, target_node=chain[0].id)
             for t in triggers] if chain else []
    edges += [Edge(id=derived_edge_id("linear", a.id, b.id), source_node=a.id, target_node=b.id) for a, b in pairwise(chain)]
    return tuple(edges)
