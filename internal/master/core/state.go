package core

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/present"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// The master's state as the v1 operator API presents it. The core never
// modifies a message it returned, so the shell may encode it on another
// goroutine; tasks are the core's shared records (taskviews.go), so
// neither may the shell modify them (it may rebuild the lists that hold
// them).

// GetState is GET_STATE's answer and SUBSCRIBED's snapshot.
func (c *Core) GetState() *masterpb.Response_GetState { return c.StateQuery()() }

// StateQuery is GetState in two parts: it takes what the answer needs now
// (on the loop) and returns the rest, which may run on any goroutine
// once. The loop's part is small: a snapshot of each framework's task
// views (taskViews), each agent's cached record (agentSnap, rebuilt only
// when it changed), the frameworks and the executors. The rest lists and
// sorts the tasks by id, builds the agents' entries and sums what each
// framework holds.
func (c *Core) StateQuery() func() *masterpb.Response_GetState {
	tasks := c.taskLists()
	agents := c.agentSnaps()
	fws := c.frameworksQuery(agents)
	gs := &masterpb.Response_GetState{GetExecutors: c.GetExecutors()}
	return func() *masterpb.Response_GetState {
		gs.GetTasks = tasks.sorted()
		gs.GetFrameworks = fws()
		gs.GetAgents = agents.entries()
		return gs
	}
}

// agentSnap is an agent as state queries show it: a copy of its record
// without its maps (its info and total are replaced, never modified, so
// the copy may be read on any goroutine), what the allocator's books say
// it holds, and its drain. Nobody modifies one: each agent keeps the last
// one built (agent.snap), which queries reuse until the record's shown
// fields, the drain or the allocator's books of the agent change.
type agentSnap struct {
	ag       agent
	holdings []allocator.HoldingState // from the allocator's books
	recount  *held                    // the allocator did not know the agent: counted from its tasks
	drain    *mesospb.DrainInfo       // replaced, never modified
	// total and used are the metricScalars of the agent's total and of
	// what its tasks and executors use (scalars).
	total, used [4]float64

	// entry is the agent's GET_AGENTS entry, built (entryOf) by the first
	// query to finish with this snapshot and shared by every later one,
	// so an agent that did not change is the same message in every answer
	// (the state presenter keeps its JSON by that message). Queries finish
	// off the loop, perhaps two at once: the first to store its entry
	// wins (no lock).
	entry atomic.Pointer[masterpb.Response_GetAgents_Agent]
	// base is the previous snapshot's entry when only the holdings changed
	// since (nil when it was not built, or more changed): the new entry
	// shares its other fields (the same messages, which the state
	// presenter keeps the JSON of), and only the holdings are built anew.
	base *masterpb.Response_GetAgents_Agent
}

// entryOf returns the snapshot's GET_AGENTS entry (never modified).
func (s *agentSnap) entryOf() *masterpb.Response_GetAgents_Agent {
	if e := s.entry.Load(); e != nil {
		return e
	}
	var e *masterpb.Response_GetAgents_Agent
	if b := s.base; b != nil {
		h := s.held()
		e = &masterpb.Response_GetAgents_Agent{
			AgentInfo: b.AgentInfo, Active: b.Active, Deactivated: b.Deactivated, DrainInfo: b.DrainInfo,
			Version: b.Version, Pid: b.Pid, RegisteredTime: b.RegisteredTime, ReregisteredTime: b.ReregisteredTime,
			TotalResources:     b.TotalResources,
			AllocatedResources: h.allocated.proto(),
			OfferedResources:   h.offered.proto(),
		}
	} else {
		e = agentEntryWith(&s.ag, s.held(), s.drain)
	}
	s.entry.CompareAndSwap(nil, e)
	return s.entry.Load()
}

// agentSnaps are agents' snapshots.
type agentSnaps []*agentSnap

