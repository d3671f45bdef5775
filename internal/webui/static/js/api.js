// Talking to the master and the agents: the operator API in JSON, with
// HTTP Basic credentials when the master or an agent asks for them, and
// the SUBSCRIBE stream in RecordIO framing.
//
// Credentials go to this page's own origin (the master) and to the agents
// the master lists (isAgent, set by the app from its books), never to any
// other origin.

import { RecordReader } from "./recordio.js";

const KEY = "meso.credentials";
const WHO = "meso.principal";

// credentials are kept for the browser tab only.
let auth = sessionStorage.getItem(KEY) || "";
let principal = sessionStorage.getItem(WHO) || "";

// askCredentials is called on a 401 with the reason to show; it resolves
// to true once new credentials were set (the UI's login form), false when
// the user cancelled.
let askCredentials = async () => false;

export function setCredentialPrompt(fn) { askCredentials = fn; }

// isAgent says whether an origin ("http://host:port") is one of the
// cluster's agents; only those get the credentials across origins.
let isAgent = () => false;

export function setAgentOrigins(fn) { isAgent = fn; }

export function setCredentials(who, secret) {
  const utf8 = new TextEncoder().encode(`${who}:${secret}`);
  auth = who ? "Basic " + btoa(String.fromCharCode(...utf8)) : "";
  principal = who || "";
  if (auth) {
    sessionStorage.setItem(KEY, auth);
    sessionStorage.setItem(WHO, principal);
  } else {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(WHO);
  }
}

export const hasCredentials = () => auth !== "";
export const currentPrincipal = () => principal;

// authFor is the Authorization header value for a request to origin, ""
// when none may be sent there.
function authFor(origin) {
  if (!auth) return "";
  return origin === location.origin || isAgent(origin) ? auth : "";
}

function headers(origin) {
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  const a = authFor(origin);
  if (a) h.Authorization = a;
  return h;
}

export class HTTPError extends Error {
  constructor(status, text) {
    super(`${status}: ${text}`);
    this.status = status;
    this.text = text;
  }
}

// post sends one operator call. A 401 from the master asks for
// credentials and retries, until they are right or the user cancels. A
// 401 from an agent asks once when no credentials were sent; when they
// were, the agent refused them and the caller gets the error to show
// (asking again and again while a tail polls would trap the user).
async function post(url, call, opts = {}) {
  const origin = new URL(url, location.href).origin;
  let asked = false;
  for (;;) {
    const h = headers(origin);
    const resp = await fetch(url, {
      method: "POST", headers: h, body: JSON.stringify(call), signal: opts.signal,
      credentials: origin === location.origin ? "same-origin" : "omit",
    });
    if (resp.status === 401) {
      const text = (await resp.text()).trim();
      if (origin === location.origin) {
        if (await askCredentials(h.Authorization ? "The master refused these credentials" : "This master asks for credentials")) continue;
      } else if (!h.Authorization && !asked) {
        asked = true;
        if (await askCredentials(`The agent ${new URL(url).host} asks for credentials`)) continue;
      }
      const who = origin === location.origin ? "the master" : `the agent ${new URL(url).host}`;
      throw new HTTPError(401, h.Authorization
        ? `${who} refused the credentials of "${principal}" (${text})`
        : `${who} asks for credentials (${text})`);
    }
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
export async function agentCall(base, type, body = {}, signal) {
  const resp = await post(base + "/api/v1", { type, ...body }, { signal });
  return resp.json();
}

// download saves an agent's file through /files/download. Without
// credentials a plain link does it (the browser streams the file); with
// them the file is fetched with the Authorization header, which a link
// cannot carry, and saved from memory.
export async function download(base, path, name) {
  const url = `${base}/files/download?path=${encodeURIComponent(path)}`;
  const a = authFor(new URL(base).origin);
  const resp = await fetch(url, { headers: a ? { Authorization: a } : {}, credentials: "omit" });
  if (!resp.ok) throw new HTTPError(resp.status, (await resp.text()).trim());
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await resp.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

// subscribe opens the operator SUBSCRIBE stream and calls onEvent with
// each decoded event, and its record's size and parse time ({bytes,
// parseMs}), until the stream ends or signal aborts it.
export async function subscribe(onEvent, signal) {
  const resp = await post("/api/v1", { type: "SUBSCRIBE" }, { signal });
  const reader = resp.body.getReader();
  const rec = new RecordReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const r of rec.push(value)) {
      const t0 = performance.now();
      const ev = JSON.parse(dec.decode(r));
      onEvent(ev, { bytes: r.length, parseMs: performance.now() - t0 });
    }
  }
}
