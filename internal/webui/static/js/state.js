// The live view's books: a pure function from (state, operator event, now)
// to the next state. No I/O, no clock: `now` (milliseconds) is an input, so
// the same events always give the same books. For speed with tens of
// thousands of tasks the state's maps are updated in place and the same
// object is returned with `version` bumped; callers treat it as the new
// state.

export const TERMINAL = new Set([
  "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
  "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR",
]);

// SERIES_STEP is the spacing of the running-tasks chart's points, and
// SERIES_POINTS how many are kept (10 minutes).
export const SERIES_STEP = 10_000;
export const SERIES_POINTS = 60;

export function emptyState() {
  return {
    version: 0,
    subscribed: false,
    subscribedAt: 0,
    heartbeatAt: 0,
    heartbeatInterval: 0,
    agents: new Map(),      // id -> {id, info, active, removed, removedAt, ...}
    frameworks: new Map(),  // id -> {id, info, active, connected, completed, ...}
    tasks: new Map(),       // frameworkId/taskId -> task (Mesos v1 Task JSON + statuses)
    executors: new Map(),   // agentId/frameworkId/executorId -> executor info
    counts: {},             // task state -> number of tasks in it
    series: [],             // [{t, running}] every SERIES_STEP ms
  };
}

export const taskKey = (frameworkId, taskId) => `${frameworkId}/${taskId}`;

const id = (o) => (o && o.value) || "";

function setTask(s, task) {
  const key = taskKey(id(task.framework_id), id(task.task_id));
  const old = s.tasks.get(key);
  if (old) count(s, old.state, -1);
  task.statuses = mergeStatuses(old ? old.statuses : [], task.statuses || []);
  s.tasks.set(key, task);
  count(s, task.state, +1);
  return task;
}

function count(s, state, d) {
  if (!state) return;
  const n = (s.counts[state] || 0) + d;
  if (n > 0) s.counts[state] = n; else delete s.counts[state];
}

// mergeStatuses keeps one entry per status uuid (or per state and
// timestamp when a status has none), oldest first.
function mergeStatuses(a, b) {
  if (b.length === 0) return a;
  if (a.length === 0 && unique(b)) return ordered(b) ? b : b.slice().sort(byTime); // a snapshot's task
  const seen = new Set(a.map(statusKey));
  const out = a.slice();
  for (const st of b) {
    const k = statusKey(st);
    if (!seen.has(k)) { seen.add(k); out.push(st); }
  }
  out.sort(byTime);
  return out;
}

const byTime = (x, y) => (x.timestamp || 0) - (y.timestamp || 0);

function ordered(list) {
  for (let i = 1; i < list.length; i++) if (byTime(list[i - 1], list[i]) > 0) return false;
  return true;
}

function unique(list) {
  if (list.length < 2) return true;
  const seen = new Set();
  for (const st of list) {
    const k = statusKey(st);
    if (seen.has(k)) return false;
    seen.add(k);
  }
  return true;
}

const statusKey = (st) => st.uuid || `${st.state}@${st.timestamp}`;

function setAgent(s, a, now) {
  const aid = id(a.agent_info && a.agent_info.id);
  if (!aid) return;
  s.agents.set(aid, { ...a, id: aid, removed: false, addedAt: now });
}

function setFramework(s, f, completed) {
  const info = f.framework_info || {};
  const fid = id(info.id);
  if (!fid) return;
  const old = s.frameworks.get(fid);
  s.frameworks.set(fid, { ...(old || {}), ...f, id: fid, completed: !!completed });
}

function setExecutor(s, e) {
  const info = e.executor_info || {};
  const key = `${id(e.agent_id)}/${id(info.framework_id)}/${id(info.executor_id)}`;
  s.executors.set(key, e);
}

function subscribed(s, sub, now) {
  const fresh = emptyState();
  fresh.series = s.series; // the chart survives a reconnection
  fresh.subscribed = true;
  fresh.subscribedAt = now;
  fresh.heartbeatAt = now;
  fresh.heartbeatInterval = (sub.heartbeat_interval_seconds || 0) * 1000;
  const st = sub.get_state || {};
  const ag = st.get_agents || {};
  for (const a of ag.agents || []) setAgent(fresh, a, now);
  for (const info of ag.recovered_agents || []) {
    setAgent(fresh, { agent_info: info, active: false, recovered: true }, now);
  }
  const fw = st.get_frameworks || {};
  for (const f of fw.frameworks || []) setFramework(fresh, f, false);
  for (const f of fw.completed_frameworks || []) setFramework(fresh, f, true);
  const ts = st.get_tasks || {};
  for (const list of ["tasks", "pending_tasks", "completed_tasks", "unreachable_tasks", "orphan_tasks"]) {
    for (const t of ts[list] || []) setTask(fresh, { ...t });
  }
  const ex = st.get_executors || {};
  for (const e of ex.executors || []) setExecutor(fresh, e);
  for (const e of ex.orphan_executors || []) setExecutor(fresh, e);
  fresh.version = s.version + 1;
  return fresh;
}

