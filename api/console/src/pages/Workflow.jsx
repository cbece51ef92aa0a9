import { useCallback, useEffect, useMemo, useState } from "react";
import { applyNodeChanges } from "@xyflow/react";
import { canEdit, del, get, patch, post, put, query } from "../api";
import { ConfigForm } from "../parts/configform";
import { Graph, NODE_KINDS, kindLabel, toFlow } from "../parts/graph";
import { ErrorState, Fault, Link, Loading, Status, when } from "../parts/ui";

const DEFAULT_CONFIG = {
  trigger: {},
  condition: { condition: "true" },
  action: { action_type: "add_tag", tag_name: "tagged" },
  http_request: { url: "https://example.com/hook", method: "POST" },
  transform: { mappings: {} },
  delay: { delay_seconds: 60 },
  loop: { items: "[]" },
  database_query: { action_type: "database_query", table: "records" },
};

function snapshotGraph(workflow) {
  return {
    workflow: { id: workflow.id, name: workflow.name, status: workflow.status, version: workflow.version },
    nodes: workflow.nodes.map((n) => ({ id: n.id, name: n.name, type: n.node_type, config: n.config, position: n.position })),
    edges: workflow.edges.map((e) => ({ id: e.id, source: e.source_node, target: e.target_node, label: e.label, condition: e.condition })),
    layout: { positions: {} },
    metadata: { execution_paths: "—", complexity_score: "—" },
  };
}

function newId(kind) {
  return `${kind.replace("_", "-")}-${Math.random().toString(36).slice(2, 6)}`;
}

function NodePanel({ workflowId, node, graph, editable, onSaved, onFault, onClose }) {
  const [name, setName] = useState(node.name);
  const [config, setConfig] = useState(node.config || {});
  const [target, setTarget] = useState("");
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setName(node.name);
    setConfig(node.config || {});
  }, [node.id, node.name, node.config]);
  const others = graph.nodes.filter((n) => n.id !== node.id && n.type !== "trigger");

  async function run(fn) {
    setBusy(true);
    onFault(null);
    try { await fn(); onSaved(); } catch (err) { onFault(err); } finally { setBusy(false); }
  }
  return (
    <aside className="panel" aria-label={`Node ${node.name || node.id}`}>
      <div className="page-head">
        <h2>{kindLabel(node.type)} <code>{node.id}</code></h2>
        <button type="button" className="quiet" onClick={onClose}>Close</button>
      </div>
      {editable ? (
        <form onSubmit={(e) => { e.preventDefault(); run(() => put(`/workflows/${workflowId}/nodes/${node.id}`, { name, config })); }}>
          <label>Name<input name="node-name" value={name} onChange={(e) => setName(e.target.value)} /></label>
          <ConfigForm nodeType={node.type} config={config} onChange={setConfig} />
          <div className="row">
            <button type="submit" disabled={busy}>Save node</button>
            <button type="button" className="danger" disabled={busy} onClick={() => run(() => del(`/workflows/${workflowId}/nodes/${node.id}`))}>Delete node</button>
          </div>
        </form>
      ) : (
        <>
          <p>{node.name}</p>
          <ConfigForm nodeType={node.type} config={node.config || {}} readOnly />
        </>
      )}
      {editable && (
        <form className="connect" aria-label="Connect" onSubmit={(e) => {
          e.preventDefault();
          if (!target) return;
          run(() => post(`/workflows/${workflowId}/edges`, { source_node: node.id, target_node: target, ...(label ? { label } : {}) }));
        }}>
          <h3>Connect to</h3>
          <label>Target node
            <select name="edge-target" value={target} onChange={(e) => setTarget(e.target.value)}>
              <option value="">choose…</option>
              {others.map((n) => <option key={n.id} value={n.id}>{n.name || n.id}</option>)}
            </select>
          </label>
          <label>Label
            <select name="edge-label" value={label} onChange={(e) => setLabel(e.target.value)}>
              <option value="">(none)</option>
              <option value="true">true</option>
              <option value="false">false</option>
              <option value="error">error</option>
            </select>
          </label>
          <button type="submit" disabled={busy || !target}>Add edge</button>
        </form>
      )}
      {graph.edges.filter((e) => e.source === node.id || e.target === node.id).length > 0 && (
        <>
          <h3>Edges</h3>
          <ul className="edges">
            {graph.edges.filter((e) => e.source === node.id || e.target === node.id).map((e) => (
              <li key={e.id}>
                {e.source} → {e.target}{e.label ? ` (${e.label})` : ""}
                {editable && <button className="quiet" aria-label={`Delete edge ${e.source} to ${e.target}`} onClick={() => run(() => del(`/workflows/${workflowId}/edges/${e.id}`))}>✕</button>}
              </li>
            ))}
          </ul>
        </>
      )}
    </aside>
  );
}

