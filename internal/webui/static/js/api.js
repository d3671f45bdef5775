// Talking to the master and the agents: the operator API in JSON, with
// HTTP Basic credentials when the master asks for them, and the SUBSCRIBE
// stream in RecordIO framing.

import { RecordReader } from "./recordio.js";

const KEY = "meso.credentials";

// credentials are kept for the browser tab only.
let auth = sessionStorage.getItem(KEY) || "";

// askCredentials is called when the master answers 401; it resolves to
// true once new credentials were set (the UI's login form).
let askCredentials = async () => false;

export function setCredentialPrompt(fn) { askCredentials = fn; }

export function setCredentials(principal, secret) {
  const utf8 = new TextEncoder().encode(`${principal}:${secret}`);
  auth = principal ? "Basic " + btoa(String.fromCharCode(...utf8)) : "";
  if (auth) sessionStorage.setItem(KEY, auth); else sessionStorage.removeItem(KEY);
}

export const hasCredentials = () => auth !== "";

function headers(extra) {
  const h = { "Content-Type": "application/json", Accept: "application/json", ...extra };
  if (auth) h.Authorization = auth;
  return h;
}

export class HTTPError extends Error {
  constructor(status, text) {
    super(`${status}: ${text}`);
    this.status = status;
  }
}

// post sends one operator call; a 401 asks for credentials and retries.
async function post(url, call, opts = {}) {
  for (;;) {
    const resp = await fetch(url, {
      method: "POST", headers: headers(), body: JSON.stringify(call), signal: opts.signal,
      credentials: opts.crossOrigin ? "omit" : "same-origin",
    });
    if (resp.status === 401 && !opts.crossOrigin && (await askCredentials())) continue;
    if (!resp.ok) throw new HTTPError(resp.status, (await resp.text()).trim());
    return resp;
  }
}

// call sends a master operator call and returns its decoded answer.
export async function call(type, body = {}) {
  const resp = await post("/api/v1", { type, ...body });
  const text = await resp.text();
  return text ? JSON.parse(text) : {};
}

// agentCall sends an operator call to an agent at base ("http://host:port").
export async function agentCall(base, type, body = {}) {
  const resp = await post(base + "/api/v1", { type, ...body }, { crossOrigin: base !== location.origin });
  return resp.json();
}

// subscribe opens the operator SUBSCRIBE stream and calls onEvent with
// each decoded event until the stream ends or signal aborts it.
export async function subscribe(onEvent, signal) {
  const resp = await post("/api/v1", { type: "SUBSCRIBE" }, { signal });
  const reader = resp.body.getReader();
  const rec = new RecordReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const r of rec.push(value)) onEvent(JSON.parse(dec.decode(r)));
  }
}
