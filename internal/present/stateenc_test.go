package present

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

// gen makes random operator states with every field the /state document
// shows set (and many it does not), strings that need escaping, and
// resources of every kind.
type gen struct {
	r     *rand.Rand
	extra []string // more strings to use (the fuzzer's)
}

var genStrings = []string{
	"", "a", "web", "*", "eng/web", "tâche é", "日本語", "emoji 🚀", `quote " and \ back`,
	"<script>&amp;</script>", "line\nbreak\ttab\r", "ctl \x00\x01\x1f\x7f", "sep \u2028 \u2029",
	"bad utf8 \xff\xfe", "half \xe2\x82", "\b\f", "a, b", "{x}", "[1-2]",
}

func (g *gen) str() string {
	if len(g.extra) > 0 && g.r.IntN(3) == 0 {
		return g.extra[g.r.IntN(len(g.extra))]
	}
	return genStrings[g.r.IntN(len(genStrings))]
}

func (g *gen) float() float64 {
	switch g.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return g.r.Float64() * 1e-7 // 'e' notation, e-0x
	case 2:
		return g.r.Float64() * 1e22
	case 3:
		return -g.r.Float64() * 100
	case 4:
		return float64(g.r.IntN(100000))
	}
	return 1.7e9 + g.r.Float64()*1e6
}

func (g *gen) timeInfo() *mesospb.TimeInfo {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return &mesospb.TimeInfo{Nanoseconds: proto.Int64(g.r.Int64N(2e18))}
}

var resNames = []string{"cpus", "mem", "disk", "gpus", "ports", "disks", "zzz", "a b", "é"}

func (g *gen) resources() []*mesospb.Resource {
	var out []*mesospb.Resource
	for range g.r.IntN(7) {
		r := &mesospb.Resource{Name: proto.String(resNames[g.r.IntN(len(resNames))])}
		switch g.r.IntN(5) {
		case 0, 1:
			r.Type = mesospb.Value_SCALAR.Enum()
			v := g.float()
			if g.r.IntN(10) == 0 {
				v = math.Inf(1) // rejected by the resources model
			}
			r.Scalar = &mesospb.Value_Scalar{Value: proto.Float64(v)}
		case 2:
			r.Type = mesospb.Value_RANGES.Enum()
			r.Ranges = &mesospb.Value_Ranges{}
			for range g.r.IntN(4) {
				b := g.r.Uint64N(100)
				r.Ranges.Range = append(r.Ranges.Range, &mesospb.Value_Range{Begin: proto.Uint64(b), End: proto.Uint64(b + g.r.Uint64N(5) - 1)})
			}
		case 3:
			r.Type = mesospb.Value_SET.Enum()
			r.Set = &mesospb.Value_Set{}
			for range g.r.IntN(4) {
				r.Set.Item = append(r.Set.Item, g.str())
			}
		case 4:
			r.Type = mesospb.Value_TEXT.Enum() // not a resource type: ignored
		}
		switch g.r.IntN(4) {
		case 0:
			r.Reservations = []*mesospb.Resource_ReservationInfo{{Type: mesospb.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(g.str())}}
			if g.r.IntN(2) == 0 {
				r.Reservations = append(r.Reservations, &mesospb.Resource_ReservationInfo{
					Type: mesospb.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(g.str()), Principal: proto.String(g.str()),
					Labels: g.labels()})
			}
		case 1:
			r.Role = proto.String(g.str())
		}
		if g.r.IntN(3) == 0 {
			r.AllocationInfo = &mesospb.Resource_AllocationInfo{Role: proto.String(g.str())}
		}
		out = append(out, r)
	}
	return out
}

func (g *gen) labels() *mesospb.Labels {
	l := &mesospb.Labels{}
	for range g.r.IntN(3) {
		l.Labels = append(l.Labels, &mesospb.Label{Key: proto.String(g.str()), Value: proto.String(g.str())})
	}
	return l
}

