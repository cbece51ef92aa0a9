import { useState } from "react";
import { canEdit, get, post } from "../api";
import { Fault, Loaded, Status, useLoad, when } from "../parts/ui";

function Logs({ id }) {
  const logs = useLoad(() => get(`/webhooks/${id}/logs?page_size=20`), [id]);
  return (
    <Loaded state={logs} isEmpty={(d) => d.results.length === 0} empty="No calls yet.">
      {(d) => (
        <table className="grid">
          <thead><tr><th>When</th><th>Method</th><th>Outcome</th><th>Status</th><th>Execution</th><th>ms</th></tr></thead>
          <tbody>
            {d.results.map((l) => (
              <tr key={l.id}>
                <td>{when(l.received_at)}{l.test && <small className="muted"> test</small>}</td>
                <td>{l.request.method}</td>
                <td><Status value={l.success ? "completed" : "failed"} /> {l.outcome}</td>
                <td>{l.response.status}</td>
                <td>{l.execution_id ? <a href={`#/executions/${l.execution_id}`}>{l.execution_id.slice(0, 8)}</a> : "—"}</td>
                <td className="num">{Math.round(l.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Loaded>
  );
}

export default function Webhooks() {
  const list = useLoad(() => get("/webhooks?page_size=100"), []);
  const workflows = useLoad(() => get("/workflows?page_size=100"), []);
  const [name, setName] = useState("");
  const [workflowId, setWorkflowId] = useState("");
  const [fault, setFault] = useState(null);
  const [open, setOpen] = useState(null);
  const [copied, setCopied] = useState(null);
  const editable = canEdit();
  async function act(fn) {
    setFault(null);
    try { await fn(); list.reload(); } catch (err) { setFault(err); }
  }
  return (
    <section>
      <h1>Webhooks</h1>
      {editable && (
        <form className="inline-form" aria-label="New webhook" onSubmit={(e) => { e.preventDefault(); act(() => post("/webhooks", { name, workflow_id: workflowId })); }}>
          <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required /></label>
          <label>Workflow
            <select value={workflowId} onChange={(e) => setWorkflowId(e.target.value)} required>
              <option value="">choose…</option>
              {(workflows.data ? workflows.data.results : []).map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
            </select>
          </label>
          <button type="submit">Create webhook</button>
        </form>
      )}
      <Fault error={fault} />
      <Loaded state={list} isEmpty={(d) => d.results.length === 0} empty="No webhooks yet.">
        {(d) => (
          <table className="grid">
            <thead><tr><th>Name</th><th>URL</th><th>Active</th><th /></tr></thead>
            <tbody>
              {d.results.map((h) => (
                <tr key={h.id}>
                  <td>{h.name}</td>
                  <td>
                    <code className="url">{h.url}</code>{" "}
                    <button className="quiet" onClick={() => navigator.clipboard.writeText(h.url).then(() => setCopied(h.id), () => setCopied(null))}>{copied === h.id ? "Copied" : "Copy URL"}</button>
                  </td>
                  <td><Status value={h.is_active ? "active" : "inactive"} /></td>
                  <td>
                    <button className="quiet" aria-expanded={open === h.id} onClick={() => setOpen(open === h.id ? null : h.id)}>Logs</button>
                    {editable && <button className="quiet" onClick={() => act(() => post(`/webhooks/${h.id}/test`, { body: { test: true } }))}>Send test</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
      {open && (<><h2>Calls</h2><Logs id={open} /></>)}
    </section>
  );
}