// agentSnapOf returns the agent's snapshot, building a new one only when
// something it shows changed. Offers made and declined since the last one
// change the allocator's books but not the holdings (AgentHoldings), so
// the snapshot, its entry and the entry's JSON stay.
func (c *Core) agentSnapOf(ag *agent) *agentSnap {
	var drain *mesospb.DrainInfo
	if len(c.maint.drains) > 0 {
		drain = c.maint.drains[ag.id]
	}
	s := ag.snap
	var books uint64
	var holdings []allocator.HoldingState
	var known bool
	if s != nil {
		books, holdings, known = c.alloc.AgentHoldings(ag.id, ag.snapBooks, s.holdings)
		if known && s.recount == nil && sameSlice(holdings, s.holdings) && s.drain == drain && s.shows(ag) {
			ag.snapBooks = books
			return s
		}
	} else {
		books, known = c.alloc.AgentBooks(ag.id)
		as, _ := c.alloc.Agent(ag.id)
		holdings = as.Holdings
	}
	var base *masterpb.Response_GetAgents_Agent
	if s != nil && s.drain == drain && s.shows(ag) {
		base = s.entry.Load()
	}
	s = &agentSnap{ag: *ag, drain: drain, base: base}
	s.ag.offers, s.ag.tasks, s.ag.executors, s.ag.snap = nil, nil, nil, nil
	if known {
		s.holdings = holdings
	} else {
		h := recountAgent(ag)
		s.recount = &h
	}
	s.scalars()
	ag.snap, ag.snapBooks = s, books
	return s
}

// scalars sums the metricScalars of the agent's total and of what its
// tasks and executors use, for the metrics.
func (s *agentSnap) scalars() {
	for i, name := range metricScalars {
		s.total[i] = s.ag.total.Scalar(name).Float()
	}
	add := func(r resources.Resources) {
		for i, name := range metricScalars {
			s.used[i] += r.Scalar(name).Float()
		}
	}
	if s.recount != nil {
		for _, r := range s.recount.allocated {
			add(r)
		}
		return
	}
	for _, x := range s.holdings {
		add(x.Used)
	}
}

// shows says whether the snapshot has the fields of the agent's record
// that agentEntryWith shows.
func (s *agentSnap) shows(ag *agent) bool {
	a := &s.ag
	return a.info == ag.info && a.link == ag.link && a.deactivated == ag.deactivated &&
		a.version == ag.version && a.registered == ag.registered && a.reregistered == ag.reregistered &&
		sameSlice(a.total, ag.total)
}

// sameSlice says whether two slices are the same one (replaced, never
// modified: the same slice has the same contents).
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func (s *agentSnap) held() held {
	if s.recount != nil {
		return *s.recount
	}
	h := newHeld()
	for _, x := range s.holdings {
		h.add(x.Role, x.Used, x.Offered)
	}
	return h
}

// agentSnaps are the agents' snapshots, by agent id.
func (c *Core) agentSnaps() agentSnaps {
	if len(c.agentOrder) != len(c.agents) {
		c.agentOrder = c.agentOrder[:0]
		for _, ag := range c.agents {
			c.agentOrder = append(c.agentOrder, ag)
		}
		slices.SortFunc(c.agentOrder, func(a, b *agent) int { return strings.Compare(a.id, b.id) })
	}
	out := make(agentSnaps, 0, len(c.agentOrder))
	for _, ag := range c.agentOrder {
		out = append(out, c.agentSnapOf(ag))
	}
	return out
}

// entries lists the snapshots' entries (in their order: by agent id).
func (s agentSnaps) entries() *masterpb.Response_GetAgents {
	out := &masterpb.Response_GetAgents{Agents: make([]*masterpb.Response_GetAgents_Agent, 0, len(s))}
	for _, x := range s {
		out.Agents = append(out.Agents, x.entryOf())
	}
	return out
}

// State builds the /state document from GetState.
func (c *Core) State(now time.Time, version string, flags map[string]string) *present.MasterState {
	return present.MasterStateJSON(c.GetState(), present.MasterMeta{
		Info: c.cfg.MasterInfo, Version: version, Flags: flags, Started: c.started,
	})
}

// GetAgents lists the registered agents by id.
func (c *Core) GetAgents() *masterpb.Response_GetAgents { return c.agentSnaps().entries() }

// GetFrameworks lists the known frameworks by id, and the completed ones,
// most recently removed first.
func (c *Core) GetFrameworks() *masterpb.Response_GetFrameworks {
	return c.frameworksQuery(c.agentSnaps())()
}

