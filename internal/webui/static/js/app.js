// The UI: one SUBSCRIBE stream feeding state.js's books, hash routes
// rendering views of them, and the sandbox pages talking to agents.

import { apply, emptyState, sample, taskKey, totals, scalars, agentState, TERMINAL } from "./state.js";
import { call, agentCall, subscribe, setCredentialPrompt, setCredentials, setAgentOrigins, currentPrincipal, hasCredentials, download, HTTPError } from "./api.js";

const PAGE = 100; // rows per table page

let state = emptyState();
let master = { info: null, version: null, startTime: 0, error: "" };
const main = document.querySelector("main");
const lists = {}; // list name -> {filter, page}

// ---- helpers -------------------------------------------------------------

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const val = (o) => (o && o.value) || "";
const enc = encodeURIComponent;
const fmtNum = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1));
const fmtRes = (name, n) => (name === "mem" || name === "disk" ? fmtBytes(n * 1024 * 1024) : fmtNum(n));
function fmtBytes(b) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return `${i ? b.toFixed(1) : b} ${u[i]}`;
}
function fmtTime(secs) {
  if (!secs) return "";
  return new Date(secs * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function fmtAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
const stateBadge = (s) => `<span class="badge ${esc(badgeClass(s))}">${esc((s || "").replace(/^TASK_/, ""))}</span>`;
function badgeClass(s) {
  if (s === "TASK_RUNNING" || s === "active") return "ok";
  if (s === "TASK_FINISHED") return "done";
  if (TERMINAL.has(s) || s === "removed" || s === "unreachable" || s === "TASK_UNREACHABLE") return "bad";
  return "wait";
}
const notAvailable = (what) => `<p class="muted na">${esc(what)}: not available from this master.</p>`;

function bar(label, used, total, offered = 0, fmt = fmtNum) {
  const pct = (x) => (total > 0 ? Math.min(100, (x / total) * 100) : 0);
  return `<div class="bar-row"><span class="bar-label">${esc(label)}</span>
<div class="bar" role="img" aria-label="${esc(label)} ${esc(fmt(used))} of ${esc(fmt(total))} used">
<span class="used" style="width:${pct(used)}%"></span><span class="offered" style="width:${pct(offered)}%"></span></div>
<span class="bar-value">${esc(fmt(used))} / ${esc(fmt(total))}</span></div>`;
}

// list renders a filtered, paged table. rows are objects; columns are
// [title, row -> html, row -> text to filter on (optional)].
function list(name, rows, columns, rowId) {
  const l = (lists[name] ||= { filter: "", page: 0 });
  const f = l.filter.toLowerCase();
  const matched = f ? rows.filter((r) => haystack(r, columns).includes(f)) : rows;
  if (!f && rows.length > PAGE) warm(rows, columns);
  const pages = Math.max(1, Math.ceil(matched.length / PAGE));
  l.page = Math.min(l.page, pages - 1);
  const shown = matched.slice(l.page * PAGE, (l.page + 1) * PAGE);
  const head = columns.map(([t]) => `<th>${esc(t)}</th>`).join("");
  const body = shown.map((r) => `<tr data-id="${esc(rowId(r))}">${columns.map(([, cell]) => `<td>${cell(r)}</td>`).join("")}</tr>`).join("");
  const pager = pages > 1
    ? `<div class="pager"><button data-list="${name}" data-page="${l.page - 1}" ${l.page === 0 ? "disabled" : ""}>previous</button>
<span>page ${l.page + 1} of ${pages}</span>
<button data-list="${name}" data-page="${l.page + 1}" ${l.page >= pages - 1 ? "disabled" : ""}>next</button></div>`
    : "";
  return `<p class="count" data-count="${name}">${matched.length} of ${rows.length}</p>
<table data-list="${name}"><thead><tr>${head}</tr></thead><tbody>${body || `<tr><td colspan="${columns.length}" class="muted">none</td></tr>`}</tbody></table>${pager}`;
}

// haystack is the lower-cased text a row is filtered on, kept per row
// object: the books replace a task's object when it changes, so a
// keystroke over 20,000 tasks reads 20,000 strings instead of building
// them. (Names of frameworks and agents are read when the row is first
// filtered.)
const haystacks = new WeakMap(); // row -> {columns, text}
function haystack(r, columns) {
  const h = haystacks.get(r);
  if (h && h.columns === columns) return h.text;
  const text = columns.map(([, , t]) => (t ? String(t(r)) : "")).join("\n").toLowerCase();
  haystacks.set(r, { columns, text });
  return text;
}

// warm builds the rows' filter text while the page is idle, so that the
// first keystroke does not pay for 20,000 of them.
let warming = 0;
function warm(rows, columns) {
  if (warming || typeof requestIdleCallback !== "function") return;
  let i = 0;
  const step = (deadline) => {
    while (i < rows.length && deadline.timeRemaining() > 1) haystack(rows[i++], columns);
    warming = i < rows.length ? requestIdleCallback(step) : 0;
  };
  warming = requestIdleCallback(step);
}

const filterBox = (name, what) =>
  `<input class="filter" type="search" data-list="${name}" placeholder="filter ${esc(what)}" value="${esc((lists[name] || {}).filter || "")}" aria-label="filter ${esc(what)}">`;

// ---- views -----------------------------------------------------------------

const taskCols = [
  ["ID", (t) => `<a href="#/tasks/${enc(val(t.framework_id))}/${enc(val(t.task_id))}">${esc(val(t.task_id))}</a>`, (t) => val(t.task_id)],
  ["Name", (t) => esc(t.name), (t) => t.name],
  ["State", (t) => `<span class="state">${stateBadge(t.state)}</span>`, (t) => t.state],
  ["Framework", (t) => `<a href="#/frameworks/${enc(val(t.framework_id))}">${esc(frameworkName(val(t.framework_id)))}</a>`, (t) => frameworkName(val(t.framework_id))],
  ["Agent", (t) => `<a href="#/agents/${enc(val(t.agent_id))}">${esc(agentName(val(t.agent_id)))}</a>`, (t) => agentName(val(t.agent_id))],
  ["Resources", (t) => esc(resText(t.resources))],
  ["Updated", (t) => esc(fmtTime(lastStatus(t).timestamp))],
];

const frameworkName = (id) => ((state.frameworks.get(id) || {}).framework_info || {}).name || id;
const agentName = (id) => ((state.agents.get(id) || {}).agent_info || {}).hostname || id;
const lastStatus = (t) => (t.statuses && t.statuses[t.statuses.length - 1]) || {};
const resText = (rs) => Object.entries(scalars(rs)).filter(([k]) => k !== "ports").map(([k, v]) => `${k}:${fmtRes(k, v)}`).join(" ");

// allTasks is every task in the tasks page's order, sorted again only
// when the books changed since.
let sorted = { version: -1, tasks: [] };
function allTasks() {
  if (sorted.version !== state.version) sorted = { version: state.version, tasks: tasksOf(() => true) };
  return sorted.tasks;
}

function tasksOf(pred) {
  const out = [];
  for (const t of state.tasks.values()) if (pred(t)) out.push(t);
  // Live tasks first, newest update first.
  out.sort((a, b) => (TERMINAL.has(a.state) - TERMINAL.has(b.state)) || ((lastStatus(b).timestamp || 0) - (lastStatus(a).timestamp || 0)));
  return out;
}

function chart(series) {
  if (series.length < 2) return `<p class="muted">collecting (one point every 10 s)</p>`;
  const w = 600, h = 120;
  const max = Math.max(1, ...series.map((p) => p.running));
  const t0 = series[0].t, t1 = series[series.length - 1].t;
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * w;
  const y = (n) => h - (n / max) * (h - 10);
  const pts = series.map((p) => `${x(p.t).toFixed(1)},${y(p.running).toFixed(1)}`).join(" ");
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="running tasks over the last ${Math.round((t1 - t0) / 60000)} minutes, at most ${max}">
<polyline points="${pts}" /></svg><p class="muted small">running tasks, last ${fmtAge(t1 - t0)} (max ${max})</p>`;
}

const views = {
  overview() {
    const agents = [...state.agents.values()];
    const byState = {};
    for (const a of agents) byState[agentState(a)] = (byState[agentState(a)] || 0) + 1;
    const t = totals(state);
    const names = Object.keys(t.total).filter((n) => n !== "ports").sort();
    const counts = Object.entries(state.counts).sort();
    const info = master.info || {};
    return {
      title: "Overview",
      body: () => `<section class="cards">
<div class="card"><h3>Master</h3><dl>
<dt>leader</dt><dd id="leader">${esc(info.hostname ? `${info.hostname}:${info.port}` : "…")}</dd>
<dt>version</dt><dd id="version">${esc(master.version || info.version || "…")}</dd>
<dt>uptime</dt><dd>${master.startTime ? esc(fmtAge(Date.now() - master.startTime * 1000)) : "…"}</dd>
<dt>stream</dt><dd id="stream">${state.subscribed ? `live, heartbeat ${fmtAge(Date.now() - state.heartbeatAt)} ago` : "connecting"}</dd></dl></div>
<div class="card"><h3>Agents</h3><dl>${Object.entries(byState).sort().map(([k, v]) => `<dt>${esc(k)}</dt><dd data-agents="${esc(k)}">${v}</dd>`).join("") || "<dt>none</dt><dd></dd>"}</dl></div>
<div class="card"><h3>Tasks</h3><dl>${counts.map(([k, v]) => `<dt>${stateBadge(k)}</dt><dd data-tasks="${esc(k)}">${v}</dd>`).join("") || "<dt>none</dt><dd></dd>"}</dl></div>
</section>
<section><h3>Resources <span class="legend"><i class="used"></i>used <i class="offered"></i>offered</span></h3>
${names.map((n) => bar(n, t.used[n] || 0, t.total[n], t.offered[n] || 0, (v) => fmtRes(n, v))).join("") || `<p class="muted">no agents</p>`}
<p class="muted small">idle: ${names.map((n) => `${esc(n)} ${esc(fmtRes(n, Math.max(0, t.total[n] - (t.used[n] || 0) - (t.offered[n] || 0))))}`).join(", ")}</p></section>
<section><h3>Running tasks</h3>${chart(state.series)}</section>`,
    };
  },

  frameworks() {
    const rows = [...state.frameworks.values()].sort((a, b) => a.completed - b.completed || a.id.localeCompare(b.id));
    const tasksBy = {};
    for (const t of state.tasks.values()) {
      const c = (tasksBy[val(t.framework_id)] ||= { live: 0, done: 0 });
      if (TERMINAL.has(t.state)) c.done++; else c.live++;
    }
    const cols = [
      ["ID", (f) => `<a href="#/frameworks/${enc(f.id)}">${esc(f.id)}</a>`, (f) => f.id],
      ["Name", (f) => esc(f.framework_info.name) + (f.framework_info.webui_url ? ` <a href="${esc(safeURL(f.framework_info.webui_url))}" target="_blank" rel="noopener">UI</a>` : ""), (f) => f.framework_info.name],
      ["State", (f) => stateBadge(fwState(f)), (f) => fwState(f)],
      ["Roles", (f) => esc(fwRoles(f).join(", ")), (f) => fwRoles(f).join(" ")],
      ["Principal", (f) => esc(f.framework_info.principal), (f) => f.framework_info.principal],
      ["Used", (f) => esc(resText(f.allocated_resources))],
      ["Offered", (f) => esc(resText(f.offered_resources))],
      ["Tasks", (f) => `<span class="tasks-live">${(tasksBy[f.id] || {}).live || 0}</span> live, ${(tasksBy[f.id] || {}).done || 0} done`],
    ];
    return { title: "Frameworks", filter: ["frameworks", "frameworks"], body: () => list("frameworks", rows, cols, (f) => f.id) };
  },

  framework(id) {
    const f = state.frameworks.get(id);
    if (!f) return { title: `Framework ${id}`, body: () => `<p class="muted">unknown framework (yet)</p>` };
    const info = f.framework_info;
    const offers = offersSeen.at ? offersSeen.by.get(id) || [] : f.offers || [];
    const execs = [...state.executors.values()].filter((e) => val(e.executor_info.framework_id) === id);
    return {
      title: `Framework ${info.name || id}`,
      filter: ["fwtasks", "tasks"],
      load: (signal) => pollOffers(signal),
      body: () => `<dl class="kv"><dt>id</dt><dd>${esc(id)}</dd><dt>state</dt><dd id="fw-state">${stateBadge(fwState(f))}</dd>
<dt>user</dt><dd>${esc(info.user)}</dd><dt>roles</dt><dd>${esc(fwRoles(f).join(", "))}</dd><dt>principal</dt><dd>${esc(info.principal || "")}</dd>
<dt>failover timeout</dt><dd>${esc(info.failover_timeout || 0)} s</dd><dt>capabilities</dt><dd>${esc((info.capabilities || []).map((c) => c.type).join(", "))}</dd>
${info.webui_url ? `<dt>web UI</dt><dd><a href="${esc(safeURL(info.webui_url))}" target="_blank" rel="noopener">${esc(info.webui_url)}</a></dd>` : ""}
<dt>registered</dt><dd>${esc(fmtTime((f.registered_time || {}).nanoseconds / 1e9))}</dd></dl>
<h3>Tasks</h3>${list("fwtasks", tasksOf((t) => val(t.framework_id) === id), taskCols, (t) => taskKey(val(t.framework_id), val(t.task_id)))}
<h3>Executors</h3>${executorList(execs)}
<h3>Offers outstanding</h3>${offers.length ? offerTable(offers) : `<p class="muted">none</p>`}${offersNote()}`,
    };
  },

  agents() {
    const rows = [...state.agents.values()].sort((a, b) => (a.agent_info.hostname || "").localeCompare(b.agent_info.hostname || "") || a.id.localeCompare(b.id));
    const cols = [
      ["ID", (a) => `<a href="#/agents/${enc(a.id)}">${esc(a.id)}</a>`, (a) => a.id],
      ["Host", (a) => esc(agentHost(a)), (a) => agentHost(a)],
      ["State", (a) => `<span class="agent-state">${stateBadge(agentState(a))}</span>`, (a) => agentState(a)],
      ["CPUs", (a) => resPair(a, "cpus")],
      ["Memory", (a) => resPair(a, "mem")],
      ["Disk", (a) => resPair(a, "disk")],
      ["Attributes", (a) => esc(attrText(a)), (a) => attrText(a)],
      ["Version", (a) => esc(a.version), (a) => a.version],
    ];
    return { title: "Agents", filter: ["agents", "agents"], body: () => list("agents", rows, cols, (a) => a.id) };
  },

  agent(id) {
    const a = state.agents.get(id);
    if (!a) return { title: `Agent ${id}`, body: () => `<p class="muted">unknown agent (yet)</p>` };
    return {
      title: `Agent ${agentHost(a)}`,
      filter: ["agtasks", "tasks"],
      load: (signal) => agentFlags(a, signal),
      body: () => `<dl class="kv"><dt>id</dt><dd>${esc(id)}</dd><dt>state</dt><dd id="agent-state">${stateBadge(agentState(a))}</dd>
<dt>address</dt><dd>${esc(agentHost(a))}</dd><dt>version</dt><dd>${esc(a.version)}</dd>
<dt>registered</dt><dd>${esc(fmtTime(((a.registered_time || {}).nanoseconds || 0) / 1e9))}</dd><dt>attributes</dt><dd>${esc(attrText(a))}</dd>
<dt>sandboxes</dt><dd id="sandbox">${sandboxLinks(a, agentSandboxes(id), () => `<a id="sandbox-link" href="#/agents/${enc(id)}/browse?path=${enc(agentSandboxes(id))}">browse</a>`)}</dd></dl>
${["cpus", "mem", "disk"].map((n) => bar(n, scalars(a.allocated_resources)[n] || 0, scalars(a.total_resources)[n] || 0, scalars(a.offered_resources)[n] || 0, (v) => fmtRes(n, v))).join("")}
<h3>Tasks</h3>${list("agtasks", tasksOf((t) => val(t.agent_id) === id), taskCols, (t) => taskKey(val(t.framework_id), val(t.task_id)))}
<h3>Executors</h3>${executorList([...state.executors.values()].filter((e) => val(e.agent_id) === id))}
<h3>Flags</h3><div id="agent-flags">${flagCache.get(id) || `<span class="muted">loading…</span>`}</div>`,
    };
  },

  tasks() {
    return {
      title: "Tasks",
      filter: ["tasks", "tasks"],
      body: () => list("tasks", allTasks(), taskCols, (t) => taskKey(val(t.framework_id), val(t.task_id))),
    };
  },

  task(fid, tid) {
    const t = state.tasks.get(taskKey(fid, tid));
    if (!t) return { title: `Task ${tid}`, body: () => `<p class="muted">unknown task (yet)</p>` };
    const aid = val(t.agent_id);
    const exec = val(t.executor_id) || val(lastStatus(t).executor_id) || tid;
    const sandbox = `/frameworks/${fid}/executors/${exec}/runs/latest`;
    const hist = (t.statuses || []).slice().reverse();
    const health = lastStatus(t).healthy;
    return {
      title: `Task ${t.name || tid}`,
      body: () => `<dl class="kv"><dt>id</dt><dd>${esc(tid)}</dd><dt>state</dt><dd id="task-state">${stateBadge(t.state)}</dd>
<dt>framework</dt><dd><a href="#/frameworks/${enc(fid)}">${esc(frameworkName(fid))}</a></dd>
<dt>agent</dt><dd><a href="#/agents/${enc(aid)}">${esc(agentName(aid))}</a></dd>
<dt>executor</dt><dd>${esc(exec)}</dd><dt>resources</dt><dd>${esc(resText(t.resources))}</dd>
<dt>health</dt><dd>${health === undefined ? "no health check" : health ? "healthy" : "unhealthy"}</dd>
<dt>container</dt><dd>${esc(t.container ? `${t.container.type || ""} ${(t.container.docker || {}).image || ""}` : "none")}</dd>
<dt>network</dt><dd>${esc(((lastStatus(t).container_status || {}).network_infos || []).flatMap((n) => (n.ip_addresses || []).map((i) => i.ip_address)).join(", ") || "host")}</dd>
<dt>sandbox</dt><dd id="sandbox">${sandboxLinks(state.agents.get(aid), sandbox, () => `<a id="sandbox-link" href="#/agents/${enc(aid)}/browse?path=${enc(sandbox)}">browse</a> · <a id="stdout-link" href="#/agents/${enc(aid)}/file?path=${enc(sandbox + "/stdout")}">stdout</a> · <a href="#/agents/${enc(aid)}/file?path=${enc(sandbox + "/stderr")}">stderr</a>`)}</dd></dl>
<h3>Status history</h3><table id="history"><thead><tr><th>Time</th><th>State</th><th>Source</th><th>Reason</th><th>Message</th></tr></thead><tbody>
${hist.map((s) => `<tr><td>${esc(fmtTime(s.timestamp))}</td><td>${stateBadge(s.state)}</td><td>${esc((s.source || "").replace(/^SOURCE_/, ""))}</td><td>${esc((s.reason || "").replace(/^REASON_/, ""))}</td><td>${esc(s.message || "")}</td></tr>`).join("") || `<tr><td colspan="5" class="muted">none yet</td></tr>`}</tbody></table>`,
    };
  },

  browse(aid, query) {
    const path = query.get("path") || "/";
    return {
      title: "Sandbox",
      live: false,
      needsState: true,
      load: (signal) => browseDir(state.agents.get(aid), path, signal),
      body: () => `<nav class="crumbs">${crumbs(aid, path)}</nav><p id="no-access" class="denied" hidden></p><div id="listing" class="muted">loading…</div>`,
    };
  },

  file(aid, query) {
    const path = query.get("path") || "";
    return {
      title: path.split("/").pop() || "file",
      live: false,
      needsState: true,
      load: (signal) => tailFile(state.agents.get(aid), path, signal),
      body: () => `<nav class="crumbs">${crumbs(aid, path.replace(/\/[^/]*$/, "") || "/")} / <b>${esc(path.split("/").pop())}</b></nav>
<p><label><input type="checkbox" id="follow" checked> follow</label> ·
<a id="download" href="#">download</a> · <span id="size" class="muted"></span></p>
<p id="no-access" class="denied" hidden></p><pre id="tail" class="tail"></pre>`,
    };
  },

  roles() {
    return {
      title: "Roles",
      live: false,
      load: async (signal) => {
        const r = await call("GET_ROLES");
        if (signal.aborted) return;
        const roles = ((r.get_roles || {}).roles || []);
        document.getElementById("roles").innerHTML = roles.length
          ? `<table><thead><tr><th>Role</th><th>Weight</th><th>Frameworks</th><th>Allocated</th><th>Quota</th></tr></thead><tbody>
${roles.map((x) => `<tr data-id="${esc(x.name)}"><td>${esc(x.name)}</td><td>${esc(x.weight ?? 1)}</td><td>${esc((x.frameworks || []).length)}</td><td>${esc(resText(x.resources || x.allocated))}</td><td>${esc(x.quota ? resText(x.quota.guarantee || []) || "set" : "none")}</td></tr>`).join("")}</tbody></table>`
          : `<p class="muted">no roles in use</p>`;
      },
      body: () => `<div id="roles" class="muted">loading…</div><p class="muted small">Asked once when the page opens; <a href="#/roles" data-reload>refresh</a>.</p>`,
    };
  },

  offers() {
    return {
      title: "Offers",
      live: false,
      load: (signal) => pollOffers(signal, () => {
        const offers = [...offersSeen.by.values()].flat();
        const el = document.getElementById("offers");
        if (el) el.innerHTML = offers.length ? offerTable(offers) : `<p class="muted">no outstanding offers</p>`;
        const note = document.getElementById("offers-note");
        if (note) note.outerHTML = offersNote();
      }),
      body: () => `<div id="offers" class="muted">loading…</div>${offersNote()}`,
    };
  },

  maintenance() {
    const draining = [...state.agents.values()].filter((a) => a.drain_info || a.deactivated);
    return {
      title: "Maintenance",
      body: () => `<h3>Schedule</h3>${notAvailable("The maintenance schedule")}
<h3>Draining and deactivated agents</h3>${draining.length ? `<ul>${draining.map((a) => `<li><a href="#/agents/${enc(a.id)}">${esc(agentHost(a))}</a> ${stateBadge(agentState(a))}</li>`).join("")}</ul>` : `<p class="muted">none</p>`}`,
    };
  },
};

function offerTable(offers) {
  const now = Date.now();
  return `<table id="offer-table"><thead><tr><th>Offer</th><th>Framework</th><th>Agent</th><th>Resources</th><th>Age</th></tr></thead><tbody>
${offers.map((o) => `<tr data-id="${esc(val(o.id))}"><td>${esc(val(o.id))}</td><td><a href="#/frameworks/${enc(val(o.framework_id))}">${esc(frameworkName(val(o.framework_id)))}</a></td><td><a href="#/agents/${enc(val(o.agent_id))}">${esc(o.hostname || agentName(val(o.agent_id)))}</a></td><td>${esc(resText(o.resources))}</td><td>${o.created_time ? esc(fmtAge(now - o.created_time.nanoseconds / 1e6)) : "?"}</td></tr>`).join("")}</tbody></table>`;
}

const fwState = (f) => (f.completed ? "completed" : f.active ? "active" : "inactive");
const fwRoles = (f) => f.framework_info.roles || (f.framework_info.role ? [f.framework_info.role] : []);
const agentHost = (a) => (a.agent_info ? `${a.agent_info.hostname || "?"}:${a.agent_info.port || 5051}` : a.id);
const agentBase = (a) => `${location.protocol}//${a.agent_info.hostname}:${a.agent_info.port || 5051}`;
const attrText = (a) => ((a.agent_info || {}).attributes || []).map((x) => `${x.name}:${x.text ? x.text.value : x.scalar ? x.scalar.value : ""}`).join(" ");
function resPair(a, n) {
  const used = scalars(a.allocated_resources)[n] || 0, total = scalars(a.total_resources)[n] || 0;
  return `${esc(fmtRes(n, used))} / ${esc(fmtRes(n, total))}`;
}
const safeURL = (u) => (/^https?:\/\//i.test(u) ? u : "#");

// agentSandboxes is the agent's directory of framework sandboxes, as a
// path relative to the root its files API serves (<work_dir>/slaves):
// <agent id>/frameworks. Listing it needs no access_sandboxes; each
// framework's directory below does.
const agentSandboxes = (aid) => `${aid}/frameworks`;

// crumbs links each browsable ancestor of path. The agent serves two kinds
// of path: relative to its sandbox root (agentSandboxes' form; every
// ancestor is browsable down from <agent id>) and Mesos' virtual names
// (/frameworks/F/executors/E/runs/latest), of which only the whole name and
// what lies below it exist: the elements above it are shown, not linked.
function crumbs(aid, path) {
  const link = (at, name) => `<a href="#/agents/${enc(aid)}/browse?path=${enc(at)}">${esc(name)}</a>`;
  const parts = path.split("/").filter(Boolean);
  const virtual = path.startsWith("/");
  const top = virtual && parts[0] === "frameworks" ? 5 : 0; // frameworks/F/executors/E/runs/latest
  let at = "";
  return parts.map((p, i) => {
    at += (virtual || i > 0 ? "/" : "") + p;
    return virtual && i < top ? esc(p) : link(at, p);
  }).join(" / ");
}

// flagCache keeps each agent's flags (asked once per visit) across renders.
const flagCache = new Map();

async function agentFlags(a, signal) {
  let html;
  try {
    if (a.removed) throw new Error("the agent is gone");
    const r = await agentCall(agentBase(a), "GET_FLAGS");
    const flags = ((r.get_flags || {}).flags || []);
    html = `<dl class="kv flags">${flags.map((f) => `<dt>${esc(f.name)}</dt><dd>${esc(f.value)}</dd>`).join("")}</dl>`;
  } catch (e) {
    html = `<span class="muted">not available: ${esc(e.message)}</span>`;
  }
  flagCache.set(a.id, html);
  const el = document.getElementById("agent-flags");
  if (!signal.aborted && el) el.innerHTML = html;
}

async function browseDir(a, path, signal) {
  const el = document.getElementById("listing");
  if (!a || a.removed) { el.textContent = "not available: the agent is not known or gone"; return; }
  try {
    const r = await agentCall(agentBase(a), "LIST_FILES", { list_files: { path } }, signal);
    if (signal.aborted) return;
    const files = ((r.list_files || {}).file_infos || []).sort((x, y) => x.path.localeCompare(y.path));
    const isDir = (f) => ((f.mode || 0) & 0o170000) === 0o040000;
    el.className = "";
    el.innerHTML = `<table id="files"><thead><tr><th>Name</th><th>Size</th><th>Modified</th><th>Mode</th><th></th></tr></thead><tbody>
${files.map((f) => {
  const name = f.path.split("/").pop();
  const link = isDir(f) ? `#/agents/${enc(a.id)}/browse?path=${enc(f.path)}` : `#/agents/${enc(a.id)}/file?path=${enc(f.path)}`;
  return `<tr data-id="${esc(name)}"><td><a href="${link}">${esc(name)}${isDir(f) ? "/" : ""}</a></td><td>${isDir(f) ? "" : esc(fmtBytes(f.size || 0))}</td><td>${esc(fmtTime((f.mtime || {}).nanoseconds / 1e9))}</td><td><code>${esc(modeText(f.mode))}</code></td>
<td>${isDir(f) ? "" : `<a href="${esc(agentBase(a))}/files/download?path=${enc(f.path)}" data-download="${esc(f.path)}" data-agent="${esc(a.id)}">download</a>`}</td></tr>`;
}).join("") || `<tr><td colspan="5" class="muted">empty</td></tr>`}</tbody></table>`;
  } catch (e) {
    if (signal.aborted) return;
    el.textContent = "";
    showAccessError(e, path);
  }
}

function modeText(m = 0) {
  const s = ((m & 0o170000) === 0o040000 ? "d" : "-") + "rwxrwxrwx".split("").map((c, i) => (m & (1 << (8 - i)) ? c : "-")).join("");
  return s;
}

// tailFile shows the end of a file and follows it like tail -f: it asks for
// what was appended once a second while "follow" is checked.
async function tailFile(a, path, signal) {
  const pre = document.getElementById("tail");
  const size = document.getElementById("size");
  if (!a || a.removed) { pre.textContent = "not available: the agent is not known or gone"; return; }
  const base = agentBase(a);
  const dl = document.getElementById("download");
  dl.href = `${base}/files/download?path=${enc(path)}`;
  dl.dataset.download = path;
  dl.dataset.agent = a.id;
  const MAX = 64 * 1024; // per read, and the first read's look-back
  const KEEP = 1 << 20; // characters kept on the page
  let offset = -1;
  const dec = new TextDecoder();
  while (!signal.aborted) {
    try {
      if (offset < 0) {
        const r = await agentCall(base, "READ_FILE", { read_file: { path, offset: 0, length: 0 } }, signal);
        const total = Number((r.read_file || {}).size || 0);
        offset = Math.max(0, total - MAX);
      }
      const r = await agentCall(base, "READ_FILE", { read_file: { path, offset, length: MAX } }, signal);
      if (signal.aborted) return;
      const rf = r.read_file || {};
      const bytes = Uint8Array.from(atob(rf.data || ""), (c) => c.charCodeAt(0));
      if (bytes.length) {
        const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
        pre.textContent = (pre.textContent + dec.decode(bytes, { stream: true })).slice(-KEEP);
        offset += bytes.length;
        if (atBottom && document.getElementById("follow").checked) pre.scrollTop = pre.scrollHeight;
      }
      size.textContent = `${fmtBytes(Number(rf.size || offset))}`;
      if (bytes.length === MAX) continue; // more is waiting
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof HTTPError && [401, 403, 404].includes(e.status)) { showAccessError(e, path); return; }
      size.textContent = `read failed: ${e.message}`;
    }
    if (!document.getElementById("follow").checked) {
      await new Promise((res) => document.getElementById("follow").addEventListener("change", res, { once: true, signal }));
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

// ---- sandbox access ----------------------------------------------------------

// access caches, per agent and sandbox path, the agent's answer to a
// cheap LIST_FILES of that path with the current credentials: the agent's
// own access_sandboxes decision (internal/acl), asked once per path, not
// guessed by the page. Signing in again empties it; answers that may
// change soon are asked again (RETRY_PROBE). Probes run PROBES at
// a time, so a page listing many executors does not flood an agent.
const access = new Map(); // `${agentId} ${path}` -> {status, message}; status 0 while asked
const PROBES = 4;
let probing = 0;
const probeQueue = [];

// RETRY_PROBE is how old an answer that may change soon (404: a task's
// sandbox not made yet; the agent unreachable or busy) may be before a
// render asks again.
const RETRY_PROBE = 5000;

function sandboxAccess(a, path) {
  const key = `${a.id} ${path}`;
  let r = access.get(key);
  const settled = r && [0, 200, 401, 403].includes(r.status);
  if (r && (settled || Date.now() - r.at < RETRY_PROBE)) return r;
  r = { status: 0, message: "", at: 0 };
  access.set(key, r);
  probeQueue.push(async () => {
    try {
      await agentCall(agentBase(a), "LIST_FILES", { list_files: { path } });
      r.status = 200;
    } catch (e) {
      r.status = e instanceof HTTPError ? e.status : -1;
      r.message = e instanceof HTTPError ? e.text : e.message;
    }
    r.at = Date.now();
    if (access.get(key) === r) refresh();
  });
  pumpProbes();
  return r;
}

function pumpProbes() {
  while (probing < PROBES && probeQueue.length) {
    probing++;
    probeQueue.shift()().finally(() => { probing--; pumpProbes(); });
  }
}

const whoText = () => (currentPrincipal() ? `principal "${currentPrincipal()}"` : "an anonymous user (not signed in)");

// sandboxLinks renders links() once the agent said the sandbox at path
// may be read, and otherwise why not; nothing links to a sandbox the
// agent would refuse.
function sandboxLinks(a, path, links) {
  if (!a || a.removed) return `<span class="muted">not available (agent gone)</span>`;
  const r = sandboxAccess(a, path);
  switch (r.status) {
    case 0: return `<span class="muted">checking access…</span>`;
    case 200: return links();
    case 403: return `<span class="denied">no access: the agent does not let ${esc(whoText())} read this sandbox (access_sandboxes)</span> <span class="muted small">${esc(r.message)}</span>`;
    case 401: return `<span class="denied">${esc(r.message)} · <a href="#" data-signin>sign in</a></span>`;
    case 404: return `<span class="muted">not on the agent (gone or garbage collected)</span>`;
    default: return `<span class="muted">not available: ${esc(r.message)}</span>`;
  }
}

function executorList(execs) {
  if (!execs.length) return `<p class="muted">none outside the command executor</p>`;
  const shown = execs.slice(0, PAGE);
  return `<ul class="executors">${shown.map((e) => {
    const aid = val(e.agent_id), fid = val(e.executor_info.framework_id), eid = val(e.executor_info.executor_id);
    const path = `/frameworks/${fid}/executors/${eid}/runs/latest`;
    return `<li data-id="${esc(eid)}">${esc(eid)} on <a href="#/agents/${enc(aid)}">${esc(agentName(aid))}</a>: <span class="sandbox">${sandboxLinks(state.agents.get(aid), path, () => `<a class="sandbox-link" href="#/agents/${enc(aid)}/browse?path=${enc(path)}">sandbox</a>`)}</span></li>`;
  }).join("")}</ul>${execs.length > shown.length ? `<p class="muted small">${shown.length} of ${execs.length} shown</p>` : ""}`;
}

// showAccessError explains, on a sandbox page, why the agent refused.
function showAccessError(e, path) {
  const el = document.getElementById("no-access");
  if (!el) return;
  const status = e instanceof HTTPError ? e.status : 0;
  let html;
  if (status === 403) html = `No access: the agent does not let ${esc(whoText())} read <code>${esc(path)}</code> (access_sandboxes). <span class="muted small">${esc(e.text)}</span> · <a href="#" data-signin>sign in as someone else</a>`;
  else if (status === 401) html = `${esc(e.text)} · <a href="#" data-signin>sign in</a>`;
  else if (status === 404) html = `<code>${esc(path)}</code> is not on the agent (gone or garbage collected).`;
  else html = `Cannot read <code>${esc(path)}</code>: ${esc(e.message)}`;
  el.innerHTML = html;
  el.hidden = false;
}

// A download with credentials goes through fetch (a link cannot carry
// the Authorization header); without them the plain link does it.
main.addEventListener("click", (e) => {
  const link = e.target.closest("a[data-download]");
  if (!link || !hasCredentials()) return;
  e.preventDefault();
  const a = state.agents.get(link.dataset.agent);
  if (!a) return;
  download(agentBase(a), link.dataset.download, link.dataset.download.split("/").pop())
    .catch((err) => showAccessError(err, link.dataset.download));
});

// ---- offers ----------------------------------------------------------------

// The operator stream carries no offer events (Mesos' has none either:
// offers change with every allocation), so pages showing outstanding
// offers ask GET_FRAMEWORKS when they open and every OFFERS_EVERY ms while
// they stay open.
const OFFERS_EVERY = 5000;
const offersSeen = { at: 0, by: new Map(), error: "" }; // framework id -> offers

async function pollOffers(signal, onUpdate = refresh) {
  while (!signal.aborted) {
    try {
      const r = await call("GET_FRAMEWORKS");
      if (signal.aborted) return;
      offersSeen.by = new Map(((r.get_frameworks || {}).frameworks || []).map((f) => [val(f.framework_info.id), f.offers || []]));
      offersSeen.at = Date.now();
      offersSeen.error = "";
    } catch (e) {
      offersSeen.error = e.message;
    }
    onUpdate();
    await sleep(OFFERS_EVERY, signal);
  }
}

const offersNote = () => `<p class="muted small" id="offers-note">Offers change without operator events: asked every ${OFFERS_EVERY / 1000} s while this page is open${offersSeen.at ? `, last at ${esc(new Date(offersSeen.at).toLocaleTimeString())}` : ""}${offersSeen.error ? ` (failed: ${esc(offersSeen.error)})` : ""}.</p>`;

const sleep = (ms, signal) => new Promise((res) => {
  const t = setTimeout(res, ms);
  signal.addEventListener("abort", () => { clearTimeout(t); res(); }, { once: true });
});

// ---- routing and rendering -------------------------------------------------

let current = null; // {view, abort}

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = hash.split("?");
  const q = new URLSearchParams(qs || "");
  const p = path.split("/").filter(Boolean).map(decodeURIComponent);
  const nav = p[0] || "overview";
  if (p.length === 0) return ["overview", views.overview()];
  if (p[0] === "frameworks" && p[1]) return [nav, views.framework(p[1])];
  if (p[0] === "agents" && p[1] && p[2] === "browse") return [nav, views.browse(p[1], q)];
  if (p[0] === "agents" && p[1] && p[2] === "file") return [nav, views.file(p[1], q)];
  if (p[0] === "agents" && p[1]) return [nav, views.agent(p[1])];
  if (p[0] === "tasks" && p[2]) return [nav, views.task(p[1], p[2])];
  const v = views[p[0]];
  if (v && v.length === 0 && !["framework", "agent", "task", "browse", "file"].includes(p[0])) return [nav, v()];
  return [nav, { title: "Not found", body: () => `<p>No page at <code>${esc(hash)}</code>. <a href="#/">Overview</a></p>` }];
}

function show() {
  if (current) current.abort.abort();
  const [nav, view] = route();
  const abort = new AbortController();
  current = { view, abort, nav, hash: location.hash };
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("current", a.dataset.nav === nav);
  document.title = `${view.title} · meso`;
  main.innerHTML = `<h2>${esc(view.title)}</h2>${view.filter ? filterBox(...view.filter) : ""}<div id="view"></div>`;
  main.dataset.page = nav;
  document.getElementById("view").innerHTML = view.body();
  startLoad();
}

// startLoad runs the current view's one-off loading (sandbox reads, flags,
// roles), once per visit; views about an agent wait for the first
// SUBSCRIBED, so a deep link opened cold finds its agent.
function startLoad() {
  const c = current;
  if (!c.view.load || c.loading || (c.view.needsState && !state.subscribed)) return;
  c.loading = true;
  c.view.load(c.abort.signal).catch((e) => console.error(e));
}

// refresh re-renders the current view from the books; live views (those
// built from the stream) are rebuilt, so a detail page follows its object.
// Renders are at least MIN_RENDER ms apart, so a burst of events costs a
// few renders, not one per event.
// A keystroke in a filter box or a page button renders on the next frame
// (renderNow): the user waits for it.
const MIN_RENDER = 250;
let pending = false;
let lastRender = 0;
function refresh() {
  if (pending) return;
  pending = true;
  const wait = Math.max(0, lastRender + MIN_RENDER - performance.now());
  setTimeout(() => requestAnimationFrame(render), wait);
}

let frame = 0;
function renderNow() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
}

// stats are the page's own costs, read by the load test (TestWebUILoad)
// and by anyone curious, from the console: mesoStats.
const stats = { events: 0, applyMs: 0, renders: 0, renderMs: 0, maxRenderMs: 0, snapshotMs: 0, snapshotBytes: 0, snapshotParseMs: 0, snapshotApplyMs: 0,
  subscribeAt: 0, firstLiveRenderAt: 0 }; // the last two: ms since the page's navigation
window.mesoStats = stats;

function render() {
  pending = false;
  const t0 = performance.now();
  lastRender = t0;
  if (!current) return;
  if (current.view.live !== false) {
    const [, view] = route();
    current.view = view;
    const el = document.getElementById("view");
    if (el) el.innerHTML = view.body();
  }
  startLoad();
  const ms = performance.now() - t0;
  if (state.subscribed && !stats.firstLiveRenderAt) stats.firstLiveRenderAt = performance.now();
  stats.renders++;
  stats.renderMs += ms;
  stats.maxRenderMs = Math.max(stats.maxRenderMs, ms);
}

main.addEventListener("input", (e) => {
  const name = e.target.dataset && e.target.dataset.list;
  if (!name || !e.target.classList.contains("filter")) return;
  lists[name] = { filter: e.target.value, page: 0 };
  renderNow();
});
main.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-page]");
  if (b) { lists[b.dataset.list].page = Number(b.dataset.page); renderNow(); return; }
  if (e.target.closest("a[data-reload]")) { e.preventDefault(); show(); }
});
window.addEventListener("hashchange", show);

// ---- the stream ------------------------------------------------------------

const status = document.getElementById("conn");
function setConn(text, ok) {
  status.textContent = text;
  status.className = ok ? "ok" : "bad";
}

async function run() {
  let delay = 500;
  for (;;) {
    const abort = new AbortController();
    streamAbort = abort;
    try {
      setConn("connecting", false);
      const asked = performance.now();
      if (!stats.subscribeAt) stats.subscribeAt = asked;
      await subscribe((ev, rec) => {
        const t0 = performance.now();
        state = apply(state, ev, Date.now());
        stats.events++;
        stats.applyMs += performance.now() - t0;
        if (ev.type === "SUBSCRIBED") {
          Object.assign(stats, { snapshotMs: t0 - asked, snapshotBytes: rec.bytes, snapshotParseMs: rec.parseMs, snapshotApplyMs: performance.now() - t0 });
        }
        if (ev.type === "SUBSCRIBED") { setConn("live", true); delay = 500; }
        if (ev.type === "SUBSCRIBED") renderNow(); // the first view of the cluster: at once
        else if (ev.type !== "HEARTBEAT" || current?.nav === "overview") refresh();
      }, abort.signal);
      setConn("stream ended; reconnecting", false);
    } catch (e) {
      setConn(`disconnected: ${e.message}`, false);
    }
    state.subscribed = false;
    refresh();
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

async function loadMaster() {
  try {
    const [m, v] = await Promise.all([call("GET_MASTER"), call("GET_VERSION")]);
    const mi = (m.get_master || {});
    master.info = mi.master_info || null;
    master.startTime = mi.start_time || 0;
    master.version = ((v.get_version || {}).version_info || {}).version || "";
    document.getElementById("master-name").textContent = master.info ? `${master.info.hostname}:${master.info.port}` : "";
    refresh();
  } catch (e) {
    master.error = e.message;
  }
}

// ---- credentials -------------------------------------------------------------

// The form asks for a principal and secret when the master or an agent
// answers 401, or when the user signs in from the header. The same
// credentials go to the master and to the agents it lists (api.js).
const dialog = document.getElementById("login");
const form = dialog.querySelector("form");
let waiting = null;
function prompt(why) {
  if (!waiting) {
    waiting = new Promise((resolve) => {
      let signedIn = false;
      document.getElementById("login-why").textContent = why;
      form.onsubmit = (e) => {
        e.preventDefault();
        setCredentials(form.principal.value, form.secret.value);
        form.secret.value = "";
        signedIn = true;
        credentialsChanged();
        dialog.close();
      };
      document.getElementById("login-cancel").onclick = () => dialog.close();
      dialog.onclose = () => { waiting = null; resolve(signedIn); };
      dialog.showModal();
    });
  }
  return waiting;
}
setCredentialPrompt(prompt);

// credentialsChanged forgets what was asked as someone else.
function credentialsChanged() {
  access.clear();
  flagCache.clear();
  document.getElementById("who").textContent = currentPrincipal() ? `signed in as ${currentPrincipal()}` : "";
  document.getElementById("signin").textContent = currentPrincipal() ? "switch" : "sign in";
  refresh();
}

let streamAbort = null;
document.addEventListener("click", async (e) => {
  if (!e.target.closest("a[data-signin]")) return;
  e.preventDefault();
  if (!(await prompt("Sign in"))) return;
  // What the stream shows depends on who asks (view_* ACLs): subscribe
  // again as the new principal; and start the open page over.
  if (streamAbort) streamAbort.abort();
  show();
});

// Only the cluster's agents get the credentials across origins.
setAgentOrigins((origin) => {
  for (const a of state.agents.values()) if (a.agent_info && !a.removed && agentBase(a) === origin) return true;
  return false;
});

credentialsChanged();
setInterval(() => { sample(state, Date.now()); if (current?.nav === "overview") refresh(); }, 5000);
show();
loadMaster();
run();
