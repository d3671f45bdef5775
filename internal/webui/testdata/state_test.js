// Unit tests of the live view's books (static/js/state.js) and the RecordIO
// reader: run by webui_test.go in headless Chromium (testdata/test.html)
// and with node when it is installed (testdata/run_node.js).

import { apply, emptyState, sample, totals, agentState, SERIES_STEP, SERIES_POINTS } from "../static/js/state.js";
import { RecordReader } from "../static/js/recordio.js";

function eq(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

const fw = (id, name) => ({ framework_info: { id: { value: id }, name, user: "u", role: "*" }, active: true, connected: true });
const agent = (id, cpus, used = 0) => ({
  agent_info: { id: { value: id }, hostname: "h-" + id, port: 5051 }, active: true,
  total_resources: [{ name: "cpus", type: "SCALAR", scalar: { value: cpus } }, { name: "mem", type: "SCALAR", scalar: { value: 1024 } }],
  allocated_resources: used ? [{ name: "cpus", type: "SCALAR", scalar: { value: used } }] : [],
});
const task = (fid, tid, aid, state) => ({ framework_id: { value: fid }, task_id: { value: tid }, agent_id: { value: aid }, name: tid, state });
const update = (fid, tid, state, ts, extra = {}) => ({
  type: "TASK_UPDATED",
  task_updated: { framework_id: { value: fid }, state, status: { task_id: { value: tid }, state, timestamp: ts, uuid: `${tid}-${state}-${ts}`, ...extra } },
});
const subscribedEvent = () => ({
  type: "SUBSCRIBED",
  subscribed: {
    heartbeat_interval_seconds: 15,
    get_state: {
      get_agents: { agents: [agent("a1", 4, 1)], recovered_agents: [{ id: { value: "a0" }, hostname: "old" }] },
      get_frameworks: { frameworks: [fw("f1", "one")], completed_frameworks: [fw("f0", "zero")] },
      get_tasks: {
        tasks: [{ ...task("f1", "t1", "a1", "TASK_RUNNING"), statuses: [{ state: "TASK_RUNNING", timestamp: 5, uuid: "u1" }] }],
        completed_tasks: [task("f0", "t0", "a1", "TASK_FINISHED")],
      },
      get_executors: {},
    },
  },
});

export const tests = [
  ["SUBSCRIBED replaces the books with the snapshot", () => {
    let s = emptyState();
    s = apply(s, { type: "TASK_ADDED", task_added: { task: task("fx", "stale", "ax", "TASK_STAGING") } }, 1);
    s = apply(s, subscribedEvent(), 1000);
    eq([...s.tasks.keys()].sort(), ["f0/t0", "f1/t1"], "tasks");
    eq(s.counts, { TASK_RUNNING: 1, TASK_FINISHED: 1 }, "counts");
    eq(s.frameworks.get("f0").completed, true, "completed framework");
    eq(s.frameworks.get("f1").completed, false, "active framework");
    eq(agentState(s.agents.get("a1")), "active", "agent a1");
    eq(agentState(s.agents.get("a0")), "recovering", "recovered agent");
    eq(s.subscribed, true, "subscribed");
    eq(s.heartbeatInterval, 15000, "heartbeat interval");
  }],
  ["TASK_ADDED then TASK_UPDATED keep the history, counts and state", () => {
    let s = apply(emptyState(), subscribedEvent(), 0);
    s = apply(s, { type: "TASK_ADDED", task_added: { task: task("f1", "t2", "a1", "TASK_STAGING") } }, 1);
    eq(s.counts.TASK_STAGING, 1, "staging after add");
    s = apply(s, update("f1", "t2", "TASK_STARTING", 10), 2);
    s = apply(s, update("f1", "t2", "TASK_RUNNING", 11), 3);
    s = apply(s, update("f1", "t2", "TASK_RUNNING", 11), 4); // a retried update: once in the history
    s = apply(s, update("f1", "t2", "TASK_KILLED", 12, { reason: "REASON_TASK_KILLED_DURING_LAUNCH", message: "bye" }), 5);
    const t = s.tasks.get("f1/t2");
    eq(t.state, "TASK_KILLED", "state");
    eq(t.statuses.map((x) => x.state), ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"], "history");
    eq(t.statuses[2].reason, "REASON_TASK_KILLED_DURING_LAUNCH", "reason kept");
    eq(s.counts, { TASK_RUNNING: 1, TASK_FINISHED: 1, TASK_KILLED: 1 }, "counts");
    eq(t.name, "t2", "name from TASK_ADDED");
  }],
  ["a snapshot's status history is kept in time order without duplicates", () => {
    const ev = subscribedEvent();
    ev.subscribed.get_state.get_tasks.tasks.push({ ...task("f1", "t5", "a1", "TASK_RUNNING"), statuses: [
      { state: "TASK_RUNNING", timestamp: 7, uuid: "r" }, { state: "TASK_STARTING", timestamp: 6, uuid: "s" }] });
    ev.subscribed.get_state.get_tasks.tasks.push({ ...task("f1", "t6", "a1", "TASK_RUNNING"), statuses: [
      { state: "TASK_RUNNING", timestamp: 7, uuid: "r" }, { state: "TASK_RUNNING", timestamp: 7, uuid: "r" }] });
    const s = apply(emptyState(), ev, 0);
    eq(s.tasks.get("f1/t5").statuses.map((x) => x.state), ["TASK_STARTING", "TASK_RUNNING"], "sorted");
    eq(s.tasks.get("f1/t6").statuses.length, 1, "deduplicated");
  }],
  ["TASK_UPDATED for a task never added makes a minimal entry", () => {
    let s = apply(emptyState(), update("f9", "t9", "TASK_LOST", 3), 0);
    eq(s.tasks.get("f9/t9").state, "TASK_LOST", "state");
    eq(s.counts, { TASK_LOST: 1 }, "counts");
  }],
  ["agents come and go, and a removed one stays marked", () => {
    let s = apply(emptyState(), subscribedEvent(), 0);
    s = apply(s, { type: "AGENT_ADDED", agent_added: { agent: agent("a2", 2) } }, 10);
    eq(totals(s).total.cpus, 6, "cpus total with a2");
    eq(totals(s).used.cpus, 1, "cpus used");
    s = apply(s, { type: "AGENT_REMOVED", agent_removed: { agent_id: { value: "a2" } } }, 20);
    eq(agentState(s.agents.get("a2")), "removed", "a2 state");
    eq(s.agents.get("a2").removedAt, 20, "removed at");
    eq(totals(s).total.cpus, 4, "a removed agent's resources are not counted");
    s = apply(s, { type: "AGENT_ADDED", agent_added: { agent: agent("a2", 2) } }, 30);
    eq(agentState(s.agents.get("a2")), "active", "a2 back");
  }],
  ["frameworks are added, updated and removed", () => {
    let s = apply(emptyState(), subscribedEvent(), 0);
    s = apply(s, { type: "FRAMEWORK_ADDED", framework_added: { framework: fw("f2", "two") } }, 1);
    const upd = { ...fw("f2", "two-renamed"), active: false, connected: false };
    s = apply(s, { type: "FRAMEWORK_UPDATED", framework_updated: { framework: upd } }, 2);
    eq(s.frameworks.get("f2").framework_info.name, "two-renamed", "updated name");
    eq(s.frameworks.get("f2").active, false, "inactive");
    s = apply(s, { type: "FRAMEWORK_REMOVED", framework_removed: { framework_info: fw("f2", "two-renamed").framework_info } }, 3);
    eq(s.frameworks.get("f2").completed, true, "completed");
  }],
  ["HEARTBEAT and unknown events", () => {
    let s = apply(emptyState(), subscribedEvent(), 0);
    const v = s.version;
    s = apply(s, { type: "HEARTBEAT" }, 15000);
    eq(s.heartbeatAt, 15000, "heartbeat time");
    s = apply(s, { type: "SOMETHING_NEW" }, 16000);
    eq(s.version, v + 1, "an unknown event changes nothing");
  }],
  ["the running-tasks series has one point per step and a bounded length", () => {
    let s = apply(emptyState(), subscribedEvent(), 0);
    s = apply(s, { type: "TASK_ADDED", task_added: { task: task("f1", "t3", "a1", "TASK_RUNNING") } }, SERIES_STEP / 2);
    eq(s.series, [{ t: 0, running: 2 }], "updated within the step");
    for (let i = 1; i <= SERIES_POINTS + 5; i++) sample(s, i * SERIES_STEP);
    eq(s.series.length, SERIES_POINTS, "bounded");
    eq(s.series[s.series.length - 1].t, (SERIES_POINTS + 5) * SERIES_STEP, "newest last");
    s = apply(s, subscribedEvent(), (SERIES_POINTS + 6) * SERIES_STEP);
    eq(s.series.length, SERIES_POINTS, "a resubscription keeps the chart");
  }],
  ["20,000 tasks apply quickly enough to stay live", () => {
    let s = apply(emptyState(), subscribedEvent(), 0);
    for (let i = 0; i < 20000; i++) {
      s = apply(s, { type: "TASK_ADDED", task_added: { task: task("f1", "x" + i, "a1", "TASK_STAGING") } }, i);
      s = apply(s, update("f1", "x" + i, "TASK_RUNNING", i), i);
    }
    eq(s.counts.TASK_RUNNING, 20001, "running");
    eq(s.counts.TASK_STAGING, undefined, "no staging left");
  }],
  ["RecordIO records split across chunks", () => {
    const enc = new TextEncoder(), dec = new TextDecoder();
    const r = new RecordReader(100);
    const all = enc.encode('5\nhello3\nabc0\n10\n{"a":"é"}');
    const got = [];
    for (let i = 0; i < all.length; i += 3) for (const rec of r.push(all.subarray(i, i + 3))) got.push(dec.decode(rec));
    eq(got, ["hello", "abc", "", '{"a":"é"}'], "records");
    let threw = false;
    try { new RecordReader(10).push(enc.encode("11\n")); } catch { threw = true; }
    eq(threw, true, "a record over the bound is refused");
    threw = false;
    try { new RecordReader(10).push(enc.encode("x1\n")); } catch { threw = true; }
    eq(threw, true, "a bad length is refused");
    threw = false;
    try { new RecordReader().push(enc.encode("1".repeat(30))); } catch { threw = true; }
    eq(threw, true, "a header without its newline is refused");
  }],
  ["RecordIO: a big record over many small chunks, then small ones in one chunk", () => {
    const enc = new TextEncoder();
    const big = new Uint8Array(3 << 20).map((_, i) => 65 + (i % 26));
    const all = new Uint8Array([...enc.encode(`${big.length}\n`), ...big, ...enc.encode("1\nx2\nyz")]);
    const r = new RecordReader();
    const got = [];
    for (let i = 0; i < all.length; i += 1000) for (const rec of r.push(all.subarray(i, i + 1000))) got.push(rec);
    eq(got.map((x) => x.length), [big.length, 1, 2], "record lengths");
    eq(got[0].every((b, i) => b === big[i]), true, "the big record's bytes");
    eq(new TextDecoder().decode(got[2]), "yz", "the last record");
  }],
];

// run runs every test and returns [{name, error}] (error "" when it passed).
export function run() {
  return tests.map(([name, fn]) => {
    try { fn(); return { name, error: "" }; } catch (e) { return { name, error: String(e && e.stack || e) }; }
  });
}
