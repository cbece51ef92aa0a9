"""Edges the engine derives (linear action lists) stay valid edges whatever the node ids."""

from __future__ import annotations

from datetime import UTC, datetime

from processors.engine.graph import MAX_EDGE_ID, derived_edge_id, linear_edges
from schemas.workflow import Node, NodeType, WorkflowSnapshot

STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def test_derived_ids_stay_readable_when_short_and_bounded_when_long() -> None:
    assert derived_edge_id("linear", "trigger", "tag") == "linear:trigger->tag"
    long_a, long_b = "a" * 100, "b" * 100
    ident = derived_edge_id("linear", long_a, long_b)
    assert len(ident) <= MAX_EDGE_ID and ident == derived_edge_id("linear", long_a, long_b)
    assert ident != derived_edge_id("linear", long_a, "b" * 99 + "c")


def test_a_linear_workflow_of_100_character_node_ids() -> None:
    ids = ["t" * 100, "0" * 100, "1" * 100]
    nodes = (Node(id=ids[0], node_type=NodeType.TRIGGER),
             *(Node(id=i, node_type=NodeType.ACTION, config={"action_type": "add_tag", "tag_name": "x"}) for i in ids[1:]))
    workflow = WorkflowSnapshot(id="w", workspace_id="ws", version=1, name="w", nodes=nodes, created_at=STAMP, updated_at=STAMP)
    edges = linear_edges(workflow)
    assert [(e.source_node, e.target_node) for e in edges] == [(ids[0], ids[1]), (ids[1], ids[2])]
    assert len({e.id for e in edges}) == 2
