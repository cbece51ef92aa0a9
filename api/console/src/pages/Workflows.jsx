import { useEffect, useState } from "react";
import { canEdit, get, post, query } from "../api";
import { Empty, ErrorState, Fault, Link, Loading, Sparkline, Status, pct, useLoad, when } from "../parts/ui";

const STATUSES = ["", "draft", "active", "paused", "inactive", "archived"];

function Trend({ id }) {
  const [days, setDays] = useState(null);
  useEffect(() => {
    let live = true;
    get(`/workflows/${id}/statistics?days=14`)
      // Oldest to newest, left to right, whatever order the series comes in.
      .then((s) => live && setDays([...s.usage_by_day].sort((a, b) => (a.date < b.date ? -1 : 1)).map((d) => d.executions)))
      .catch(() => live && setDays([]));
    return () => {
      live = false;
    };
  }, [id]);
  if (!days) return <span className="muted">…</span>;
  return <Sparkline values={days.length ? days : [0]} label={`executions over 14 days: ${days.join(", ")}`} />;
}

function CreateForm({ onCreated }) {
  const [name, setName] = useState("");
  const [triggerType, setTriggerType] = useState("event");
  const [eventType, setEventType] = useState("");
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    setError(null);
    const body = { name, trigger_type: triggerType, trigger_config: triggerType === "event" && eventType ? { event_type: eventType } : {} };
    try {
      const created = await post("/workflows", body);
      onCreated(created);
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form className="inline-form" onSubmit={submit} aria-label="New workflow">
      <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} /></label>
      <label>Trigger
        <select value={triggerType} onChange={(e) => setTriggerType(e.target.value)}>
          {["event", "manual", "webhook", "cron"].map((t) => <option key={t}>{t}</option>)}
        </select>
      </label>
      {triggerType === "event" && (
        <label>Event type<input value={eventType} onChange={(e) => setEventType(e.target.value)} placeholder="USER_CREATED" /></label>
      )}
      <button type="submit">Create workflow</button>
      <Fault error={error} />
    </form>
  );
}

export default function Workflows() {
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState("");
  const [creating, setCreating] = useState(false);
  const [page, setPage] = useState(1);
  const [fault, setFault] = useState(null);
  // 20 a page: each row asks for its own 14-day series, and the API's rate limit counts them.
  const list = useLoad(() => get(`/workflows${query({ search, status, page, page_size: 20 })}`), [search, status, page]);
  const editable = canEdit();

  async function transition(id, action) {
    setFault(null);
    try {
      await post(`/workflows/${id}/${action}`);
      list.reload();
    } catch (err) {
      setFault(err);
    }
  }

  return (
    <section>
      <div className="page-head">
        <h1>Workflows</h1>
        {editable && <button onClick={() => setCreating(!creating)} aria-expanded={creating}>New workflow</button>}
      </div>
      {creating && <CreateForm onCreated={(w) => (window.location.hash = `/workflows/${w.id}`)} />}
      <div className="filters">
        <label>Search<input type="search" value={search} onChange={(e) => { setSearch(e.target.value); setPage(1); }} placeholder="name or description" /></label>
        <label>Status
          <select value={status} onChange={(e) => { setStatus(e.target.value); setPage(1); }}>
            {STATUSES.map((s) => <option key={s} value={s}>{s || "any"}</option>)}
          </select>
        </label>
      </div>
      <Fault error={fault} />
      {list.error ? <ErrorState error={list.error} retry={list.reload} /> : !list.data ? <Loading /> : list.data.results.length === 0 ? (
        <Empty>No workflows{search || status ? " match" : " yet"}.{editable && !search && !status ? " Create one to start." : ""}</Empty>
      ) : (
        <table className="grid" aria-label="Workflows">
          <thead>
            <tr><th>Name</th><th>Status</th><th>Trigger</th><th>Executions</th><th>Success rate</th><th>Last 14 days</th><th>Last run</th>{editable && <th>Actions</th>}</tr>
          </thead>
          <tbody>
            {list.data.results.map((w) => (
              <tr key={w.id} data-workflow={w.id}>
                <td><Link to={`/workflows/${w.id}`}>{w.name}</Link></td>
                <td><Status value={w.status} /></td>
                <td>{w.trigger_type}</td>
                <td className="num">{w.executions_count}</td>
                <td className="num">{w.executions_count ? pct(w.success_rate) : "—"}</td>
                <td><Trend id={w.id} /></td>
                <td>{when(w.last_executed)}</td>
                {editable && (
                  <td className="actions">
                    {w.status !== "active" && w.status !== "archived" && <button onClick={() => transition(w.id, "activate")}>Activate</button>}
                    {w.status === "active" && <button onClick={() => transition(w.id, "pause")}>Pause</button>}
                    {w.status !== "archived" && <button className="quiet" onClick={() => transition(w.id, "archive")}>Archive</button>}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data && (list.data.previous || list.data.next) && (
        <nav className="row" aria-label="Pages">
          <button className="quiet" disabled={!list.data.previous} onClick={() => setPage(page - 1)}>Previous</button>
          <span>page {page} of {Math.max(1, Math.ceil(list.data.count / 20))}</span>
          <button className="quiet" disabled={!list.data.next} onClick={() => setPage(page + 1)}>Next</button>
        </nav>
      )}
    </section>
  );
}
