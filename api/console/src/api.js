// The one way the console talks to Fluxo: the public REST API under /api/v1, same origin.
// The access token lives in memory only (never in storage); it is refreshed with the refresh
// token before it expires and once more when an answer says 401.

const BASE = "/api/v1";

let session = null; // {access, refresh, role, workspace, email, expiresAt}
let refreshTimer = null;
const listeners = new Set();

export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setSession(next) {
  session = next;
  clearTimeout(refreshTimer);
  if (session) {
    // Refresh a little before the token expires (at least 5 s from now).
    const wait = Math.max(5000, session.expiresAt - Date.now() - 30000);
    refreshTimer = setTimeout(() => refresh().catch(() => signOut()), wait);
  }
  listeners.forEach((fn) => fn(session));
}

export function currentSession() {
  return session;
}

export function canEdit() {
  return !!session && session.role !== "viewer";
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code;
    this.fields = error.fields || {};
  }
}

function tokensToSession(tokens, email) {
  return {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    role: tokens.role,
    workspace: tokens.workspace_id,
    email,
    expiresAt: Date.now() + tokens.expires_in * 1000,
  };
}

export async function signIn(email, password) {
  const r = await fetch(`${BASE}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, body);
  setSession(tokensToSession(body, email));
}

let refreshing = null;
export async function refresh() {
  if (!session) throw new ApiError(401, null);
  if (!refreshing) {
    const email = session.email;
    refreshing = fetch(`${BASE}/auth/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh }),
    })
      .then(async (r) => {
        const body = await r.json().catch(() => null);
        if (!r.ok) throw new ApiError(r.status, body);
        setSession(tokensToSession({ refresh_token: session.refresh, ...body }, email));
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

export function signOut() {
  setSession(null);
}

export async function api(method, path, body, { retried = false } = {}) {
  if (!session) throw new ApiError(401, null);
  const headers = { Authorization: `Bearer ${session.access}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(`${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401 && !retried) {
    try {
      await refresh();
    } catch (e) {
      signOut();
      throw e;
    }
    return api(method, path, body, { retried: true });
  }
  if (r.status === 204) return null;
  const answer = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, answer);
  return answer;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => api("PATCH", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

export function query(params) {
  const q = new URLSearchParams();
  Object.entries(params).forEach(([k, v]) => {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  });
  const s = q.toString();
  return s ? `?${s}` : "";
}

// The live executions stream (server-sent events over fetch, so the token goes in a header,
// not in the URL). Each answer stays open a few seconds; we reconnect with the last cursor,
// so no change is missed between answers. Returns a function that stops it.
export function watchExecutions(onEvent, { workflow } = {}) {
  let stopped = false;
  let cursor = null;
  let controller = null;
  let failures = 0;
  async function once() {
    controller = new AbortController();
    const path = `${BASE}/console/executions/stream${query({ after: cursor, workflow, follow_seconds: 5 })}`;
    let r = await fetch(path, { headers: { Authorization: `Bearer ${session && session.access}` }, signal: controller.signal });
    if (r.status === 401) {
      await refresh();
      return;
    }
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        let data = "";
        let id = null;
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
          else if (line.startsWith("id: ")) id = line.slice(4);
        }
        if (id) cursor = id;
        if (data) onEvent(event, JSON.parse(data));
      }
    }
  }
  (async () => {
    while (!stopped && session) {
      try {
        await once();
        failures = 0;
      } catch (e) {
        if (stopped) return;
        failures += 1;
        onEvent("error", { message: e.message });
        await new Promise((ok) => setTimeout(ok, Math.min(10000, 500 * 2 ** failures)));
      }
    }
  })();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
