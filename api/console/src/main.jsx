import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./console.css";
import { currentSession, onSession, signOut } from "./api";
import SignIn from "./pages/SignIn";
import Workflows from "./pages/Workflows";
import Workflow from "./pages/Workflow";
import Executions from "./pages/Executions";
import Execution from "./pages/Execution";
import Dashboard from "./pages/Dashboard";
import Library from "./pages/Library";
import Webhooks from "./pages/Webhooks";
import Integrations from "./pages/Integrations";
import Health from "./pages/Health";

function useHash() {
  const [hash, setHash] = useState(window.location.hash.slice(1) || "/workflows");
  useEffect(() => {
    const on = () => setHash(window.location.hash.slice(1) || "/workflows");
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash;
}

const NAV = [
  ["/workflows", "Workflows"],
  ["/executions", "Executions"],
  ["/dashboard", "Dashboard"],
  ["/library", "Triggers, actions, conditions"],
  ["/webhooks", "Webhooks"],
  ["/integrations", "Integrations"],
  ["/health", "Health"],
];

function page(path) {
  const [, section, id] = path.split("?")[0].split("/");
  switch (section) {
    case "workflows":
      return id ? <Workflow id={id} key={id} /> : <Workflows />;
    case "executions":
      return id ? <Execution id={id} key={id} /> : <Executions />;
    case "dashboard":
      return <Dashboard />;
    case "library":
      return <Library />;
    case "webhooks":
      return <Webhooks />;
    case "integrations":
      return <Integrations />;
    case "health":
      return <Health />;
    default:
      return <Workflows />;
  }
}

function App() {
  const [session, setSession] = useState(currentSession());
  useEffect(() => onSession(setSession), []);
  const path = useHash();
  if (!session) return <SignIn />;
  const section = "/" + path.split("/")[1];
  return (
    <div className="shell">
      <header className="top">
        <span className="brand">Fluxo</span>
        <nav aria-label="Main">
          {NAV.map(([to, label]) => (
            <a key={to} href={`#${to}`} aria-current={section === to ? "page" : undefined}>{label}</a>
          ))}
        </nav>
        <span className="who" data-role={session.role}>
          {session.email} · {session.role}
        </span>
        <button className="quiet" onClick={signOut}>Sign out</button>
      </header>
      <main>{page(path)}</main>
    </div>
  );
}

createRoot(document.getElementById("root")).render(<App />);
