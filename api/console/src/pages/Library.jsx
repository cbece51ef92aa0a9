// Seed 003's reusable triggers, actions and conditions.
import { useState } from "react";
import { canEdit, del, get, post } from "../api";
import { Fault, Loaded, Status, useLoad } from "../parts/ui";

function Kind({ title, path, columns, create }) {
  const list = useLoad(() => get(`${path}?page_size=100`), [path]);
  const [fault, setFault] = useState(null);
  const [draft, setDraft] = useState(create ? JSON.stringify(create, null, 2) : "");
  const [open, setOpen] = useState(false);
  const editable = canEdit();
  async function act(fn) {
    setFault(null);
    try { await fn(); list.reload(); } catch (err) { setFault(err); }
  }
  return (
    <section aria-label={title}>
      <div className="page-head">
        <h2>{title}</h2>
        {editable && <button onClick={() => setOpen(!open)} aria-expanded={open}>New</button>}
      </div>
      {open && (
        <form onSubmit={(e) => { e.preventDefault(); act(async () => { await post(path, JSON.parse(draft)); setOpen(false); }); }}>
          <label>Definition (JSON)<textarea rows={6} value={draft} onChange={(e) => setDraft(e.target.value)} /></label>
          <button type="submit">Create</button>
        </form>
      )}
      <Fault error={fault} />
      <Loaded state={list} isEmpty={(d) => d.results.length === 0} empty={`No ${title.toLowerCase()} yet.`}>
        {(d) => (
          <table className="grid">
            <thead><tr><th>Name</th>{columns.map(([k]) => <th key={k}>{k}</th>)}<th>Active</th>{editable && <th />}</tr></thead>
            <tbody>
              {d.results.map((item) => (
                <tr key={item.id}>
                  <td>{item.name}</td>
                  {columns.map(([k, f]) => <td key={k}>{f(item)}</td>)}
                  <td><Status value={item.is_active ? "active" : "inactive"} /></td>
                  {editable && <td><button className="quiet" onClick={() => act(() => del(`${path}/${item.id}`))}>Delete</button></td>}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </section>
  );
}

export default function Library() {
  return (
    <section>
      <h1>Triggers, actions and conditions</h1>
      <Kind title="Triggers" path="/triggers" create={{ name: "New trigger", trigger_type: "event", event_type: "USER_CREATED" }}
        columns={[["Type", (t) => t.trigger_type], ["Listens to", (t) => t.listens_to || t.schedule || "—"]]} />
      <Kind title="Actions" path="/actions" create={{ name: "New action", action_type: "add_tag", configuration: { tag_name: "vip" } }}
        columns={[["Type", (a) => a.action_type], ["Order", (a) => a.order], ["Delay", (a) => `${a.delay} s`]]} />
      <Kind title="Conditions" path="/conditions" create={{ name: "New condition", conditions: [{ field: "event.data.plan", operator: "equals", value: "pro" }] }}
        columns={[["Operator", (c) => c.operator], ["Rules", (c) => (c.use_custom_code ? `custom ${c.language}` : c.conditions.length)]]} />
    </section>
  );
}