// frameworksQuery is GetFrameworks in two parts, as StateQuery: the
// frameworks' entries are built on the loop, what the known ones hold is
// summed from the agents' snapshots by the returned function.
func (c *Core) frameworksQuery(agents agentSnaps) func() *masterpb.Response_GetFrameworks {
	out := &masterpb.Response_GetFrameworks{}
	recount := false
	for _, s := range agents {
		recount = recount || s.recount != nil
	}
	ids := sortedKeys(c.frameworks)
	// The outstanding offers (thousands under load) are listed on the
	// loop, sorted by the returned function.
	offers := make([][]*mesospb.Offer, len(ids))
	for i, id := range ids {
		fw := c.frameworks[id]
		h := held{}
		if recount {
			h = recountFramework(fw)
		}
		out.Frameworks = append(out.Frameworks, frameworkHead(fw, h, c.frameworkInverseOffers(id)))
		offers[i] = offerList(fw)
	}
	for _, fw := range slices.Backward(c.completed) {
		out.CompletedFrameworks = append(out.CompletedFrameworks, frameworkEntryWith(fw, recountFramework(fw), nil))
	}
	if recount {
		for i, list := range offers {
			out.Frameworks[i].Offers = sortOffers(list)
		}
		return func() *masterpb.Response_GetFrameworks { return out }
	}
	// The allocator charges an optimistic offer group to its holder
	// only; every framework it went to holds its own offer of them.
	type groupOffer struct {
		fw, role string
		res      resources.Resources
	}
	var group []groupOffer
	for _, id := range ids {
		for _, o := range c.frameworks[id].offers {
			if o.group != nil && o.group.holder != o {
				group = append(group, groupOffer{id, o.role, o.res})
			}
		}
	}
	return func() *masterpb.Response_GetFrameworks {
		// Running totals (resources.Sum): the holdings of one framework
		// and role mostly have the same kinds, added in place.
		byFw := map[string]*heldSum{}
		get := func(id string) *heldSum {
			h, ok := byFw[id]
			if !ok {
				h = &heldSum{}
				byFw[id] = h
			}
			return h
		}
		for _, s := range agents {
			for _, x := range s.holdings {
				h := get(x.Framework)
				if !x.Used.IsEmpty() {
					h.allocated.add(x.Role, x.Used)
				}
				if !x.Offered.IsEmpty() {
					h.offered.add(x.Role, x.Offered)
				}
			}
		}
		for _, g := range group {
			get(g.fw).offered.add(g.role, g.res)
		}
		for i, id := range ids {
			h := get(id)
			out.Frameworks[i].AllocatedResources, out.Frameworks[i].OfferedResources = h.allocated.proto(), h.offered.proto()
			out.Frameworks[i].Offers = sortOffers(offers[i])
		}
		return out
	}
}

// GetExecutors lists the executors of the known frameworks (by framework,
// agent and executor id).
func (c *Core) GetExecutors() *masterpb.Response_GetExecutors {
	out := &masterpb.Response_GetExecutors{}
	for _, id := range sortedKeys(c.frameworks) {
		fw := c.frameworks[id]
		keys := make([]execKey, 0, len(fw.executors))
		for k := range fw.executors {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b execKey) int {
			return strings.Compare(a.agent+"/"+a.executor, b.agent+"/"+b.executor)
		})
		for _, k := range keys {
			e := fw.executors[k]
			info := proto.Clone(e.info).(*mesospb.ExecutorInfo)
			if info.FrameworkId == nil {
				info.FrameworkId = &mesospb.FrameworkID{Value: proto.String(e.fw)}
			}
			out.Executors = append(out.Executors, &masterpb.Response_GetExecutors_Executor{
				ExecutorInfo: info, AgentId: &mesospb.AgentID{Value: proto.String(e.agent)},
			})
		}
	}
	return out
}

// GetTasks lists the tasks of the known and the completed frameworks:
// live ones (terminal but unacknowledged included), those held for an
// unreachable agent, and completed ones (most recent first).
func (c *Core) GetTasks() *masterpb.Response_GetTasks { return c.TasksQuery()() }

// TasksQuery is GetTasks in two parts, as StateQuery: the loop's part is a
// snapshot of the frameworks' task tables (taskLists); the returned
// function, which may run on any goroutine once, lists and sorts them.
func (c *Core) TasksQuery() func() *masterpb.Response_GetTasks { return c.taskLists().sorted }

// taskLists is GetTasks before it is listed: a snapshot of each
// framework's taskViews and completed tasks, frameworks in order. Taking
// it costs the loop a copy of each table's index and shares the records
// it holds (Core.recGen advances), so it may be finished on another
// goroutine.
type taskLists struct {
	runs []taskRun // by framework
}

type taskRun struct {
	live      viewSnap
	completed completedTasks
}

func (c *Core) taskLists() taskLists {
	var l taskLists
	add := func(fw *framework) {
		l.runs = append(l.runs, taskRun{fw.views.snapshot(), fw.completed})
	}
	for _, id := range sortedKeys(c.frameworks) {
		add(c.frameworks[id])
	}
	for _, fw := range slices.Backward(c.completed) {
		add(fw)
	}
	c.recGen++
	return l
}

