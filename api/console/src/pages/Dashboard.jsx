import { useState } from "react";
import { get } from "../api";
import { Bars, Link, Loaded, Status, pct, useLoad, when } from "../parts/ui";

const PERIODS = ["24h", "7d", "30d", "90d"];

export default function Dashboard() {
  const [period, setPeriod] = useState("7d");
  const overview = useLoad(() => get("/dashboard/overview"), []);
  const stats = useLoad(() => get(`/dashboard/stats?period=${period}`), [period]);
  return (
    <section>
      <h1>Dashboard</h1>
      <Loaded state={overview}>
        {(o) => (
          <>
            <div className="cards">
              <div className="card"><span>Workflows</span><strong>{o.workflows.total}</strong><small>{o.workflows.active} active</small></div>
              <div className="card"><span>Executions</span><strong>{o.executions.total}</strong><small>{o.executions.this_month} this month</small></div>
              <div className="card"><span>Success rate</span><strong>{pct(o.executions.success_rate)}</strong><small>{o.executions.failed} failed</small></div>
              <div className="card"><span>Cancelled</span><strong>{o.executions.cancelled}</strong></div>
            </div>
            <h2>Recent executions</h2>
            {o.recent_executions.length === 0 ? <p className="state empty">No executions yet.</p> : (
              <ul className="recent">
                {o.recent_executions.map((e) => (
                  <li key={e.id}><Link to={`/executions/${e.id}`}>{e.workflow.name || e.workflow.id}</Link> <Status value={e.status} /> {when(e.started_at)}</li>
                ))}
              </ul>
            )}
          </>
        )}
      </Loaded>
      <h2>Executions by period</h2>
      <div className="tabs" role="group" aria-label="Period">
        {PERIODS.map((p) => <button key={p} aria-pressed={p === period} onClick={() => setPeriod(p)}>{p}</button>)}
      </div>
      <Loaded state={stats}>
        {(s) => (
          <>
            <p>{s.totals.executions} executions · {pct(s.totals.success_rate)} succeeded · {pct(s.totals.failure_rate)} failed · average {s.totals.average_execution_time_seconds.toFixed(2)} s</p>
            <Bars label="executions per slot" data={s.series.map((p) => ({ label: (p.date || p.hour || "").slice(5, 13), value: p.executions }))} />
            <h3>Top workflows</h3>
            {s.top_workflows.length === 0 ? <p className="state empty">Nothing ran in this period.</p> : (
              <ol>{s.top_workflows.map((w) => <li key={w.workflow_id}><Link to={`/workflows/${w.workflow_id}`}>{w.name || w.workflow_id}</Link> — {w.executions} ({w.failures} failed)</li>)}</ol>
            )}
          </>
        )}
      </Loaded>
    </section>
  );
}