// Runs and dry runs both need an editor's role (the API refuses a viewer either).
function RunPanel({ workflow, onPath }) {
  const [input, setInput] = useState('{\n  "email": "ada@example.com"\n}');
  const [fault, setFault] = useState(null);
  const [started, setStarted] = useState(null);
  const [dry, setDry] = useState(null);
  function parsed() {
    try { return JSON.parse(input || "{}"); } catch { throw Object.assign(new Error("the input is not valid JSON"), { fields: { input_data: "not JSON" } }); }
  }
  return (
    <section className="run" aria-label="Run">
      <h2>Run</h2>
      <label>Input JSON<textarea name="run-input" rows={4} value={input} onChange={(e) => setInput(e.target.value)} /></label>
      <div className="row">
        <button onClick={async () => {
          setFault(null);
          try { setStarted(await post(`/workflows/${workflow.id}/execute`, { input_data: parsed() })); } catch (err) { setFault(err); }
        }}>Run now</button>
        <button className="quiet" onClick={async () => {
          setFault(null);
          try {
            const answer = await post(`/workflows/${workflow.id}/test`, { test_data: parsed() });
            setDry(answer);
            onPath(answer.execution_path);
          } catch (err) { setFault(err); }
        }}>Dry run</button>
      </div>
      <Fault error={fault} />
      {started && <p>Started <Link to={`/executions/${started.execution_id}`}>execution {started.execution_id.slice(0, 8)}</Link></p>}
      {dry && <p className="dry" data-status={dry.status}>Dry run: <strong>{dry.status}</strong>, path {dry.execution_path.join(" → ") || "(none)"}</p>}
    </section>
  );
}

