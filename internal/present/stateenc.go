package present

import (
	"io"
	"sync"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// StateEncoder writes the master's /state document and its cuts as JSON
// straight from the operator state, without building MasterState and
// without reflection: the same bytes as encoding/json's encoding of
// MasterStateJSON (TestStateEncoderEqualsJSON), written to the response
// as they are produced, in pieces of about flushSize bytes.
//
// It keeps each task's JSON, keyed by its record (the *mesospb.Task) and
// the role it falls back to, so a task that did not change since an
// earlier document is copied, not rendered again. That is only right
// because the master's task records are immutable once a state query took
// them (core's versioned records: a changed task is a new record); the
// caller must not hand it records it or anyone modifies afterwards.
// Renderings not used for a while are dropped (two generations, about
// 1.25 times the largest document's renderings in all: renderCache.done).
// Filtering (the view ACLs) happens before: a document holds
// only the tasks it is given, whatever the cache holds.
//
// Agents' entries are kept the same way, by their message: the master's
// core hands out the same entry for an agent that did not change. An
// agent whose holdings alone changed gets a new entry sharing the old
// one's other messages (info, total resources, times, drain): the JSON
// around its holdings is kept by those (agentStatic), so only the used
// and offered resources are written again. The same rule holds for them:
// nobody modifies them once handed over.
//
// A StateEncoder is safe for concurrent use; the zero value is ready.
type StateEncoder struct {
	mu     sync.Mutex
	tasks  renderCache[*mesospb.Task]                      // guarded by mu
	agents renderCache[*masterpb.Response_GetAgents_Agent] // guarded by mu
	// statics keeps agents' heads and tails (appendAgentHead and
	// appendAgentTail), for an agent whose holdings alone changed.
	statics renderCache[agentStatic] // guarded by mu
}

// renderCache keeps renderings in two generations: found in the older,
// one moves to the newer (done says when each is dropped).
type renderCache[K comparable] struct {
	cur, old map[K]rendering
	largest  int // the most renderings one document used
}

// rendering is a value's JSON, and the fallback role it was rendered with
// (tasks), or where the holdings go in it (agents' statics: head, then
// tail).
type rendering struct {
	fallback string
	split    int
	js       []byte
}

func (c *renderCache[K]) get(k K, fallback string) ([]byte, bool) {
	r, ok := c.getRendering(k)
	if !ok || r.fallback != fallback {
		return nil, false
	}
	return r.js, true
}

func (c *renderCache[K]) getRendering(k K) (rendering, bool) {
	r, ok := c.cur[k]
	if !ok {
		if r, ok = c.old[k]; ok {
			delete(c.old, k)
			c.put(k, r)
		}
	}
	return r, ok
}

func (c *renderCache[K]) put(k K, r rendering) {
	if c.cur == nil {
		c.cur = map[K]rendering{}
	}
	c.cur[k] = r
}

// done ends a document that used n renderings. The older generation is
// dropped after the first document that used most of the largest one's
// renderings since it became the older: what that document did not take from
// it, no whole document used since. The newer becomes the older once it
// holds a quarter more than the largest document used (at least
// minGeneration): with the renderings a document takes from the older moved
// to the newer, the cache holds about 1.25 times the largest document's
// (the two generations each up to twice that before).
func (c *renderCache[K]) done(n int) {
	c.largest = max(c.largest, n)
	if c.old != nil && 2*n >= c.largest {
		c.old = nil
	}
	if len(c.cur) > max(c.largest+c.largest/4, minGeneration) {
		c.old, c.cur = c.cur, make(map[K]rendering, c.largest)
	}
}

// minGeneration is the fewest renderings the newer generation holds
// before the older one may be dropped.
const minGeneration = 4096

// flushSize is how much a document buffers before writing to its writer.
const flushSize = 64 << 10

// task appends the JSON of t (TaskJSON(t, fallback)), from the cache when
// it has it.
func (e *StateEncoder) task(b []byte, t *mesospb.Task, fallback string, rs *resScratch) []byte {
	e.mu.Lock()
	js, ok := e.tasks.get(t, fallback)
	e.mu.Unlock()
	if ok {
		return append(b, js...)
	}
	start := len(b)
	b = appendTask(b, t, fallback, rs)
	r := rendering{fallback: fallback, js: append([]byte(nil), b[start:]...)}
	e.mu.Lock()
	e.tasks.put(t, r)
	e.mu.Unlock()
	return b
}

// agent appends the JSON of an agent's entry, from the cache when it has
// it.
func (e *StateEncoder) agent(b []byte, ag *masterpb.Response_GetAgents_Agent, rs *resScratch) []byte {
	e.mu.Lock()
	js, ok := e.agents.get(ag, "")
	e.mu.Unlock()
	if ok {
		return append(b, js...)
	}
	start := len(b)
	k := staticOf(ag)
	e.mu.Lock()
	st, ok := e.statics.getRendering(k)
	e.mu.Unlock()
	if ok {
		b = append(b, st.js[:st.split]...)
		b = rs.appendAgentHoldings(b, ag)
		b = append(b, st.js[st.split:]...)
	} else {
		b = rs.appendAgentHead(b, ag)
		head := len(b)
		b = rs.appendAgentHoldings(b, ag)
		tail := len(b)
		b = rs.appendAgentTail(b, ag)
		st = rendering{split: head - start, js: make([]byte, 0, head-start+len(b)-tail)}
		st.js = append(append(st.js, b[start:head]...), b[tail:]...)
		e.mu.Lock()
		e.statics.put(k, st)
		e.mu.Unlock()
	}
	r := rendering{js: append([]byte(nil), b[start:]...)}
	e.mu.Lock()
	e.agents.put(ag, r)
	e.mu.Unlock()
	return b
}

// done ends a document that wrote tasks and agents.
func (e *StateEncoder) done(tasks, agents int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tasks.done(tasks)
	e.agents.done(agents)
	e.statics.done(agents)
}

// Cached is how many task and agent renderings the encoder holds.
func (e *StateEncoder) Cached() (tasks, agents int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.tasks.cur) + len(e.tasks.old), len(e.agents.cur) + len(e.agents.old)
}

