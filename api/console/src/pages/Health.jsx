import { useEffect } from "react";
import { Loaded, Status, useLoad } from "../parts/ui";

async function health() {
  // Public, like /metrics: 200 when ready, the same report with 503 when degraded.
  const r = await fetch("/health");
  const report = await r.json();
  const metrics = await fetch("/metrics").then((m) => m.text()).catch(() => "");
  const dead = metrics.split("\n").filter((l) => l.startsWith("fluxo_dead_letters_total{")).map((l) => {
    const labels = Object.fromEntries([...l.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    return { ...labels, count: Number(l.split(" ").pop()) };
  });
  return { report, dead };
}

export default function Health() {
  const state = useLoad(health, []);
  useEffect(() => {
    const t = setInterval(state.reload, 5000);
    return () => clearInterval(t);
  }, [state.reload]);
  return (
    <section>
      <h1>Health</h1>
      <Loaded state={state}>
        {({ report, dead }) => (
          <>
            <p>Overall: <Status value={report.status} /> · Kafka <Status value={report.kafka.status || (report.kafka.ok ? "ok" : "down")} /> · PostgreSQL <Status value={report.postgres.status || (report.postgres.ok ? "ok" : "down")} /></p>
            <h2>Processors</h2>
            <table className="grid" aria-label="Processors">
              <thead><tr><th>Processor</th><th>Alive</th><th>Lag</th><th>Members</th><th>State</th></tr></thead>
              <tbody>
                {Object.entries(report.processors).map(([name, p]) => (
                  <tr key={name}><td>{name}</td><td>{p.alive === null ? "—" : p.alive ? "yes" : "no"}</td><td className="num">{p.lag ?? "—"}</td><td className="num">{p.members ?? "—"}</td><td>{p.error || p.state || "—"}</td></tr>
                ))}
              </tbody>
            </table>
            <h2>Dead letters</h2>
            {dead.length === 0 ? <p className="state empty">No dead letters.</p> : (
              <table className="grid"><thead><tr><th>Consumer</th><th>Topic</th><th>Records</th></tr></thead>
                <tbody>{dead.map((d) => <tr key={`${d.consumer}-${d.topic}`}><td>{d.consumer}</td><td>{d.topic}</td><td className="num">{d.count}</td></tr>)}</tbody>
              </table>
            )}
          </>
        )}
      </Loaded>
    </section>
  );
}