export default function Workflow({ id }) {
  const editable = canEdit();
  const [version, setVersion] = useState(null); // null: the current one
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [fault, setFault] = useState(null);
  const [selected, setSelected] = useState(null);
  const [flowNodes, setFlowNodes] = useState([]);
  const [dryPath, setDryPath] = useState([]);

  const load = useCallback(async () => {
    try {
      const v = version ? query({ version }) : "";
      const [workflow, current, validation, stats] = await Promise.all([
        get(`/workflows/${id}${v}`),
        get(`/workflows/${id}/graph`),
        get(`/workflows/${id}/validate`).catch(() => null),
        get(`/workflows/${id}/statistics`).catch(() => null),
      ]);
      // /graph draws the current version; an older one is drawn from its own snapshot.
      const graph = workflow.version === current.workflow.version ? current : snapshotGraph(workflow);
      setData({ workflow, graph, validation: graph === current ? validation : null, stats, latest: current.workflow.version });
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [id, version]);
  useEffect(() => { load(); }, [load]);

  const readOnly = !editable || (data && data.workflow.version !== data.latest);
  const flow = useMemo(() => {
    if (!data) return { nodes: [], edges: [] };
    const issues = [...(data.validation ? data.validation.issues : []), ...(data.validation ? data.validation.warnings : [])];
    const stats = {};
    (data.stats ? data.stats.nodes : []).forEach((n) => (stats[n.node_id] = n));
    return toFlow(data.graph, (n) => ({
      issues: issues.filter((i) => i.node_id === n.id),
      stats: stats[n.id],
      onPath: dryPath.includes(n.id),
    }));
  }, [data, dryPath]);
  // Redrawn after every save: the node still selected stays selected (Delete acts on it).
  useEffect(() => setFlowNodes(flow.nodes.map((n) => ({ ...n, selected: n.id === selected }))), [flow]); // eslint-disable-line react-hooks/exhaustive-deps

  async function change(fn) {
    setFault(null);
    try { await fn(); await load(); } catch (err) { setFault(err); await load(); }
  }
  function addNode(kind) {
    const count = data.graph.nodes.length;
    const position = { x: 80 + (count % 4) * 240, y: 80 + Math.floor(count / 4) * 150 };
    const nodeId = newId(kind);
    change(async () => {
      await post(`/workflows/${id}/nodes`, { id: nodeId, name: kindLabel(kind), node_type: kind, config: DEFAULT_CONFIG[kind], position });
      setSelected(nodeId);
    });
  }

  if (error) return <ErrorState error={error} retry={load} />;
  if (!data) return <Loading what="Loading the workflow" />;
  const { workflow, validation } = data;
  const node = selected && data.graph.nodes.find((n) => n.id === selected);
  const versions = Array.from({ length: data.latest }, (_, i) => data.latest - i);
  const current = workflow.version;

  return (
    <section className="workflow-page">
      <div className="page-head">
        <h1>{workflow.name}</h1>
        <Status value={workflow.status} />
        <label className="inline">Version
          <select name="version" value={current} onChange={(e) => setVersion(Number(e.target.value) === data.latest ? null : Number(e.target.value))}>
            {versions.map((v) => <option key={v} value={v}>v{v}{v === versions[0] ? " (current)" : ""}</option>)}
          </select>
        </label>
        <Link to={`/executions?workflow=${id}`}>Executions</Link>
        {editable && !readOnly && (
          <span className="actions">
            {workflow.status !== "active" && workflow.status !== "archived" && <button onClick={() => change(() => post(`/workflows/${id}/activate`))}>Activate</button>}
            {workflow.status === "active" && <button onClick={() => change(() => post(`/workflows/${id}/pause`))}>Pause</button>}
            {workflow.status !== "archived" && <button className="quiet" onClick={() => change(() => post(`/workflows/${id}/archive`))}>Archive</button>}
          </span>
        )}
      </div>
      <Fault error={fault} />
      {editable && readOnly && <p className="notice" role="status">Version {workflow.version} of {data.latest}: read only. Pick the current version to edit.</p>}
      {!readOnly && (
        <div className="palette" role="toolbar" aria-label="Add a node">
          {NODE_KINDS.map((k) => <button key={k} onClick={() => addNode(k)}>Add {kindLabel(k).toLowerCase()}</button>)}
        </div>
      )}
      <div className="editor">
        {data.graph.nodes.length === 0 ? (
          <div className="graph empty-graph"><p className="state empty">No nodes yet.{!readOnly && " Add a trigger to start."}</p></div>
        ) : (
          <Graph
            key={`${workflow.version === data.latest}-${data.graph.nodes.length}`}
            nodes={flowNodes}
            edges={flow.edges}
            editable={!readOnly}
            onNodesChange={(changes) => setFlowNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), ns))}
            onNodeClick={(_, n) => setSelected(n.id)}
            onPaneClick={() => setSelected(null)}
            onNodeDragStop={(_, n) => change(() => patch(`/workflows/${id}/nodes/${n.id}`, { position: { x: Math.round(n.position.x), y: Math.round(n.position.y) } }))}
            onConnect={(c) => change(() => post(`/workflows/${id}/edges`, {
              source_node: c.source, target_node: c.target, ...(c.sourceHandle === "true" || c.sourceHandle === "false" ? { label: c.sourceHandle } : {}),
            }))}
            onNodesDelete={(ns) => change(async () => { for (const n of ns) await del(`/workflows/${id}/nodes/${n.id}`); setSelected(null); })}
            onEdgesDelete={(es) => change(async () => { for (const e of es) await del(`/workflows/${id}/edges/${e.id}`); })}
          />
        )}
        {node ? (
          <NodePanel workflowId={id} node={node} graph={data.graph} editable={!readOnly} onFault={setFault} onClose={() => setSelected(null)}
            onSaved={() => { if (!data.graph.nodes.some((n) => n.id === selected)) setSelected(null); load(); }} />
        ) : (
          <aside className="panel">
            <h2>Details</h2>
            <p className="muted">Select a node to {readOnly ? "see" : "edit"} it{!readOnly && "; drag from a node's right handle to another node to connect them, Delete removes the selection"}.</p>
            {data.graph.nodes.length > 0 && (
              <label>Open a node
                <select name="open-node" value="" onChange={(e) => e.target.value && setSelected(e.target.value)}>
                  <option value="">choose…</option>
                  {data.graph.nodes.map((n) => <option key={n.id} value={n.id}>{n.name || n.id} ({kindLabel(n.type)})</option>)}
                </select>
              </label>
            )}
            <dl>
              <dt>Trigger</dt><dd>{workflow.trigger_type} {workflow.trigger_config.event_type ? <code>{workflow.trigger_config.event_type}</code> : null}</dd>
              <dt>Updated</dt><dd>{when(workflow.updated_at)}</dd>
              <dt>Paths</dt><dd>{data.graph.metadata.execution_paths} · complexity {data.graph.metadata.complexity_score}</dd>
            </dl>
          </aside>
        )}
      </div>
      {validation && (
        <section className="validation" aria-label="Validation" data-valid={validation.is_valid ? "true" : "false"}>
          <h2>Validation: {validation.is_valid ? "valid" : "issues"}</h2>
          <ul>
            {validation.issues.map((i, n) => <li key={`i${n}`} className="issue"><code>{i.node_id || i.field}</code> {i.message}</li>)}
            {validation.warnings.map((i, n) => <li key={`w${n}`} className="warning"><code>{i.node_id || i.field}</code> {i.message}</li>)}
          </ul>
        </section>
      )}
      {!readOnly && <RunPanel workflow={workflow} onPath={setDryPath} />}
    </section>
  );
}