// doc is one document being written.
type doc struct {
	e               *StateEncoder
	w               io.Writer
	b               []byte
	err             error
	rs              resScratch
	nTasks, nAgents int                        // written
	byFW            map[string]*frameworkParts // grouped once per document
}

func (e *StateEncoder) newDoc(w io.Writer) *doc {
	return &doc{e: e, w: w, b: make([]byte, 0, flushSize+flushSize/4)}
}

// flush writes what is buffered once it is flushSize or more (or at the
// end).
func (d *doc) flush(end bool) {
	if d.err != nil {
		d.b = d.b[:0]
		return
	}
	if len(d.b) >= flushSize || (end && len(d.b) > 0) {
		_, d.err = d.w.Write(d.b)
		d.b = d.b[:0]
	}
}

func (d *doc) finish() error {
	d.b = append(d.b, '\n') // as json.Encoder.Encode
	d.flush(true)
	d.e.done(d.nTasks, d.nAgents)
	return d.err
}

func (d *doc) task(t *mesospb.Task, fallback string) {
	d.b = d.e.task(d.b, t, fallback, &d.rs)
	d.nTasks++
	d.flush(false)
}

// taskList writes a list of tasks.
func (d *doc) taskList(list []*mesospb.Task, fallback string) {
	d.b = append(d.b, '[')
	for i, t := range list {
		if i > 0 {
			d.b = append(d.b, ',')
		}
		d.task(t, fallback)
	}
	d.b = append(d.b, ']')
}

// WriteMasterState writes the /state document: head's fields but its
// lists (MasterStateHead; the caller may have changed them, as for a
// master that does not lead), the lists from gs.
func (e *StateEncoder) WriteMasterState(w io.Writer, head *MasterState, gs *masterpb.Response_GetState) error {
	d := e.newDoc(w)
	b := append(d.b, '{')
	b = strField(b, "version", head.Version)
	b = floatField(b, "start_time", head.StartTime)
	b = floatField(b, "elected_time", head.ElectedTime)
	b = strField(b, "id", head.ID)
	b = strField(b, "pid", head.PID)
	b = strField(b, "hostname", head.Hostname)
	b = intField(b, "activated_slaves", int64(head.ActivatedSlaves))
	b = intField(b, "deactivated_slaves", int64(head.DeactivatedSlaves))
	b = intField(b, "unreachable_slaves", int64(head.UnreachableSlaves))
	b = strField(b, "leader", head.Leader)
	b = appendMasterInfo(key(b, "leader_info"), head.LeaderInfo)
	b = appendFlags(key(b, "flags"), head.Flags)
	d.b = key(b, "slaves")
	d.agents(gs)
	d.b = key(d.b, "frameworks")
	d.frameworks(gs, false)
	d.b = key(d.b, "completed_frameworks")
	d.frameworks(gs, true)
	d.b = append(key(d.b, "orphan_tasks"), "[]"...)
	d.b = append(key(d.b, "unregistered_frameworks"), "[]"...)
	d.b = append(d.b, '}')
	return d.finish()
}