func (g *gen) attributes() []*mesospb.Attribute {
	var out []*mesospb.Attribute
	for range g.r.IntN(5) {
		a := &mesospb.Attribute{Name: proto.String(g.str())}
		switch g.r.IntN(5) {
		case 0:
			a.Type, a.Scalar = mesospb.Value_SCALAR.Enum(), &mesospb.Value_Scalar{Value: proto.Float64(g.float())}
		case 1:
			a.Type, a.Ranges = mesospb.Value_RANGES.Enum(), &mesospb.Value_Ranges{Range: []*mesospb.Value_Range{{Begin: proto.Uint64(3), End: proto.Uint64(9)}}}
		case 2:
			a.Type, a.Set = mesospb.Value_SET.Enum(), &mesospb.Value_Set{Item: []string{g.str(), g.str()}}
		case 3:
			a.Type, a.Text = mesospb.Value_TEXT.Enum(), &mesospb.Value_Text{Value: proto.String(g.str())}
		}
		out = append(out, a)
	}
	return out
}

func (g *gen) enum(n int) int32 { return int32(g.r.IntN(n)) }

func (g *gen) task(fw, id string, agents []string) *mesospb.Task {
	t := &mesospb.Task{
		Name: proto.String(g.str()), TaskId: &mesospb.TaskID{Value: proto.String(id)},
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw)},
		AgentId:     &mesospb.AgentID{Value: proto.String(agents[g.r.IntN(len(agents))])},
		State:       mesospb.TaskState(g.enum(14)).Enum(), Resources: g.resources(),
		Labels: g.labels(),
		HealthCheck: &mesospb.HealthCheck{Type: mesospb.HealthCheck_COMMAND.Enum(), DelaySeconds: proto.Float64(g.float()),
			Command: &mesospb.CommandInfo{Value: proto.String(g.str())}},
		StatusUpdateState: mesospb.TaskState(g.enum(14)).Enum(), StatusUpdateUuid: []byte{1, 2},
		Discovery: &mesospb.DiscoveryInfo{Visibility: mesospb.DiscoveryInfo_FRAMEWORK.Enum(), Name: proto.String(g.str())},
	}
	if g.r.IntN(2) == 0 {
		t.ExecutorId = &mesospb.ExecutorID{Value: proto.String(g.str())}
	}
	if g.r.IntN(2) == 0 {
		t.User = proto.String(g.str())
	}
	for range g.r.IntN(4) {
		s := &mesospb.TaskStatus{TaskId: t.TaskId, State: mesospb.TaskState(g.enum(14)).Enum(),
			Timestamp: proto.Float64(g.float()), Healthy: proto.Bool(g.r.IntN(2) == 0), Labels: g.labels(), Uuid: []byte{3}}
		if g.r.IntN(2) == 0 {
			s.Source = mesospb.TaskStatus_Source(g.enum(3)).Enum()
		}
		if g.r.IntN(2) == 0 {
			s.Reason = mesospb.TaskStatus_Reason(g.enum(30)).Enum()
		}
		if g.r.IntN(2) == 0 {
			s.Message = proto.String(g.str())
		}
		t.Statuses = append(t.Statuses, s)
	}
	return t
}

