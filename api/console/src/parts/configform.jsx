// A node's config as a form generated from its JSON Schema (GET /nodes/config-schema/{type}),
// with a raw JSON mode for what the form does not cover (nested objects, lists).
import { useEffect, useState } from "react";
import { get } from "../api";

function unwrap(schema) {
  // `X | null` (anyOf with a null branch) is X, optional.
  if (schema.anyOf) {
    const real = schema.anyOf.filter((s) => s.type !== "null");
    if (real.length === 1) return { ...schema, ...unwrap(real[0]), anyOf: undefined };
    return { ...schema, kind: "json" };
  }
  return schema;
}

function fieldKind(schema) {
  if (schema.kind) return schema.kind;
  if (schema.const !== undefined) return "const";
  if (schema.enum) return "enum";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "string") return "string";
  return "json";
}

function Field({ name, schema, value, required, onChange }) {
  const s = unwrap(schema);
  const kind = fieldKind(s);
  const id = `cfg-${name}`;
  const label = (
    <span>
      {s.title || name}
      {required && <abbr title="required"> *</abbr>}
      {s.description && <small className="muted"> — {s.description}</small>}
    </span>
  );
  if (kind === "const") return null;
  if (kind === "enum") {
    const options = [...new Set(s.enum.map((o) => (typeof o === "string" && o.toUpperCase() === o ? o : o)))].filter((o) => !(typeof o === "string" && o !== o.toUpperCase() && s.enum.includes(o.toUpperCase())));
    return (
      <label htmlFor={id}>{label}
        <select id={id} name={name} value={value ?? ""} onChange={(e) => onChange(e.target.value || undefined)}>
          <option value="">(default{s.default !== undefined && s.default !== null ? `: ${s.default}` : ""})</option>
          {options.map((o) => <option key={String(o)} value={o}>{String(o)}</option>)}
        </select>
      </label>
    );
  }
  if (kind === "boolean") {
    return (
      <label className="check" htmlFor={id}>
        <input id={id} name={name} type="checkbox" checked={!!value} onChange={(e) => onChange(e.target.checked)} /> {label}
      </label>
    );
  }
  if (kind === "number") {
    return (
      <label htmlFor={id}>{label}
        <input id={id} name={name} type="number" value={value ?? ""} step="any" onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
      </label>
    );
  }
  if (kind === "string") {
    const long = /code|condition|body|template|content|message/.test(name);
    return (
      <label htmlFor={id}>{label}
        {long ? (
          <textarea id={id} name={name} rows={3} value={value ?? ""} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
        ) : (
          <input id={id} name={name} value={value ?? ""} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
        )}
      </label>
    );
  }
  return <JsonField id={id} name={name} label={label} value={value} onChange={onChange} />;
}

function JsonField({ id, name, label, value, onChange }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value, null, 2));
  const [bad, setBad] = useState(false);
  return (
    <label htmlFor={id}>{label}
      <textarea id={id} name={name} rows={3} className={bad ? "bad" : ""} value={text} aria-invalid={bad}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === "") { setBad(false); onChange(undefined); return; }
          try { onChange(JSON.parse(e.target.value)); setBad(false); } catch { setBad(true); }
        }} />
      {bad && <small className="fault-inline">not valid JSON yet</small>}
    </label>
  );
}

export function ConfigForm({ nodeType, config, onChange, readOnly }) {
  const [schemas, setSchemas] = useState(null);
  const [raw, setRaw] = useState(false);
  const [rawText, setRawText] = useState(JSON.stringify(config, null, 2));
  const [rawBad, setRawBad] = useState(false);
  const actionType = nodeType === "action" ? config.action_type : null;
  useEffect(() => {
    let live = true;
    const wanted = [nodeType, ...(actionType ? [actionType] : [])];
    Promise.all(wanted.map((t) => get(`/nodes/config-schema/${encodeURIComponent(t)}`).then((a) => a.schema).catch(() => null)))
      .then((list) => live && setSchemas(list.filter(Boolean)));
    return () => { live = false; };
  }, [nodeType, actionType]);
  useEffect(() => setRawText(JSON.stringify(config, null, 2)), [raw]); // eslint-disable-line react-hooks/exhaustive-deps

  if (readOnly) return <pre className="json">{JSON.stringify(config, null, 2)}</pre>;
  const properties = {};
  const required = new Set();
  (schemas || []).forEach((s) => {
    Object.assign(properties, s.properties || {});
    (s.required || []).forEach((r) => required.add(r));
  });
  return (
    <div className="config-form">
      <div className="tabs" role="group" aria-label="Config editor mode">
        <button type="button" aria-pressed={!raw} onClick={() => setRaw(false)}>Form</button>
        <button type="button" aria-pressed={raw} onClick={() => setRaw(true)}>Raw JSON</button>
      </div>
      {raw ? (
        <label>Config (JSON)
          <textarea name="raw-config" rows={10} value={rawText} className={rawBad ? "bad" : ""} aria-invalid={rawBad}
            onChange={(e) => {
              setRawText(e.target.value);
              try {
                const parsed = JSON.parse(e.target.value);
                if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
                setRawBad(false);
                onChange(parsed);
              } catch { setRawBad(true); }
            }} />
          {rawBad && <small className="fault-inline">the config must be a JSON object</small>}
        </label>
      ) : schemas === null ? <p className="muted">Loading the config schema…</p> : (
        Object.entries(properties).map(([name, schema]) => (
          <Field key={`${actionType}-${name}`} name={name} schema={schema} value={config[name]} required={required.has(name)}
            onChange={(v) => {
              const next = { ...config };
              if (v === undefined) delete next[name]; else next[name] = v;
              onChange(next);
            }} />
        ))
      )}
    </div>
  );
}
