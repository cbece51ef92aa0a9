import { useEffect, useRef, useState } from "react";
import { get, query, watchExecutions } from "../api";
import { Empty, ErrorState, Link, Loading, Status, when } from "../parts/ui";

const STATUSES = ["", "running", "completed", "failed", "cancelled"];

function hashParams() {
  const q = window.location.hash.split("?")[1] || "";
  return new URLSearchParams(q);
}

function fromEvent(e) {
  return {
    id: e.execution_id,
    workflow: { id: e.workflow_id, name: e.workflow_name || e.workflow_id, version: e.workflow_version },
    status: e.status,
    started_at: e.started_at || e.at,
    completed_at: e.completed_at || null,
    trigger_type: e.trigger_type || "",
    user_id: e.user_id || null,
    failed_node: e.failed_node || null,
    retry_of: e.retry_of || null,
  };
}

export default function Executions() {
  const [workflow, setWorkflow] = useState(hashParams().get("workflow") || "");
  const [status, setStatus] = useState("");
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState("connecting");
  const filters = useRef({ workflow, status });
  filters.current = { workflow, status };

  useEffect(() => {
    let alive = true;
    // The stream first (from now on), then the list: a change in between is not missed.
    const stop = watchExecutions((kind, e) => {
      if (kind === "ready" || kind === "end") { setLive("live"); return; }
      if (kind === "error") { setLive("reconnecting"); return; }
      if (kind !== "execution") return;
      const f = filters.current;
      setRows((current) => {
        const list = current || [];
        const at = list.findIndex((r) => r.id === e.execution_id);
        if (at >= 0) {
          const next = [...list];
          const row = { ...next[at], status: e.status };
          if (e.completed_at) row.completed_at = e.completed_at;
          if (e.failed_node) row.failed_node = e.failed_node;
          next[at] = row;
          return f.status && row.status !== f.status ? next.filter((r) => r.id !== row.id) : next;
        }
        if (e.change !== "started") return list;
        const row = fromEvent(e);
        if (f.workflow && row.workflow.id !== f.workflow) return list;
        if (f.status && row.status !== f.status) return list;
        return [row, ...list];
      });
    }, { workflow: workflow || undefined });
    get(`/executions${query({ workflow, status, page_size: 50 })}`)
      .then((page) => alive && setRows((streamed) => {
        const seen = new Set(page.results.map((r) => r.id));
        return [...(streamed || []).filter((r) => !seen.has(r.id)), ...page.results];
      }))
      .catch((err) => alive && setError(err));
    return () => { alive = false; stop(); setRows(null); };
  }, [workflow, status]);

  return (
    <section>
      <div className="page-head">
        <h1>Executions</h1>
        <span className={`live live-${live}`} role="status" aria-live="polite">{live === "live" ? "● live" : live}</span>
      </div>
      <div className="filters">
        <label>Workflow id<input value={workflow} onChange={(e) => setWorkflow(e.target.value.trim())} placeholder="any" /></label>
        <label>Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUSES.map((s) => <option key={s} value={s}>{s || "any"}</option>)}
          </select>
        </label>
      </div>
      {error ? <ErrorState error={error} /> : rows === null ? <Loading /> : rows.length === 0 ? <Empty>No executions yet. They appear here as they start.</Empty> : (
        <table className="grid" aria-label="Executions">
          <thead><tr><th>Execution</th><th>Workflow</th><th>Status</th><th>Started</th><th>Finished</th><th>Trigger</th><th>Subject</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-execution={r.id} data-status={r.status}>
                <td><Link to={`/executions/${r.id}`}><code>{r.id.slice(0, 8)}</code></Link>{r.retry_of && <small className="muted"> retry</small>}</td>
                <td><Link to={`/workflows/${r.workflow.id}`}>{r.workflow.name || r.workflow.id}</Link></td>
                <td><Status value={r.status} />{r.failed_node && <small className="muted"> at {r.failed_node}</small>}</td>
                <td>{when(r.started_at)}</td>
                <td>{when(r.completed_at)}</td>
                <td>{r.trigger_type}</td>
                <td>{r.user_id || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