function taskUpdated(s, u) {
  const status = u.status || {};
  const fid = id(u.framework_id);
  const tid = id(status.task_id);
  const key = taskKey(fid, tid);
  const old = s.tasks.get(key);
  const task = old
    ? { ...old }
    : { framework_id: u.framework_id, task_id: status.task_id, agent_id: status.agent_id, name: tid, statuses: [] };
  task.state = u.state || status.state || task.state;
  task.status_update_state = status.state;
  if (status.uuid) task.status_update_uuid = status.uuid;
  task.statuses = mergeStatuses(task.statuses || [], [status]);
  setTask(s, task);
}

// apply returns the state after one operator event.
export function apply(s, ev, now) {
  switch (ev.type) {
    case "SUBSCRIBED":
      s = subscribed(s, ev.subscribed || {}, now);
      break;
    case "TASK_ADDED":
      setTask(s, { ...(ev.task_added || {}).task });
      break;
    case "TASK_UPDATED":
      taskUpdated(s, ev.task_updated || {});
      break;
    case "AGENT_ADDED":
      setAgent(s, (ev.agent_added || {}).agent || {}, now);
      break;
    case "AGENT_REMOVED": {
      const aid = id((ev.agent_removed || {}).agent_id);
      const a = s.agents.get(aid);
      // Kept, marked: operators want to see which agent went away.
      s.agents.set(aid, { ...(a || { id: aid, agent_info: { id: { value: aid } } }), active: false, removed: true, removedAt: now });
      break;
    }
    case "FRAMEWORK_ADDED":
    case "FRAMEWORK_UPDATED": {
      const f = (ev.framework_added || ev.framework_updated || {}).framework || {};
      setFramework(s, f, false);
      break;
    }
    case "FRAMEWORK_REMOVED": {
      const info = (ev.framework_removed || {}).framework_info || {};
      const fid = id(info.id);
      const old = s.frameworks.get(fid) || {};
      s.frameworks.set(fid, { ...old, framework_info: info, id: fid, active: false, connected: false, completed: true });
      break;
    }
    case "HEARTBEAT":
      s.heartbeatAt = now;
      break;
    default:
      return s; // an event this page does not know changes nothing
  }
  sample(s, now);
  s.version++;
  return s;
}

// sample records the number of running tasks for the chart: one point per
// SERIES_STEP, the newest point updated in place within its step.
export function sample(s, now) {
  const running = s.counts.TASK_RUNNING || 0;
  const t = Math.floor(now / SERIES_STEP) * SERIES_STEP;
  const last = s.series[s.series.length - 1];
  if (last && last.t === t) {
    last.running = running;
    return s;
  }
  s.series.push({ t, running });
  if (s.series.length > SERIES_POINTS) s.series.splice(0, s.series.length - SERIES_POINTS);
  return s;
}

// scalar sums the scalar resources of a list by name: {cpus: 2, mem: 512}.
export function scalars(resources) {
  const out = {};
  for (const r of resources || []) {
    if (r.type === "SCALAR" && r.scalar) out[r.name] = (out[r.name] || 0) + r.scalar.value;
    if (r.type === "RANGES" && r.ranges) {
      let n = 0;
      for (const g of r.ranges.range || []) n += g.end - g.begin + 1;
      out[r.name] = (out[r.name] || 0) + n;
    }
  }
  return out;
}

// totals adds up the agents' resources that are still with the cluster:
// {total, used, offered} per resource name.
export function totals(s) {
  const t = { total: {}, used: {}, offered: {} };
  for (const a of s.agents.values()) {
    if (a.removed) continue;
    for (const [k, list] of [["total", a.total_resources], ["used", a.allocated_resources], ["offered", a.offered_resources]]) {
      for (const [name, v] of Object.entries(scalars(list))) t[k][name] = (t[k][name] || 0) + v;
    }
  }
  return t;
}

// agentState names an agent's condition as the agents page shows it.
export function agentState(a) {
  if (a.removed) return "removed";
  if (a.drain_info && a.drain_info.state) return a.drain_info.state.toLowerCase();
  if (a.deactivated) return "deactivated";
  if (a.recovered) return "recovering";
  return a.active ? "active" : "unreachable";
}