// WriteSlaves writes /master/slaves: {"slaves": [...]}.
func (e *StateEncoder) WriteSlaves(w io.Writer, gs *masterpb.Response_GetState) error {
	d := e.newDoc(w)
	d.b = key(append(d.b, '{'), "slaves")
	d.agents(gs)
	d.b = append(d.b, '}')
	return d.finish()
}

// WriteFrameworks writes /master/frameworks: {"completed_frameworks":
// [...], "frameworks": [...]}.
func (e *StateEncoder) WriteFrameworks(w io.Writer, gs *masterpb.Response_GetState) error {
	d := e.newDoc(w)
	d.b = key(append(d.b, '{'), "completed_frameworks")
	d.frameworks(gs, true)
	d.b = key(d.b, "frameworks")
	d.frameworks(gs, false)
	d.b = append(d.b, '}')
	return d.finish()
}

// WriteTasks writes /master/tasks: {"tasks": [...]}, each known
// framework's tasks then its completed ones.
func (e *StateEncoder) WriteTasks(w io.Writer, gs *masterpb.Response_GetState) error {
	d := e.newDoc(w)
	d.b = key(append(d.b, '{'), "tasks")
	d.b = append(d.b, '[')
	byFW := groupByFramework(gs.GetGetTasks(), nil)
	n := 0
	for _, fw := range gs.GetGetFrameworks().GetFrameworks() {
		info := fw.GetFrameworkInfo()
		_, fallback := frameworkRole(info)
		if p := byFW[info.GetId().GetValue()]; p != nil {
			for _, list := range [][]*mesospb.Task{p.tasks, p.completed} {
				for _, t := range list {
					if n > 0 {
						d.b = append(d.b, ',')
					}
					n++
					d.task(t, fallback)
				}
			}
		}
	}
	d.b = append(d.b, ']', '}')
	return d.finish()
}

func appendMasterInfo(b []byte, mi MasterInfo) []byte {
	b = append(b, '{')
	b = strField(b, "id", mi.ID)
	b = strField(b, "pid", mi.PID)
	b = intField(b, "port", int64(mi.Port))
	b = intField(b, "ip", int64(mi.IP))
	b = strField(b, "hostname", mi.Hostname)
	b = strField(b, "version", mi.Version)
	b = append(key(b, "address"), '{')
	if mi.Address.Hostname != "" {
		b = strField(b, "hostname", mi.Address.Hostname)
	}
	if mi.Address.IP != "" {
		b = strField(b, "ip", mi.Address.IP)
	}
	b = intField(b, "port", int64(mi.Address.Port))
	return append(b, '}', '}')
}

func appendFlags(b []byte, flags map[string]string) []byte {
	if flags == nil {
		return append(b, "null"...)
	}
	names := sortedNames(flags)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(appendString(b, name), ':'), flags[name])
	}
	return append(b, '}')
}

// agents writes the "slaves" list.
func (d *doc) agents(gs *masterpb.Response_GetState) {
	d.b = append(d.b, '[')
	for i, ag := range gs.GetGetAgents().GetAgents() {
		if i > 0 {
			d.b = append(d.b, ',')
		}
		d.b = d.e.agent(d.b, ag, &d.rs)
		d.nAgents++
		d.flush(false)
	}
	d.b = append(d.b, ']')
}

func (rs *resScratch) appendAgent(b []byte, ag *masterpb.Response_GetAgents_Agent) []byte {
	b = rs.appendAgentHead(b, ag)
	b = rs.appendAgentHoldings(b, ag)
	return rs.appendAgentTail(b, ag)
}

// An agent's entry in three parts: the head (up to its total resources)
// and the tail (from its reserved resources on) are what agentStatic
// keys, the holdings between them change with every launch and offer.

// agentStatic is what an agent's head and tail are written from: the
// master's core shares these messages between an agent's entries while
// they are the same (its holdings change more often).
type agentStatic struct {
	info                *mesospb.AgentInfo
	total               **mesospb.Resource // the list's backing array, and its length
	nTotal              int
	registered, rereg   *mesospb.TimeInfo
	drain               *mesospb.DrainInfo
	active, deactivated bool
	pid, version        string
}

