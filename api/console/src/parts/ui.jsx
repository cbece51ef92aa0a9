// Small shared pieces: data loading with loading / error / empty states, status badges, links.
import { useCallback, useEffect, useState } from "react";

export function useLoad(load, deps) {
  const [state, setState] = useState({ loading: true, error: null, data: null });
  const reload = useCallback(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load()
      .then((data) => live && setState({ loading: false, error: null, data }))
      .catch((error) => live && setState({ loading: false, error, data: null }));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(reload, [reload]);
  return { ...state, reload, setData: (data) => setState((s) => ({ ...s, data })) };
}

export function Loading({ what = "Loading" }) {
  return <p className="state loading" role="status">{what}…</p>;
}

export function ErrorState({ error, retry }) {
  return (
    <div className="state error" role="alert">
      <strong>Something went wrong.</strong> {error && error.message}
      {retry && <button onClick={retry}>Try again</button>}
    </div>
  );
}

export function Empty({ children }) {
  return <p className="state empty">{children}</p>;
}

export function Loaded({ state, children, empty, isEmpty }) {
  if (state.loading && !state.data) return <Loading />;
  if (state.error) return <ErrorState error={state.error} retry={state.reload} />;
  if (isEmpty && isEmpty(state.data)) return <Empty>{empty}</Empty>;
  return children(state.data);
}

export function Status({ value }) {
  return <span className={`status status-${value}`} data-status={value}>{value}</span>;
}

export function Link({ to, children, ...rest }) {
  return <a href={`#${to}`} {...rest}>{children}</a>;
}

export function Fault({ error }) {
  if (!error) return null;
  const fields = Object.entries(error.fields || {});
  return (
    <div className="fault" role="alert">
      {error.message}
      {fields.length > 0 && (
        <ul>
          {fields.map(([k, v]) => (
            <li key={k}><code>{k}</code>: {typeof v === "string" ? v : JSON.stringify(v)}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString();
}

export function pct(x) {
  return x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`;
}

export function Sparkline({ values, label }) {
  const w = 84, h = 22;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(" ");
  return (
    <svg className="sparkline" width={w} height={h} role="img" aria-label={label}>
      <polyline points={points} fill="none" strokeWidth="1.5" />
    </svg>
  );
}

export function Bars({ data, label }) {
  // data: [{label, value}]
  const max = Math.max(1, ...data.map((d) => d.value));
  return (
    <div className="bars" role="img" aria-label={label}>
      {data.map((d) => (
        <div className="bar" key={d.label} title={`${d.label}: ${d.value}`}>
          <div className="bar-fill" style={{ height: `${(d.value / max) * 100}%` }} />
          <span className="bar-label">{d.label}</span>
        </div>
      ))}
    </div>
  );
}
