// Connections to outside services. Secrets are write-only: the API answers `…_configured: true`.
import { useState } from "react";
import { canEdit, get, post } from "../api";
import { Fault, Loaded, Status, useLoad } from "../parts/ui";

const EXAMPLE = { name: "Mail", type: "email", provider: "smtp", configuration: { host: "smtp.example.com", port: 587, from_email: "ops@example.com", password: "" } };

export default function Integrations() {
  const list = useLoad(() => get("/integrations?page_size=100"), []);
  const [draft, setDraft] = useState(JSON.stringify(EXAMPLE, null, 2));
  const [fault, setFault] = useState(null);
  const [results, setResults] = useState({});
  const editable = canEdit();
  async function act(fn) {
    setFault(null);
    try { await fn(); list.reload(); } catch (err) { setFault(err); }
  }
  return (
    <section>
      <h1>Integrations</h1>
      {editable && (
        <form aria-label="New integration" onSubmit={(e) => { e.preventDefault(); act(() => post("/integrations", JSON.parse(draft))); }}>
          <label>Integration (JSON; secret fields are stored sealed and never shown again)
            <textarea rows={7} value={draft} onChange={(e) => setDraft(e.target.value)} />
          </label>
          <button type="submit">Create integration</button>
        </form>
      )}
      <Fault error={fault} />
      <Loaded state={list} isEmpty={(d) => d.results.length === 0} empty="No integrations yet.">
        {(d) => (
          <table className="grid">
            <thead><tr><th>Name</th><th>Type</th><th>Provider</th><th>Secrets</th><th>Active</th><th /></tr></thead>
            <tbody>
              {d.results.map((i) => (
                <tr key={i.id}>
                  <td>{i.name}</td>
                  <td>{i.type}</td>
                  <td>{i.provider}</td>
                  <td>{Object.entries(i.configuration || {}).filter(([k]) => k.endsWith("_configured")).map(([k, v]) => `${k.replace("_configured", "")}: ${v ? "set" : "—"}`).join(", ") || "—"}</td>
                  <td><Status value={i.is_active ? "active" : "inactive"} /></td>
                  <td>
                    {editable && <button className="quiet" onClick={() => act(async () => {
                      const r = await post(`/integrations/${i.id}/test`);
                      setResults((s) => ({ ...s, [i.id]: r }));
                    })}>Test</button>}
                    {results[i.id] && <small>{results[i.id].success ? " ok" : ` failed: ${results[i.id].message || ""}`}</small>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </section>
  );
}
