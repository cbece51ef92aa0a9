// The workflow graph, drawn with React Flow: positions from GET /workflows/{id}/graph (which lays
// out by depth when none is stored); a node without a position of its own is placed by depth here.
import { Handle, Position, ReactFlow, Background, Controls, MarkerType } from "@xyflow/react";

const KIND_LABELS = {
  trigger: "Trigger", condition: "Condition", action: "Action", http_request: "HTTP request",
  transform: "Transform", delay: "Delay", loop: "Loop", database_query: "Database query",
};
export const NODE_KINDS = Object.keys(KIND_LABELS);
export const kindLabel = (k) => KIND_LABELS[k] || k;

function FluxoNode({ data }) {
  const classes = ["fx-node", `fx-${data.node_type}`];
  if (data.onPath) classes.push("on-path");
  if (data.failed) classes.push("failed");
  if (data.issues && data.issues.length) classes.push("has-issues");
  const stats = data.stats;
  const title = [
    `${data.name || data.id} (${kindLabel(data.node_type)})`,
    stats ? `runs ${stats.executions_count} · ok ${stats.success_count} · failed ${stats.failure_count} · avg ${Math.round(stats.average_execution_time_ms)} ms` : null,
    ...(data.issues || []).map((i) => `⚠ ${i.message}`),
  ].filter(Boolean).join("\n");
  return (
    <div className={classes.join(" ")} title={title} data-node={data.id} data-on-path={data.onPath ? "true" : "false"} data-failed={data.failed ? "true" : "false"}>
      {data.node_type !== "trigger" && <Handle type="target" position={Position.Left} />}
      <div className="fx-kind">{kindLabel(data.node_type)}</div>
      <div className="fx-name">{data.name || data.id}</div>
      {data.issues && data.issues.length > 0 && <div className="fx-issue" role="note">⚠ {data.issues[0].message}</div>}
      {data.step && <div className="fx-step">{data.step}</div>}
      {stats && <div className="fx-stats">{stats.executions_count} runs</div>}
      {data.node_type === "condition" ? (
        <>
          <Handle type="source" position={Position.Right} id="true" style={{ top: "35%" }} />
          <Handle type="source" position={Position.Right} id="false" style={{ top: "75%" }} />
        </>
      ) : (
        <Handle type="source" position={Position.Right} />
      )}
    </div>
  );
}

const nodeTypes = { fluxo: FluxoNode };

// Depth from the nodes nothing points to: a stand-in layout for nodes still at 0,0.
export function depthLayout(nodes, edges) {
  const depth = {};
  const incoming = {};
  edges.forEach((e) => (incoming[e.target] = (incoming[e.target] || 0) + 1));
  let frontier = nodes.filter((n) => !incoming[n.id]).map((n) => n.id);
  frontier.forEach((id) => (depth[id] = 0));
  for (let guard = 0; frontier.length && guard < nodes.length; guard++) {
    const next = [];
    frontier.forEach((id) => edges.filter((e) => e.source === id).forEach((e) => {
      if (depth[e.target] === undefined) {
        depth[e.target] = depth[id] + 1;
        next.push(e.target);
      }
    }));
    frontier = next;
  }
  const rows = {};
  const out = {};
  nodes.forEach((n) => {
    const d = depth[n.id] ?? 0;
    rows[d] = (rows[d] || 0) + 1;
    out[n.id] = { x: 60 + d * 260, y: 60 + (rows[d] - 1) * 130 };
  });
  return out;
}

export function toFlow(graph, decorate = () => ({})) {
  const edges = graph.edges.map((e) => ({ id: e.id, source: e.source, target: e.target }));
  const anyPlaced = graph.nodes.some((n) => n.position && (n.position.x || n.position.y));
  const fallback = depthLayout(graph.nodes, edges);
  const nodes = graph.nodes.map((n) => {
    const stored = n.position && (n.position.x || n.position.y) ? n.position : null;
    return {
      id: n.id,
      type: "fluxo",
      position: stored || (anyPlaced ? fallback[n.id] : (graph.layout && graph.layout.positions[n.id]) || fallback[n.id]),
      data: { id: n.id, name: n.name, node_type: n.type, config: n.config, ...decorate(n) },
    };
  });
  return {
    nodes,
    edges: graph.edges.map((e) => ({
      id: e.id,
      source: e.source,
      target: e.target,
      sourceHandle: graph.nodes.find((n) => n.id === e.source)?.type === "condition" && (e.label === "true" || e.label === "false") ? e.label : undefined,
      label: e.label || e.condition || undefined,
      markerEnd: { type: MarkerType.ArrowClosed },
      data: { label: e.label },
    })),
  };
}

export function Graph({ nodes, edges, editable = false, ...handlers }) {
  return (
    <div className="graph" aria-label="Workflow graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
        nodesDraggable={editable}
        nodesConnectable={editable}
        elementsSelectable
        deleteKeyCode={editable ? ["Delete", "Backspace"] : null}
        proOptions={{ hideAttribution: true }}
        {...handlers}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