// sorted lists each framework's live and unreachable tasks by task id and
// its completed tasks, most recent first.
func (l taskLists) sorted() *masterpb.Response_GetTasks {
	// Sized at once (the unreachable are few): growing a list of
	// 100,000 pointers by appends allocated about twice its size.
	live, completed := 0, 0
	for _, run := range l.runs {
		live += run.live.n
		completed += len(run.completed)
	}
	out := &masterpb.Response_GetTasks{Tasks: make([]*mesospb.Task, 0, live)}
	if completed > 0 {
		out.CompletedTasks = make([]*mesospb.Task, 0, completed)
	}
	for _, run := range l.runs {
		out.Tasks, out.UnreachableTasks = run.live.sorted(out.Tasks, out.UnreachableTasks)
		for _, d := range slices.Backward(run.completed) {
			out.CompletedTasks = append(out.CompletedTasks, d.view)
		}
	}
	return out
}

// keyedTask is a task with its id and a number that orders the ids where
// it can (sortEntries).
type keyedTask struct {
	key uint64
	id  string
	t   *mesospb.Task
}

// sortEntries sorts entries by task id, in place. A framework's ids
// mostly share a prefix ("f001-t0012345"): each is keyed by the 8 bytes
// after the prefix all share (big-endian, zero-padded), so most
// comparisons are of two numbers in one array rather than of two strings
// behind a pointer each; equal keys fall back to the ids.
func sortEntries(entries []orderEntry) {
	if len(entries) < 2 {
		return
	}
	prefix := entries[0].id
	for i := range entries {
		if id := entries[i].id; !strings.HasPrefix(id, prefix) {
			n := 0
			for n < len(prefix) && n < len(id) && prefix[n] == id[n] {
				n++
			}
			prefix = prefix[:n]
		}
	}
	for i := range entries {
		var k uint64
		rest := entries[i].id[len(prefix):]
		for j := range 8 {
			k <<= 8
			if j < len(rest) {
				k |= uint64(rest[j])
			}
		}
		entries[i].key = k
	}
	slices.SortFunc(entries, func(a, b orderEntry) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return strings.Compare(a.id, b.id)
	})
}

// GetRoles lists the allocator's roles with their weights and frameworks,
// and the resources their frameworks use.
func (c *Core) GetRoles() *masterpb.Response_GetRoles {
	used := map[string]resources.Resources{}
	for _, fw := range c.frameworks {
		for _, t := range fw.tasks {
			if !t.freed {
				used[t.role] = used[t.role].Add(t.res)
			}
		}
		for _, e := range fw.executors {
			used[e.role] = used[e.role].Add(e.res)
		}
	}
	roles := map[string]*mesospb.Role{}
	for _, r := range c.alloc.Roles() {
		role := &mesospb.Role{Name: proto.String(r.Role), Weight: proto.Float64(r.Weight)}
		for _, id := range r.Frameworks {
			role.Frameworks = append(role.Frameworks, &mesospb.FrameworkID{Value: proto.String(id)})
		}
		role.Resources = used[r.Role].ToProto(r.Role, true)
		roles[r.Role] = role
	}
	for name, w := range c.alloc.Weights() { // roles with a weight and no framework yet
		if roles[name] == nil {
			roles[name] = &mesospb.Role{Name: proto.String(name), Weight: proto.Float64(w)}
		}
	}
	// Roles with a quota are listed too, as Mesos lists them. Mesos' Role
	// message has no quota field (GET_QUOTA has the quotas).
	for name := range c.alloc.Quotas() {
		if roles[name] == nil {
			roles[name] = &mesospb.Role{Name: proto.String(name), Weight: proto.Float64(c.alloc.Weight(name))}
		}
	}
	out := &masterpb.Response_GetRoles{}
	for _, name := range sortedKeys(roles) {
		out.Roles = append(out.Roles, roles[name])
	}
	return out
}

// GetWeights lists the weights set by UPDATE_WEIGHTS, by role.
func (c *Core) GetWeights() *masterpb.Response_GetWeights {
	out := &masterpb.Response_GetWeights{}
	weights := c.alloc.Weights()
	for _, role := range sortedKeys(weights) {
		out.WeightInfos = append(out.WeightInfos, &mesospb.WeightInfo{Weight: proto.Float64(weights[role]), Role: proto.String(role)})
	}
	return out
}