func (g *gen) state() *masterpb.Response_GetState {
	gs := &masterpb.Response_GetState{GetTasks: &masterpb.Response_GetTasks{}, GetExecutors: &masterpb.Response_GetExecutors{},
		GetFrameworks: &masterpb.Response_GetFrameworks{}, GetAgents: &masterpb.Response_GetAgents{}}
	agents := []string{"a-missing"}
	for i := range g.r.IntN(6) {
		id := fmt.Sprintf("agent-%d-%s", i, g.str())
		agents = append(agents, id)
		ag := &masterpb.Response_GetAgents_Agent{
			AgentInfo: &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String(id)}, Hostname: proto.String(g.str()),
				Port: proto.Int32(g.r.Int32N(65536)), Attributes: g.attributes()},
			Active: proto.Bool(g.r.IntN(2) == 0), Deactivated: proto.Bool(g.r.IntN(2) == 0), Version: proto.String(g.str()),
			Pid: proto.String(g.str()), RegisteredTime: g.timeInfo(), ReregisteredTime: g.timeInfo(),
			TotalResources: g.resources(), AllocatedResources: g.resources(), OfferedResources: g.resources(),
		}
		if g.r.IntN(2) == 0 {
			ag.DrainInfo = &mesospb.DrainInfo{State: mesospb.DrainState(g.enum(3)).Enum(), Config: &mesospb.DrainConfig{MarkGone: proto.Bool(g.r.IntN(2) == 0)}}
			if g.r.IntN(2) == 0 {
				ag.DrainInfo.Config.MaxGracePeriod = &mesospb.DurationInfo{Nanoseconds: proto.Int64(g.r.Int64())}
			}
		}
		gs.GetAgents.Agents = append(gs.GetAgents.Agents, ag)
	}
	caps := []mesospb.FrameworkInfo_Capability_Type{mesospb.FrameworkInfo_Capability_MULTI_ROLE,
		mesospb.FrameworkInfo_Capability_PARTITION_AWARE, mesospb.FrameworkInfo_Capability_GPU_RESOURCES}
	n := 0
	for i := range g.r.IntN(5) {
		id := fmt.Sprintf("fw-%d-%s", i, g.str())
		info := &mesospb.FrameworkInfo{Id: &mesospb.FrameworkID{Value: proto.String(id)}, Name: proto.String(g.str()),
			User: proto.String(g.str()), Hostname: proto.String(g.str()), WebuiUrl: proto.String(g.str()),
			Principal: proto.String(g.str()), Checkpoint: proto.Bool(g.r.IntN(2) == 0), FailoverTimeout: proto.Float64(g.float()),
			Labels: g.labels()}
		if g.r.IntN(2) == 0 {
			info.Role = proto.String(g.str())
		}
		if g.r.IntN(2) == 0 {
			info.Roles = []string{g.str(), g.str()}
		}
		for _, c := range caps {
			if g.r.IntN(2) == 0 {
				info.Capabilities = append(info.Capabilities, &mesospb.FrameworkInfo_Capability{Type: c.Enum()})
			}
		}
		fw := &masterpb.Response_GetFrameworks_Framework{FrameworkInfo: info, Active: proto.Bool(g.r.IntN(2) == 0),
			Connected: proto.Bool(g.r.IntN(2) == 0), Recovered: proto.Bool(g.r.IntN(2) == 0),
			RegisteredTime: g.timeInfo(), ReregisteredTime: g.timeInfo(), UnregisteredTime: g.timeInfo(),
			AllocatedResources: g.resources(), OfferedResources: g.resources()}
		for j := range g.r.IntN(3) {
			fw.Offers = append(fw.Offers, &mesospb.Offer{Id: &mesospb.OfferID{Value: proto.String(fmt.Sprintf("o%d", j))},
				FrameworkId: info.Id, AgentId: &mesospb.AgentID{Value: proto.String(agents[g.r.IntN(len(agents))])},
				Hostname: proto.String(g.str()), Resources: g.resources()})
		}
		if g.r.IntN(4) == 0 {
			gs.GetFrameworks.CompletedFrameworks = append(gs.GetFrameworks.CompletedFrameworks, fw)
		} else {
			gs.GetFrameworks.Frameworks = append(gs.GetFrameworks.Frameworks, fw)
		}
		for range g.r.IntN(40) {
			n++
			t := g.task(id, fmt.Sprintf("t%d-%s", n, g.str()), agents)
			switch g.r.IntN(4) {
			case 0:
				gs.GetTasks.CompletedTasks = append(gs.GetTasks.CompletedTasks, t)
			case 1:
				gs.GetTasks.UnreachableTasks = append(gs.GetTasks.UnreachableTasks, t)
			default:
				gs.GetTasks.Tasks = append(gs.GetTasks.Tasks, t)
			}
		}
		for j := range g.r.IntN(3) {
			gs.GetExecutors.Executors = append(gs.GetExecutors.Executors, &masterpb.Response_GetExecutors_Executor{
				ExecutorInfo: &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String(fmt.Sprintf("e%d%s", j, g.str()))},
					FrameworkId: info.Id, Name: proto.String(g.str()), Resources: g.resources(),
					Command: &mesospb.CommandInfo{Value: proto.String(g.str())}},
				AgentId: &mesospb.AgentID{Value: proto.String(agents[g.r.IntN(len(agents))])}})
		}
	}
	// Tasks of a framework the state does not list are left out.
	gs.GetTasks.Tasks = append(gs.GetTasks.Tasks, g.task("fw-unknown", "orphan", agents))
	return gs
}

