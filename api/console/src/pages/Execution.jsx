import { useCallback, useEffect, useMemo, useState } from "react";
import { canEdit, get, post } from "../api";
import { Graph, toFlow } from "../parts/graph";
import { ErrorState, Fault, Link, Loading, Status, when } from "../parts/ui";

const FINISHED = new Set(["completed", "failed", "cancelled"]);

function graphOf(detail, workflow) {
  // The version the execution ran on, drawn from that version's snapshot.
  return {
    nodes: workflow.nodes.map((n) => ({ id: n.id, name: n.name, type: n.node_type, config: n.config, position: n.position })),
    edges: workflow.edges.map((e) => ({ id: e.id, source: e.source_node, target: e.target_node, label: e.label, condition: e.condition })),
    layout: { positions: {} },
  };
}

export default function Execution({ id }) {
  const editable = canEdit();
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [fault, setFault] = useState(null);
  const [focus, setFocus] = useState(null);
  const [notice, setNotice] = useState(null);

  const load = useCallback(async () => {
    try {
      const detail = await get(`/executions/${id}`);
      const workflow = await get(`/workflows/${detail.workflow.id}?version=${detail.workflow.version}`).catch(() => null);
      setData({ detail, workflow });
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [id]);
  useEffect(() => { load(); }, [load]);
  // Until it ends, follow it (the detail is the projection's; a second is plenty for a person).
  useEffect(() => {
    if (!data || FINISHED.has(data.detail.status)) return undefined;
    const t = setTimeout(load, 1000);
    return () => clearTimeout(t);
  }, [data, load]);

  const flow = useMemo(() => {
    if (!data || !data.workflow) return null;
    const { detail } = data;
    const steps = {};
    detail.execution_details.forEach((s) => (steps[s.node_id] = s));
    // The path is recorded when the execution ends; until then, the nodes that have completed.
    const path = new Set(detail.execution_path.length ? detail.execution_path
      : detail.execution_details.filter((s) => s.status === "completed").map((s) => s.node_id));
    const f = toFlow(graphOf(detail, data.workflow), (n) => ({
      onPath: path.has(n.id),
      failed: detail.failed_node === n.id || (steps[n.id] && steps[n.id].status === "failed"),
      step: steps[n.id] ? `${steps[n.id].status}${steps[n.id].duration_seconds != null ? ` · ${Math.round(steps[n.id].duration_seconds * 1000)} ms` : ""}` : null,
    }));
    f.edges = f.edges.map((e) => (path.has(e.source) && path.has(e.target) ? { ...e, className: "on-path", animated: detail.status === "running" } : e));
    return f;
  }, [data]);

  if (error) return <ErrorState error={error} retry={load} />;
  if (!data) return <Loading what="Loading the execution" />;
  const { detail } = data;
  const shown = focus ? detail.execution_details.filter((s) => s.node_id === focus) : detail.execution_details;

  async function act(fn) {
    setFault(null);
    try { await fn(); } catch (err) { setFault(err); }
    load();
  }

  return (
    <section className="execution-page" data-status={detail.status}>
      <div className="page-head">
        <h1>Execution <code>{detail.id.slice(0, 8)}</code></h1>
        <Status value={detail.status} />
        <Link to={`/workflows/${detail.workflow.id}`}>{detail.workflow.name} v{detail.workflow.version}</Link>
        {editable && (
          <span className="actions">
            {!FINISHED.has(detail.status) && <button className="danger" onClick={() => act(() => post(`/executions/${id}/cancel`, { reason: "cancelled from the console" }))}>Cancel</button>}
            {detail.status === "failed" && (
              <button onClick={() => act(async () => {
                const answer = await post(`/executions/${id}/retry`);
                setNotice(answer);
              })}>Retry from {detail.failed_node || "the start"}</button>
            )}
          </span>
        )}
      </div>
      <Fault error={fault} />
      {notice && <p className="notice" role="status">{notice.message}: <Link to={`/executions/${notice.execution_id}`}>execution {notice.execution_id.slice(0, 8)}</Link></p>}
      <dl className="facts">
        <dt>Started</dt><dd>{when(detail.started_at)}</dd>
        <dt>Finished</dt><dd>{when(detail.completed_at)}</dd>
        <dt>Duration</dt><dd>{detail.duration_seconds != null ? `${detail.duration_seconds.toFixed(3)} s` : "—"}</dd>
        <dt>Path</dt><dd className="path">{detail.execution_path.join(" → ") || "—"}</dd>
        {detail.error_message && (<><dt>Error</dt><dd className="fault-inline">{detail.error_message}</dd></>)}
        {detail.retry_of && (<><dt>Retry of</dt><dd><Link to={`/executions/${detail.retry_of}`}>{detail.retry_of.slice(0, 8)}</Link>{detail.resume_from && ` from ${detail.resume_from}`}</dd></>)}
        {detail.retried_by.length > 0 && (<><dt>Retried by</dt><dd>{detail.retried_by.map((r) => <Link key={r} to={`/executions/${r}`}>{r.slice(0, 8)} </Link>)}</dd></>)}
      </dl>
      {flow ? <Graph nodes={flow.nodes} edges={flow.edges} onNodeClick={(_, n) => setFocus(focus === n.id ? null : n.id)} /> : <p className="muted">The workflow version it ran on is gone.</p>}
      <h2>Steps{focus && <> of <code>{focus}</code> <button className="quiet" onClick={() => setFocus(null)}>all</button></>}</h2>
      {shown.length === 0 ? <p className="state empty">No steps yet.</p> : (
        <table className="grid steps" aria-label="Steps">
          <thead><tr><th>Node</th><th>Status</th><th>Attempt</th><th>Started</th><th>Duration</th><th>Input</th><th>Output / error</th></tr></thead>
          <tbody>
            {shown.map((s, i) => (
              <tr key={`${s.node_id}-${s.attempt}-${s.iteration}-${i}`} data-step={s.node_id} data-status={s.status}>
                <td><button className="link" onClick={() => setFocus(s.node_id)}>{s.node_name || s.node_id}</button> <small className="muted">{s.node_type}</small></td>
                <td><Status value={s.status} /></td>
                <td className="num">{s.attempt}{s.iteration != null ? ` · #${s.iteration}` : ""}</td>
                <td>{when(s.started_at)}</td>
                <td className="num">{s.duration_seconds != null ? `${Math.round(s.duration_seconds * 1000)} ms` : "—"}</td>
                <td><details><summary>input</summary><pre className="json">{JSON.stringify(s.input_data, null, 2)}</pre></details></td>
                <td>
                  {s.error ? <pre className="json fault-inline">{JSON.stringify(s.error, null, 2)}</pre>
                    : <details><summary>output</summary><pre className="json">{JSON.stringify(s.output_data, null, 2)}</pre></details>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