// UpdateWeights applies an operator's UPDATE_WEIGHTS: all of them, or
// none when one is invalid (a missing or invalid role, a weight that is
// not positive and finite). They are written to the registry (when it is a
// WeightRegistry) before the allocator applies them, so a restarted master
// or a new leader recovers them (Recovery.Weights).
func (c *Core) UpdateWeights(infos []*mesospb.WeightInfo) error {
	for i, wi := range infos {
		w := wi.GetWeight()
		if wi.Role == nil {
			return fmt.Errorf("%w: weight_infos[%d]: expecting 'role' to be present", ErrInvalid, i)
		}
		if err := resources.ValidateRole(wi.GetRole()); err != nil {
			return fmt.Errorf("%w: weight_infos[%d]: %w", ErrInvalid, i, err)
		}
		if !(w > 0) || math.IsInf(w, 0) {
			return fmt.Errorf("%w: weight_infos[%d]: weight %v must be positive and finite", ErrInvalid, i, w)
		}
	}
	if reg, ok := c.cfg.Registry.(WeightRegistry); ok && len(infos) > 0 {
		weights := make(map[string]float64, len(infos))
		for _, wi := range infos {
			weights[wi.GetRole()] = wi.GetWeight()
		}
		if err := reg.SetWeights(weights); err != nil {
			return err
		}
	}
	for _, wi := range infos {
		if err := c.alloc.SetWeight(wi.GetRole(), wi.GetWeight()); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err) // validated above; the allocator agrees
		}
	}
	c.allocateSoon = true
	return nil
}

// GetMaster describes this master.
func (c *Core) GetMaster() *masterpb.Response_GetMaster {
	start := timestamp(c.started)
	return &masterpb.Response_GetMaster{
		MasterInfo: proto.Clone(c.cfg.MasterInfo).(*mesospb.MasterInfo),
		StartTime:  proto.Float64(start), ElectedTime: proto.Float64(start),
	}
}

func timeInfo(t time.Time) *mesospb.TimeInfo {
	if t.IsZero() {
		return nil
	}
	return &mesospb.TimeInfo{Nanoseconds: proto.Int64(t.UnixNano())}
}

// byRole sums resources per allocation role.
type byRole map[string]resources.Resources

func (b byRole) add(role string, r resources.Resources) { b[role] = b[role].Add(r) }

// proto lists the resources with allocation_info, roles in order.
func (b byRole) proto() []*mesospb.Resource {
	var out []*mesospb.Resource
	for _, role := range sortedKeys(b) {
		out = append(out, b[role].ToProto(role, true)...)
	}
	return out
}

// heldSum is held as running totals (resources.Sum) by role, for summing
// many holdings.
type heldSum struct{ allocated, offered sumByRole }

type sumByRole map[string]*resources.Sum

func (b *sumByRole) add(role string, r resources.Resources) {
	if *b == nil {
		*b = sumByRole{}
	}
	s := (*b)[role]
	if s == nil {
		s = &resources.Sum{}
		(*b)[role] = s
	}
	s.Add(r)
}

// proto is byRole.proto of the totals.
func (b sumByRole) proto() []*mesospb.Resource {
	var out []*mesospb.Resource
	for _, role := range sortedKeys(b) {
		out = append(out, b[role].Resources().ToProto(role, true)...)
	}
	return out
}

// held is what the allocator's books say a framework holds under a role:
// its tasks (not yet freed) and executors, and its outstanding offers. The
// allocator keeps them as the core's books change, so state queries and
// metrics sum a few holdings per agent rather than every task's resources
// (TestBooksProperty checks them against a recount after every step).
type held struct{ allocated, offered byRole }

func newHeld() held { return held{byRole{}, byRole{}} }

func (h held) add(role string, used, offered resources.Resources) {
	if !used.IsEmpty() {
		h.allocated.add(role, used)
	}
	if !offered.IsEmpty() {
		h.offered.add(role, offered)
	}
}

// agentHeld is what is held on an agent, from the allocator's books (a
// recount when the allocator does not know the agent).
func (c *Core) agentHeld(ag *agent) held {
	as, ok := c.alloc.Agent(ag.id)
	if !ok {
		return recountAgent(ag)
	}
	h := newHeld()
	for _, x := range as.Holdings {
		h.add(x.Role, x.Used, x.Offered)
	}
	return h
}