func (g *gen) meta() MasterMeta {
	flags := map[string]string{}
	for range g.r.IntN(4) {
		flags[g.str()] = g.str()
	}
	if g.r.IntN(5) == 0 {
		flags = nil
	}
	return MasterMeta{
		Info: &mesospb.MasterInfo{Id: proto.String(g.str()), Pid: proto.String(g.str()), Hostname: proto.String(g.str()),
			Port: proto.Uint32(g.r.Uint32()), Ip: proto.Uint32(g.r.Uint32()), Version: proto.String(g.str()),
			Address: &mesospb.Address{Hostname: proto.String(g.str()), Ip: proto.String(g.str()), Port: proto.Int32(g.r.Int32())}},
		Version: g.str(), Flags: flags, Started: time.Unix(0, g.r.Int64N(2e18)),
	}
}

// encodeJSON is how the master wrote its documents before StateEncoder.
func encodeJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oldCuts are the documents as the master built them from MasterState.
func oldCuts(s *MasterState) map[string]any {
	tasks := []Task{}
	for _, f := range s.Frameworks {
		tasks = append(tasks, f.Tasks...)
		tasks = append(tasks, f.CompletedTasks...)
	}
	return map[string]any{
		"state":      s,
		"slaves":     map[string]any{"slaves": s.Slaves},
		"frameworks": map[string]any{"frameworks": s.Frameworks, "completed_frameworks": s.CompletedFrameworks},
		"tasks":      map[string]any{"tasks": tasks},
	}
}

// chunks records how a document reached its writer.
type chunks struct {
	bytes.Buffer
	writes int
}

func (c *chunks) Write(p []byte) (int, error) { c.writes++; return c.Buffer.Write(p) }

func newCuts(t testing.TB, e *StateEncoder, gs *masterpb.Response_GetState, meta MasterMeta) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, write := range map[string]func(*chunks) error{
		"state":      func(w *chunks) error { return e.WriteMasterState(w, MasterStateHead(gs, meta), gs) },
		"slaves":     func(w *chunks) error { return e.WriteSlaves(w, gs) },
		"frameworks": func(w *chunks) error { return e.WriteFrameworks(w, gs) },
		"tasks":      func(w *chunks) error { return e.WriteTasks(w, gs) },
	} {
		var w chunks
		if err := write(&w); err != nil {
			t.Fatal(err)
		}
		if w.Len() > 2*flushSize && w.writes < 2 {
			t.Errorf("%s: %d bytes in %d write(s): not streamed", name, w.Len(), w.writes)
		}
		out[name] = w.Bytes()
	}
	return out
}

// sameJSON fails unless got is want byte for byte (and so as parsed JSON).
func sameJSON(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	var g, w any
	gerr, werr := json.Unmarshal(got, &g), json.Unmarshal(want, &w)
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-120)
	t.Fatalf("%s differs at byte %d (parsed equal %v, errors %v/%v):\n got ...%q\nwant ...%q", what, i,
		gerr == nil && werr == nil && reflect.DeepEqual(g, w), gerr, werr,
		got[lo:min(len(got), i+80)], want[lo:min(len(want), i+80)])
}

func checkEqualsJSON(t testing.TB, e *StateEncoder, gs *masterpb.Response_GetState, meta MasterMeta) {
	t.Helper()
	old := oldCuts(MasterStateJSON(gs, meta))
	for name, got := range newCuts(t, e, gs, meta) {
		sameJSON(t, name, got, encodeJSON(t, old[name]))
	}
}