func staticOf(ag *masterpb.Response_GetAgents_Agent) agentStatic {
	k := agentStatic{
		info: ag.GetAgentInfo(), nTotal: len(ag.GetTotalResources()),
		registered: ag.GetRegisteredTime(), rereg: ag.GetReregisteredTime(), drain: ag.GetDrainInfo(),
		active: ag.GetActive(), deactivated: ag.GetDeactivated(), pid: ag.GetPid(), version: ag.GetVersion(),
	}
	if k.nTotal > 0 {
		k.total = &ag.GetTotalResources()[0]
	}
	return k
}

func (rs *resScratch) appendAgentHead(b []byte, ag *masterpb.Response_GetAgents_Agent) []byte {
	info := ag.GetAgentInfo()
	b = append(b, '{')
	b = strField(b, "id", info.GetId().GetValue())
	b = strField(b, "pid", ag.GetPid())
	b = strField(b, "hostname", info.GetHostname())
	b = intField(b, "port", int64(info.GetPort()))
	b = floatField(b, "registered_time", Seconds(ag.GetRegisteredTime()))
	if s := Seconds(ag.GetReregisteredTime()); s != 0 {
		b = floatField(b, "reregistered_time", s)
	}
	return rs.appendResources(key(b, "resources"), ag.GetTotalResources())
}

func (rs *resScratch) appendAgentHoldings(b []byte, ag *masterpb.Response_GetAgents_Agent) []byte {
	b = rs.appendResources(key(b, "used_resources"), ag.GetAllocatedResources())
	return rs.appendResources(key(b, "offered_resources"), ag.GetOfferedResources())
}

// appendAgentTail writes the entry's fields after the holdings; b ends
// inside the object (never with '{').
func (rs *resScratch) appendAgentTail(b []byte, ag *masterpb.Response_GetAgents_Agent) []byte {
	info := ag.GetAgentInfo()
	total := ag.GetTotalResources()
	b = rs.appendReserved(key(b, "reserved_resources"), total)
	b = rs.appendUnreserved(key(b, "unreserved_resources"), total)
	b = appendAttributes(key(b, "attributes"), info.GetAttributes())
	b = boolField(b, "active", ag.GetActive())
	b = boolField(b, "deactivated", ag.GetDeactivated())
	if di := ag.GetDrainInfo(); di != nil {
		b = append(key(b, "drain_info"), '{')
		b = strField(b, "state", di.GetState().String())
		b = append(key(b, "config"), '{')
		if g := di.GetConfig().GetMaxGracePeriod(); g != nil {
			b = append(intField(append(key(b, "max_grace_period"), '{'), "nanoseconds", g.GetNanoseconds()), '}')
		}
		b = boolField(b, "mark_gone", di.GetConfig().GetMarkGone())
		b = append(b, '}', '}')
	}
	b = strField(b, "version", ag.GetVersion())
	return append(b, '}')
}

// frameworkRole is what masterFrameworkJSON shows as a framework's role
// and the role its tasks and offers fall back to: its role, unless it is
// MULTI_ROLE (then neither).
func frameworkRole(info *mesospb.FrameworkInfo) (roles []string, fallback string) {
	roles = FrameworkRoles(info)
	if !mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_MULTI_ROLE) {
		fallback = roles[0]
	}
	return roles, fallback
}

// frameworks writes the "frameworks" (or "completed_frameworks") list.
func (d *doc) frameworks(gs *masterpb.Response_GetState, completed bool) {
	list := gs.GetGetFrameworks().GetFrameworks()
	if completed {
		list = gs.GetGetFrameworks().GetCompletedFrameworks()
	}
	if len(list) > 0 && d.byFW == nil {
		d.byFW = groupByFramework(gs.GetGetTasks(), gs.GetGetExecutors())
	}
	d.b = append(d.b, '[')
	for i, fw := range list {
		if i > 0 {
			d.b = append(d.b, ',')
		}
		d.framework(fw, d.byFW)
	}
	d.b = append(d.b, ']')
}