// recountAgent sums what is held on an agent from its tasks, executors and
// offers: the reference the allocator's books must equal.
func recountAgent(ag *agent) held {
	h := newHeld()
	for _, t := range ag.tasks {
		if !t.freed {
			h.allocated.add(t.role, t.res)
		}
	}
	for _, byID := range ag.executors {
		for _, e := range byID {
			h.allocated.add(e.role, e.res)
		}
	}
	for _, o := range ag.offers {
		if o.group != nil && o.group.holder != o {
			continue // an optimistic offer's resources are counted once, at its holder
		}
		h.offered.add(o.role, o.res)
	}
	return h
}

// recountFramework sums what a framework holds from its tasks, executors
// and offers.
func recountFramework(fw *framework) held {
	h := newHeld()
	for _, t := range fw.tasks {
		if !t.freed {
			h.allocated.add(t.role, t.res)
		}
	}
	for _, ex := range fw.executors {
		h.allocated.add(ex.role, ex.res)
	}
	for _, o := range fw.offers {
		h.offered.add(o.role, o.res)
	}
	return h
}

func (c *Core) agentEntry(ag *agent) *masterpb.Response_GetAgents_Agent {
	return agentEntryWith(ag, c.agentHeld(ag), c.maint.drains[ag.id])
}

func agentEntryWith(ag *agent, h held, drain *mesospb.DrainInfo) *masterpb.Response_GetAgents_Agent {
	return &masterpb.Response_GetAgents_Agent{
		AgentInfo:          ag.info, // shared: never modified
		Active:             proto.Bool(ag.link != "" && !ag.deactivated),
		Deactivated:        proto.Bool(ag.deactivated),
		DrainInfo:          drain,
		Version:            proto.String(ag.version),
		Pid:                proto.String(ag.pid()),
		RegisteredTime:     timeInfo(ag.registered),
		ReregisteredTime:   timeInfo(ag.reregistered),
		TotalResources:     ag.total.ToProto("", false),
		AllocatedResources: h.allocated.proto(),
		OfferedResources:   h.offered.proto(),
	}
}

func (c *Core) frameworkEntry(fw *framework) *masterpb.Response_GetFrameworks_Framework {
	return frameworkEntryWith(fw, recountFramework(fw), c.frameworkInverseOffers(fw.id))
}

// frameworkEntryWith builds a framework's entry from what it holds and its
// outstanding inverse offers.
func frameworkEntryWith(fw *framework, h held, inverse []*mesospb.InverseOffer) *masterpb.Response_GetFrameworks_Framework {
	e := frameworkHead(fw, h, inverse)
	e.Offers = sortOffers(offerList(fw))
	return e
}

// offerList is the framework's outstanding offers' messages, in no order.
// They are shared, not copied: an offer's message is never modified once
// made (it went out in an OFFERS event already).
func offerList(fw *framework) []*mesospb.Offer {
	if len(fw.offers) == 0 {
		return nil
	}
	out := make([]*mesospb.Offer, 0, len(fw.offers))
	for _, o := range fw.offers {
		out = append(out, o.proto)
	}
	return out
}

// sortOffers sorts offers by id, in place, and returns them.
func sortOffers(offers []*mesospb.Offer) []*mesospb.Offer {
	slices.SortFunc(offers, func(a, b *mesospb.Offer) int { return strings.Compare(a.GetId().GetValue(), b.GetId().GetValue()) })
	return offers
}

// frameworkHead is frameworkEntryWith without the offers.
func frameworkHead(fw *framework, h held, inverse []*mesospb.InverseOffer) *masterpb.Response_GetFrameworks_Framework {
	e := &masterpb.Response_GetFrameworks_Framework{
		FrameworkInfo:    proto.Clone(fw.info).(*mesospb.FrameworkInfo),
		Active:           proto.Bool(fw.connected()),
		Connected:        proto.Bool(fw.connected()),
		Recovered:        proto.Bool(fw.recovered),
		RegisteredTime:   timeInfo(fw.registered),
		ReregisteredTime: timeInfo(fw.reregistered),
		UnregisteredTime: timeInfo(fw.unregistered),
	}
	e.AllocatedResources, e.OfferedResources = h.allocated.proto(), h.offered.proto()
	if len(inverse) > 0 {
		e.InverseOffers = inverse
	}
	return e
}

func allocationRoleOf(list []*mesospb.Resource) string {
	for _, r := range list {
		if r.AllocationInfo != nil {
			return r.GetAllocationInfo().GetRole()
		}
	}
	return ""
}