// The streaming presenter writes what encoding/json wrote of
// MasterStateJSON, for /state and its cuts, over random rich states; the
// same encoder throughout, so later documents reuse earlier tasks'
// renderings, some of them under another fallback role.
func TestStateEncoderEqualsJSON(t *testing.T) {
	var e StateEncoder
	for seed := range uint64(200) {
		g := &gen{r: rand.New(rand.NewPCG(seed, 7))}
		gs, meta := g.state(), g.meta()
		checkEqualsJSON(t, &e, gs, meta)
		checkEqualsJSON(t, &e, gs, meta) // every task from the cache
		// Flip some frameworks to MULTI_ROLE and back: the same task
		// records under another fallback role.
		for _, fw := range gs.GetGetFrameworks().GetFrameworks() {
			info := proto.Clone(fw.FrameworkInfo).(*mesospb.FrameworkInfo)
			info.Role = proto.String(g.str())
			fw.FrameworkInfo = info
		}
		checkEqualsJSON(t, &e, gs, meta)
		// New entries for the agents sharing the old ones' other fields
		// (what the master's core does when only an agent's holdings
		// changed): their heads and tails from the cache, their holdings
		// new; some with a new drain (another head and tail).
		for i, ag := range gs.GetGetAgents().GetAgents() {
			n := &masterpb.Response_GetAgents_Agent{
				AgentInfo: ag.AgentInfo, Active: ag.Active, Deactivated: ag.Deactivated, DrainInfo: ag.DrainInfo,
				Version: ag.Version, Pid: ag.Pid, RegisteredTime: ag.RegisteredTime, ReregisteredTime: ag.ReregisteredTime,
				TotalResources: ag.TotalResources, AllocatedResources: g.resources(), OfferedResources: g.resources(),
			}
			if g.r.IntN(4) == 0 {
				n.DrainInfo = &mesospb.DrainInfo{State: mesospb.DrainState(g.enum(3)).Enum()}
			}
			gs.GetAgents.Agents[i] = n
		}
		checkEqualsJSON(t, &e, gs, meta)
	}
}

// A document large enough to be written in many pieces is still the
// same (fields after a flushed task get their commas).
func TestStateEncoderLarge(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(1, 2))}
	gs := g.state()
	fw := &masterpb.Response_GetFrameworks_Framework{FrameworkInfo: &mesospb.FrameworkInfo{
		Id: &mesospb.FrameworkID{Value: proto.String("big")}, User: proto.String("u"), Name: proto.String("n")}}
	gs.GetFrameworks.Frameworks = append(gs.GetFrameworks.Frameworks, fw)
	for i := range 3000 {
		gs.GetTasks.Tasks = append(gs.GetTasks.Tasks, g.task("big", fmt.Sprintf("big%d", i), []string{"a"}))
		if i%3 == 0 {
			gs.GetTasks.CompletedTasks = append(gs.GetTasks.CompletedTasks, g.task("big", fmt.Sprintf("done%d", i), []string{"a"}))
		}
	}
	var e StateEncoder
	checkEqualsJSON(t, &e, gs, g.meta())
	checkEqualsJSON(t, &e, gs, g.meta())
}

// The cache drops renderings no document used for a while, holding about
// 1.25 times a document's, and a changed task (a new record) is rendered
// anew.
func TestStateEncoderCacheBounded(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(3, 4))}
	gs := g.state()
	fw := &masterpb.Response_GetFrameworks_Framework{FrameworkInfo: &mesospb.FrameworkInfo{
		Id: &mesospb.FrameworkID{Value: proto.String("big")}, User: proto.String("u")}}
	gs.GetFrameworks.Frameworks = []*masterpb.Response_GetFrameworks_Framework{fw}
	gs.GetFrameworks.CompletedFrameworks = nil
	gs.GetTasks.CompletedTasks, gs.GetTasks.UnreachableTasks = nil, nil
	gs.GetTasks.Tasks = nil
	const tasks = 6000 // more than minGeneration
	for i := range tasks {
		gs.GetTasks.Tasks = append(gs.GetTasks.Tasks, g.task("big", fmt.Sprintf("t%d", i), []string{"a"}))
	}
	meta := g.meta()
	var e StateEncoder
	most := 0
	for round := range 30 {
		// Every round replaces 500 records, as status updates do.
		for i := range 500 {
			j := (round*500 + i) % len(gs.GetTasks.Tasks)
			nt := proto.Clone(gs.GetTasks.Tasks[j]).(*mesospb.Task)
			nt.State = mesospb.TaskState(g.enum(14)).Enum()
			nt.Statuses = append(nt.Statuses, &mesospb.TaskStatus{State: nt.State, Timestamp: proto.Float64(float64(round))})
			gs.GetTasks.Tasks[j] = nt
		}
		checkEqualsJSON(t, &e, gs, meta)
		// A quarter more than a document's, and a round's new ones.
		n, _ := e.Cached()
		if n > tasks+tasks/4+500 {
			t.Fatalf("round %d: %d renderings cached for %d tasks", round, n, tasks)
		}
		most = max(most, n)
	}
	t.Logf("at most %d renderings cached for %d tasks", most, tasks)
}