func (d *doc) framework(fw *masterpb.Response_GetFrameworks_Framework, byFW map[string]*frameworkParts) {
	info := fw.GetFrameworkInfo()
	id := info.GetId().GetValue()
	roles, fallback := frameworkRole(info)
	b := append(d.b, '{')
	b = strField(b, "id", id)
	b = strField(b, "name", info.GetName())
	b = strField(b, "user", info.GetUser())
	b = strField(b, "hostname", info.GetHostname())
	b = strField(b, "webui_url", info.GetWebuiUrl())
	if p := info.GetPrincipal(); p != "" {
		b = strField(b, "principal", p)
	}
	if fallback != "" {
		b = strField(b, "role", fallback)
	}
	b = appendStrings(key(b, "roles"), roles)
	b = append(key(b, "capabilities"), '[')
	for i, cp := range info.GetCapabilities() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, cp.GetType().String())
	}
	b = append(b, ']')
	b = boolField(b, "active", fw.GetActive())
	b = boolField(b, "connected", fw.GetConnected())
	b = boolField(b, "recovered", fw.GetRecovered())
	b = boolField(b, "checkpoint", info.GetCheckpoint())
	b = floatField(b, "failover_timeout", info.GetFailoverTimeout())
	b = floatField(b, "registered_time", Seconds(fw.GetRegisteredTime()))
	if s := Seconds(fw.GetReregisteredTime()); s != 0 {
		b = floatField(b, "reregistered_time", s)
	}
	b = floatField(b, "unregistered_time", Seconds(fw.GetUnregisteredTime()))
	held := make([]*mesospb.Resource, 0, len(fw.GetAllocatedResources())+len(fw.GetOfferedResources()))
	held = append(append(held, fw.GetAllocatedResources()...), fw.GetOfferedResources()...)
	b = d.rs.appendResources(key(b, "resources"), held)
	b = d.rs.appendResources(key(b, "used_resources"), fw.GetAllocatedResources())
	b = d.rs.appendResources(key(b, "offered_resources"), fw.GetOfferedResources())
	b = append(key(b, "offers"), '[')
	for i, o := range fw.GetOffers() {
		if i > 0 {
			b = append(b, ',')
		}
		role := allocationRole(o.GetResources())
		if role == "" {
			role = fallback
		}
		b = append(b, '{')
		b = strField(b, "id", o.GetId().GetValue())
		b = strField(b, "framework_id", id)
		b = strField(b, "slave_id", o.GetAgentId().GetValue())
		b = d.rs.appendResources(key(b, "resources"), o.GetResources())
		b = strField(b, "role", role)
		b = append(b, '}')
	}
	d.b = append(b, ']')
	parts := byFW[id]
	if parts == nil {
		parts = &frameworkParts{}
	}
	d.b = key(d.b, "tasks")
	d.taskList(parts.tasks, fallback)
	d.b = key(d.b, "completed_tasks")
	d.taskList(parts.completed, fallback)
	d.b = key(d.b, "unreachable_tasks")
	d.taskList(parts.unreachable, fallback)
	b = append(key(d.b, "executors"), '[')
	for i, e := range parts.executors {
		if i > 0 {
			b = append(b, ',')
		}
		ei := e.GetExecutorInfo()
		b = append(b, '{')
		b = strField(b, "executor_id", ei.GetExecutorId().GetValue())
		b = strField(b, "name", ei.GetName())
		b = strField(b, "framework_id", id)
		b = strField(b, "slave_id", e.GetAgentId().GetValue())
		b = d.rs.appendResources(key(b, "resources"), ei.GetResources())
		b = append(b, '}')
	}
	d.b = append(b, ']', '}')
	d.flush(false)
}

// appendTask writes TaskJSON(t, fallback).
func appendTask(b []byte, t *mesospb.Task, fallback string, rs *resScratch) []byte {
	role := allocationRole(t.GetResources())
	if role == "" {
		role = fallback
	}
	b = append(b, '{')
	b = strField(b, "id", t.GetTaskId().GetValue())
	b = strField(b, "name", t.GetName())
	b = strField(b, "framework_id", t.GetFrameworkId().GetValue())
	b = strField(b, "executor_id", t.GetExecutorId().GetValue())
	b = strField(b, "slave_id", t.GetAgentId().GetValue())
	b = strField(b, "state", t.GetState().String())
	if role != "" {
		b = strField(b, "role", role)
	}
	if u := t.GetUser(); u != "" {
		b = strField(b, "user", u)
	}
	b = rs.appendResources(key(b, "resources"), t.GetResources())
	b = append(key(b, "statuses"), '[')
	for i, s := range t.GetStatuses() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = strField(b, "state", s.GetState().String())
		b = floatField(b, "timestamp", s.GetTimestamp())
		if s.Source != nil {
			if v := s.GetSource().String(); v != "" {
				b = strField(b, "source", v)
			}
		}
		if s.Reason != nil {
			if v := s.GetReason().String(); v != "" {
				b = strField(b, "reason", v)
			}
		}
		if m := s.GetMessage(); m != "" {
			b = strField(b, "message", m)
		}
		b = append(b, '}')
	}
	return append(b, ']', '}')
}