// Strings the fuzzer finds, anywhere in a state, come out as
// encoding/json writes them.
func FuzzStateEncoder(f *testing.F) {
	for _, s := range genStrings {
		f.Add(uint64(len(s)), s)
	}
	var e StateEncoder
	f.Fuzz(func(t *testing.T, seed uint64, s string) {
		g := &gen{r: rand.New(rand.NewPCG(seed, 11)), extra: []string{s}}
		checkEqualsJSON(t, &e, g.state(), g.meta())
	})
}

// A non-finite number (which encoding/json refuses, failing the whole
// document, and Mesos writes as a bare nan or inf) is written as null,
// wherever it is: the document stays valid JSON and finite numbers next
// to it keep their values.
func TestStateEncoderNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		fid := &mesospb.FrameworkID{Value: proto.String("f")}
		gs := &masterpb.Response_GetState{
			GetFrameworks: &masterpb.Response_GetFrameworks{Frameworks: []*masterpb.Response_GetFrameworks_Framework{{
				FrameworkInfo: &mesospb.FrameworkInfo{Id: fid, FailoverTimeout: proto.Float64(v)}}}},
			GetTasks: &masterpb.Response_GetTasks{Tasks: []*mesospb.Task{{
				Name: proto.String("t"), TaskId: &mesospb.TaskID{Value: proto.String("t")}, FrameworkId: fid,
				AgentId: &mesospb.AgentID{Value: proto.String("a")}, State: mesospb.TaskState_TASK_RUNNING.Enum(),
				Statuses: []*mesospb.TaskStatus{
					{State: mesospb.TaskState_TASK_STARTING.Enum(), Timestamp: proto.Float64(v)},
					{State: mesospb.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(2.5)},
				}}}},
		}
		var e StateEncoder
		var buf bytes.Buffer
		if err := e.WriteMasterState(&buf, MasterStateHead(gs, MasterMeta{}), gs); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Frameworks []struct {
				FailoverTimeout *float64 `json:"failover_timeout"`
				Tasks           []struct {
					Statuses []struct {
						Timestamp *float64 `json:"timestamp"`
					} `json:"statuses"`
				} `json:"tasks"`
			} `json:"frameworks"`
		}
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("%v: %v: %s", v, err, buf.Bytes())
		}
		if !bytes.Contains(buf.Bytes(), []byte(`"failover_timeout":null`)) || !bytes.Contains(buf.Bytes(), []byte(`"timestamp":null`)) {
			t.Fatalf("%v: no nulls in %s", v, buf.Bytes())
		}
		if len(doc.Frameworks) != 1 || doc.Frameworks[0].FailoverTimeout != nil || len(doc.Frameworks[0].Tasks) != 1 {
			t.Fatalf("%v: frameworks = %s", v, buf.Bytes())
		}
		st := doc.Frameworks[0].Tasks[0].Statuses
		if len(st) != 2 || st[0].Timestamp != nil || st[1].Timestamp == nil || *st[1].Timestamp != 2.5 {
			t.Fatalf("%v: statuses = %s", v, buf.Bytes())
		}
	}
}
