package core

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/present"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// TestScripts runs the scenario scripts in testdata: commands in, what the
// core tells each framework and agent out. Regenerate the expected output
// with: go test ./internal/master/core -run TestScripts -rewrite
//
// Commands (names stand for ids; the script never sees real ids):
//
//	agent A RES                       register a new agent
//	subscribe F [partition-aware] [refinement] [failover=SECS] [id=ID] [role=R] [principal=P]
//	                                  subscribe (again, with F's id, if F is known;
//	                                  id= names any id, made up or not)
//	disconnect F                      F's stream closes
//	launch F A T RES [stale]          accept F's offer on A with command task T
//	                                  (stale: the offer on A rescinded last)
//	decline F A [refuse=SECS]         decline F's offer on A
//	update A F T STATE [uuid=U] [latest=STATE] [reason=REASON]
//	                                  STATUS_UPDATE from A (no uuid= means none)
//	ack F A T U                       ACKNOWLEDGE uuid U (a script's u1.. or the
//	                                  M1.. the output named a master-made uuid)
//	reconcile F [T[@A]...]            implicit, or explicit for the tasks named
//	kill F T | teardown F
//	lose A                            A stops answering pings until it is lost
//	reregister A RES [F/T/RES[/STATE/U]...]
//	                                  A registers again with its id on a new link,
//	                                  reporting the tasks listed (none: it lost
//	                                  them), running or in STATE with update U
//	                                  sent last and not acknowledged
//	tick DURATION                     advance the clock and Tick
//	tasks F                           F's tasks in State (live, unreachable, completed)
//	restart [fresh-registry] [fanout=N]
//	                                  a new master (id m2, m3...) with the same
//	                                  Registry (as a durable one would be), or a new
//	                                  one; fanout=N: optimistic offers to N frameworks
//	weights ROLE=W...                 UPDATE_WEIGHTS
//	quota ROLE RES                    UPDATE_QUOTA (forced): RES guaranteed and the limit
//	roles                             GET_WEIGHTS, GET_ROLES and GET_QUOTA
//	allocation A                      the allocator's view of A: available, and
//	                                  what each framework is offered and uses
//	failover [reregister-timeout=DUR] [removal-limit=FRACTION]
//	                                  a new master recovering from the Registry's
//	                                  records (Recover), as a newly elected leader
//
// Every PING is answered at once, except by agents that `lose` silenced;
// PINGs are not printed.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := newScript(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			first := []string{td.Cmd}
			for _, arg := range td.CmdArgs {
				if len(arg.Vals) == 0 {
					first = append(first, arg.Key)
				} else {
					first = append(first, arg.Key+"="+strings.Join(arg.Vals, ","))
				}
			}
			s.out.Reset()
			for _, line := range append([]string{strings.Join(first, " ")}, strings.Split(td.Input, "\n")...) {
				if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				s.exec(strings.Fields(line))
			}
			if s.out.Len() == 0 {
				return "ok\n"
			}
			return s.out.String()
		})
	})
}

type scriptFramework struct {
	name   string
	id     string
	stream string
	info   *mesospb.FrameworkInfo
	offers map[string]string // agent name -> outstanding offer id
	// rescinded is the offer on each agent rescinded last.
	rescinded map[string]string
}

type scriptAgent struct {
	name   string
	id     string
	link   string
	silent bool
	// ckpt is the last CHECKPOINT_RESOURCES list, reported when the agent
	// registers again (as a real agent's checkpoint is).
	ckpt []*mesospb.Resource
}

// script interprets scenario commands against a Core.
type script struct {
	t        *testing.T
	c        *Core
	reg      *recordingRegistry
	now      time.Time
	masters  int
	nextConn int

	fws    map[string]*scriptFramework
	agents map[string]*scriptAgent
	fwName map[string]string // framework id -> name
	agName map[string]string // agent id -> name
	// inverseIDs are the outstanding inverse offers, "F/A" -> id.
	inverseIDs map[string]string
	conn       map[string]string // stream or link id -> name
	uuidName   map[string]string // uuid bytes -> name
	uuids      map[string][]byte // name -> uuid bytes
	masterU    int               // master-made uuids named so far

	out strings.Builder
}

func newScript(t *testing.T) *script {
	s := &script{t: t, now: epoch, fws: map[string]*scriptFramework{}, agents: map[string]*scriptAgent{},
		fwName: map[string]string{}, agName: map[string]string{}, conn: map[string]string{},
		uuidName: map[string]string{}, uuids: map[string][]byte{}}
	s.restart(newRecordingRegistry(), Config{})
	return s
}

func (s *script) restart(reg *recordingRegistry, cfg Config) {
	s.masters++
	info := testMasterInfo()
	info.Id = proto.String(fmt.Sprintf("m%d", s.masters))
	cfg.MasterInfo, cfg.Registry = info, reg
	c, err := New(cfg, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	s.c, s.reg = c, reg
	for _, fw := range s.fws {
		fw.stream, fw.offers = "", map[string]string{}
	}
	for _, ag := range s.agents {
		ag.link = ""
	}
}

func (s *script) printf(format string, args ...any) { fmt.Fprintf(&s.out, format+"\n", args...) }

func (s *script) fail(format string, args ...any) { s.t.Fatalf(format, args...) }

// uuid resolves a uuid name: a script's own names are padded to 16 bytes;
// master-made ones must have been printed first.
func (s *script) uuid(name string) []byte {
	if u, ok := s.uuids[name]; ok {
		return u
	}
	if strings.HasPrefix(name, "M") {
		s.fail("uuid %s has not been seen", name)
	}
	u := []byte(fmt.Sprintf("%-16s", name))[:16]
	s.uuids[name], s.uuidName[string(u)] = u, name
	return u
}

func (s *script) nameUUID(u []byte) string {
	if len(u) == 0 {
		return "-"
	}
	if n, ok := s.uuidName[string(u)]; ok {
		return n
	}
	s.masterU++
	n := fmt.Sprintf("M%d", s.masterU)
	s.uuidName[string(u)], s.uuids[n] = n, slices.Clone(u)
	return n
}

func (s *script) name(ids map[string]string, id string) string {
	if n, ok := ids[id]; ok {
		return n
	}
	return id
}

func (s *script) framework(name string) *scriptFramework {
	fw := s.fws[name]
	if fw == nil {
		s.fail("unknown framework %s", name)
	}
	return fw
}

func (s *script) agent(name string) *scriptAgent {
	ag := s.agents[name]
	if ag == nil {
		s.fail("unknown agent %s", name)
	}
	return ag
}

func (s *script) newConn(name string) string {
	s.nextConn++
	id := fmt.Sprintf("conn-%d", s.nextConn)
	s.conn[id] = name
	return id
}

func (s *script) exec(f []string) {
	pos, kv := splitArgs(f[1:])
	arg := func(i int) string {
		if i >= len(pos) {
			s.fail("%s: missing argument %d", f[0], i+1)
		}
		return pos[i]
	}
	switch f[0] {
	case "agent":
		s.registerAgent(arg(0), arg(1), kv["ip"])
	case "subscribe":
		s.subscribe(arg(0), pos[1:], kv)
	case "disconnect":
		fw := s.framework(arg(0))
		s.c.StreamClosed(s.now, fw.stream)
		fw.stream = ""
	case "launch":
		s.launch(s.framework(arg(0)), s.agent(arg(1)), arg(2), arg(3), slices.Contains(pos, "stale"))
	case "decline":
		fw, ag := s.framework(arg(0)), s.agent(arg(1))
		offer, ok := fw.offers[ag.name]
		if !ok {
			s.fail("decline: %s has no offer on %s", fw.name, ag.name)
		}
		delete(fw.offers, ag.name)
		refuse := 5.0
		if v, ok := kv["refuse"]; ok {
			refuse, _ = strconv.ParseFloat(v, 64)
		}
		s.call(fw, declineCall(offer, proto.Float64(refuse)))
	case "update":
		s.update(s.agent(arg(0)), s.framework(arg(1)), arg(2), arg(3), kv)
	case "ack":
		ag := s.agent(arg(1))
		s.call(s.framework(arg(0)), &schedulerpb.Call{Type: schedulerpb.Call_ACKNOWLEDGE.Enum(),
			Acknowledge: &schedulerpb.Call_Acknowledge{AgentId: &mesospb.AgentID{Value: proto.String(ag.id)},
				TaskId: &mesospb.TaskID{Value: proto.String(arg(2))}, Uuid: s.uuid(arg(3))}})
	case "reconcile":
		s.reconcile(s.framework(arg(0)), pos[1:])
	case "kill":
		s.call(s.framework(arg(0)), &schedulerpb.Call{Type: schedulerpb.Call_KILL.Enum(),
			Kill: &schedulerpb.Call_Kill{TaskId: &mesospb.TaskID{Value: proto.String(arg(1))}}})
	case "teardown":
		s.call(s.framework(arg(0)), simpleCall(schedulerpb.Call_TEARDOWN))
	case "lose":
		s.lose(s.agent(arg(0)))
	case "reregister":
		s.reregister(s.agent(arg(0)), arg(1), pos[2:])
	case "tick":
		d, err := time.ParseDuration(arg(0))
		if err != nil {
			s.fail("tick: %v", err)
		}
		s.now = s.now.Add(d)
		s.c.Tick(s.now)
	case "tasks":
		s.tasks(s.framework(arg(0)))
	case "restart":
		reg := s.reg
		if slices.Contains(pos, "fresh-registry") {
			reg = newRecordingRegistry()
		}
		var cfg Config
		if v, ok := kv["fanout"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				s.fail("restart fanout=%s: %v", v, err)
			}
			cfg.Allocator.OfferFanout = n
		}
		s.restart(reg, cfg)
		s.printf("master m%d", s.masters)
	case "failover":
		s.failover(kv)
	case "weights":
		var infos []*mesospb.WeightInfo
		for _, role := range slices.Sorted(maps.Keys(kv)) {
			w, err := strconv.ParseFloat(kv[role], 64)
			if err != nil {
				s.fail("weights %s=%s: %v", role, kv[role], err)
			}
			infos = append(infos, &mesospb.WeightInfo{Role: proto.String(role), Weight: proto.Float64(w)})
		}
		s.check(s.c.UpdateWeights(infos))
	case "quota":
		s.quota(arg(0), arg(1))
	case "roles":
		s.roles()
	case "allocation":
		s.allocation(s.agent(arg(0)))
	case "accept", "operator", "offers", "forget-checkpoint", "operations":
		s.reservationCommand(f[0], pos, kv)
	case "maint", "drain", "reactivate", "agent-status", "accept-inverse", "decline-inverse", "inverse-offers":
		s.maintenanceCommand(f[0], pos, kv)
	default:
		s.fail("unknown command %q", f[0])
	}
	s.settle()
}

func splitArgs(fields []string) (pos []string, kv map[string]string) {
	kv = map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	return pos, kv
}

func (s *script) check(err error) {
	if err != nil {
		s.printf("error: %v", err)
	}
}

func (s *script) registerAgent(name, res, ip string) {
	r, err := resources.Parse(res)
	if err != nil {
		s.fail("agent %s: %v", name, err)
	}
	ag := &scriptAgent{name: name, link: s.newConn(name)}
	s.agents[name] = ag
	reg := &linkpb.AgentCall_Register{AgentInfo: &mesospb.AgentInfo{Hostname: proto.String(name), Resources: r.ToProto("", false)}}
	if ip != "" {
		reg.Ip = proto.String(ip)
	}
	s.check(s.c.RegisterAgent(s.now, ag.link, &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: reg}))
}

func (s *script) reregister(ag *scriptAgent, res string, tasks []string) {
	r, err := resources.Parse(res)
	if err != nil {
		s.fail("reregister %s: %v", ag.name, err)
	}
	reg := &linkpb.AgentCall_Register{AgentInfo: &mesospb.AgentInfo{
		Id: &mesospb.AgentID{Value: proto.String(ag.id)}, Hostname: proto.String(ag.name),
		Resources: r.ToProto("", false)}, CheckpointedResources: ag.ckpt}
	for _, spec := range tasks {
		parts := strings.Split(spec, "/")
		if len(parts) != 3 && len(parts) != 5 {
			s.fail("reregister: task %q: want F/T/RES or F/T/RES/STATE/UUID", spec)
		}
		fw := s.framework(parts[0])
		tr, err := resources.Parse(parts[2])
		if err != nil {
			s.fail("reregister: task %q: %v", spec, err)
		}
		reg.Tasks = append(reg.Tasks, &mesospb.Task{Name: proto.String(parts[1]),
			TaskId: &mesospb.TaskID{Value: proto.String(parts[1])}, FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw.id)},
			AgentId: &mesospb.AgentID{Value: proto.String(ag.id)}, State: mesospb.TaskState_TASK_RUNNING.Enum(),
			Resources: withAllocationRole(tr.ToProto("", false), "*")})
		if len(parts) == 5 {
			// The agent's latest state, and the last update it sent (not
			// acknowledged).
			st, ok := mesospb.TaskState_value[parts[3]]
			if !ok {
				s.fail("reregister: task %q: unknown state %s", spec, parts[3])
			}
			tp := reg.Tasks[len(reg.Tasks)-1]
			tp.State, tp.StatusUpdateState = mesospb.TaskState(st).Enum(), mesospb.TaskState(st).Enum()
			tp.StatusUpdateUuid = s.uuid(parts[4])
		}
		info := proto.CloneOf(fw.info)
		info.Id = &mesospb.FrameworkID{Value: proto.String(fw.id)}
		reg.Frameworks = append(reg.Frameworks, info)
	}
	ag.link, ag.silent = s.newConn(ag.name), false
	s.check(s.c.RegisterAgent(s.now, ag.link, &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: reg}))
}

// failover starts a new master that recovers from the registry's records,
// as a newly elected leader does, and prints what it recovered.
func (s *script) failover(kv map[string]string) {
	var cfg Config
	if v, ok := kv["reregister-timeout"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.fail("reregister-timeout=%s: %v", v, err)
		}
		cfg.AgentReregisterTimeout = d
	}
	if v, ok := kv["removal-limit"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			s.fail("removal-limit=%s: %v", v, err)
		}
		cfg.RecoveryAgentRemovalLimit = f
	}
	rec := s.reg.recovery()
	s.restart(s.reg, cfg)
	s.check(s.c.Recover(s.now, rec))
	var agents, fws []string
	for _, a := range rec.Agents {
		agents = append(agents, s.name(s.agName, a.GetId().GetValue()))
	}
	for _, f := range rec.Frameworks {
		fws = append(fws, s.name(s.fwName, f.Info.GetId().GetValue()))
	}
	s.printf("master m%d recovered agents=%s frameworks=%s", s.masters, strings.Join(agents, ","), strings.Join(fws, ","))
}

func (s *script) subscribe(name string, flags []string, kv map[string]string) {
	fw := s.fws[name]
	if fw == nil {
		info := &mesospb.FrameworkInfo{User: proto.String("alice"), Name: proto.String(name)}
		if v, ok := kv["role"]; ok {
			info.Role = proto.String(v)
		}
		if slices.Contains(flags, "refinement") {
			info.Capabilities = append(info.Capabilities, &mesospb.FrameworkInfo_Capability{
				Type: mesospb.FrameworkInfo_Capability_RESERVATION_REFINEMENT.Enum()})
		}
		if v, ok := kv["principal"]; ok {
			info.Principal = proto.String(v)
		}
		if slices.Contains(flags, "partition-aware") {
			info.Capabilities = []*mesospb.FrameworkInfo_Capability{
				{Type: mesospb.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
		}
		if v, ok := kv["failover"]; ok {
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil {
				s.fail("failover=%s: %v", v, err)
			}
			info.FailoverTimeout = proto.Float64(secs)
		}
		fw = &scriptFramework{name: name, info: info, offers: map[string]string{}}
		s.fws[name] = fw
	}
	info := proto.Clone(fw.info).(*mesospb.FrameworkInfo)
	if id, ok := kv["id"]; ok {
		info.Id = &mesospb.FrameworkID{Value: proto.String(id)}
	} else if fw.id != "" {
		info.Id = &mesospb.FrameworkID{Value: proto.String(fw.id)}
	}
	stream := s.newConn(name)
	if err := s.c.Subscribe(s.now, stream, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info}}); err != nil {
		s.printf("error: %v", err)
		return
	}
	fw.stream = stream
}

func (s *script) call(fw *scriptFramework, call *schedulerpb.Call) {
	call.FrameworkId = &mesospb.FrameworkID{Value: proto.String(fw.id)}
	s.check(s.c.Call(s.now, fw.stream, call))
}

func (s *script) launch(fw *scriptFramework, ag *scriptAgent, task, res string, stale bool) {
	offers := fw.offers
	if stale {
		offers = fw.rescinded
	}
	offer, ok := offers[ag.name]
	if !ok {
		s.fail("launch: %s has no offer on %s", fw.name, ag.name)
	}
	delete(offers, ag.name)
	r, err := resources.Parse(res)
	if err != nil {
		s.fail("launch: %v", err)
	}
	s.call(fw, acceptCall([]string{offer}, nil, commandTask(task, ag.id, r.ToProto("", false))))
}

func (s *script) update(ag *scriptAgent, fw *scriptFramework, task, state string, kv map[string]string) {
	st := &mesospb.TaskStatus{
		TaskId:  &mesospb.TaskID{Value: proto.String(task)},
		State:   parseState(s, state).Enum(),
		Source:  mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
		AgentId: &mesospb.AgentID{Value: proto.String(ag.id)},
	}
	if u, ok := kv["uuid"]; ok {
		st.Uuid = s.uuid(u)
	}
	if r, ok := kv["reason"]; ok {
		v, ok := mesospb.TaskStatus_Reason_value[r]
		if !ok {
			s.fail("unknown reason %s", r)
		}
		st.Reason = mesospb.TaskStatus_Reason(v).Enum()
	}
	su := &linkpb.AgentCall_StatusUpdate{FrameworkId: &mesospb.FrameworkID{Value: proto.String(fw.id)}, Status: st}
	if l, ok := kv["latest"]; ok {
		su.LatestState = parseState(s, l).Enum()
	}
	s.check(s.c.AgentCall(s.now, &linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
		LinkId: proto.String(ag.link), StatusUpdate: su}))
}

func parseState(s *script, name string) mesospb.TaskState {
	v, ok := mesospb.TaskState_value[name]
	if !ok {
		s.fail("unknown task state %s", name)
	}
	return mesospb.TaskState(v)
}

func (s *script) reconcile(fw *scriptFramework, tasks []string) {
	rec := &schedulerpb.Call_Reconcile{}
	for _, spec := range tasks {
		id, agName, _ := strings.Cut(spec, "@")
		rt := &schedulerpb.Call_Reconcile_Task{TaskId: &mesospb.TaskID{Value: proto.String(id)}}
		if agName != "" {
			rt.AgentId = &mesospb.AgentID{Value: proto.String(s.agent(agName).id)}
		}
		rec.Tasks = append(rec.Tasks, rt)
	}
	s.call(fw, &schedulerpb.Call{Type: schedulerpb.Call_RECONCILE.Enum(), Reconcile: rec})
}

// lose silences an agent and runs ping rounds until the core removes it.
func (s *script) lose(ag *scriptAgent) {
	ag.silent = true
	for range 2 * (DefaultMaxAgentPingTimeouts + 1) {
		s.now = s.now.Add(DefaultAgentPingTimeout)
		s.c.Tick(s.now)
		s.settle()
		if s.c.agents[ag.id] == nil {
			return
		}
	}
	s.fail("agent %s was not lost", ag.name)
}

func (s *script) tasks(fw *scriptFramework) {
	st := s.c.State(s.now, "", nil)
	for _, list := range [][]present.MasterFramework{st.Frameworks, st.CompletedFrameworks} {
		for _, f := range list {
			if f.ID != fw.id {
				continue
			}
			for _, part := range []struct {
				name  string
				tasks []present.Task
			}{{"task", f.Tasks}, {"unreachable", f.UnreachableTasks}, {"completed", f.CompletedTasks}} {
				for _, t := range part.tasks {
					s.printf("%s %s %s agent=%s", part.name, t.ID, t.State, s.name(s.agName, t.SlaveID))
				}
			}
		}
	}
}

// settle prints the outputs of an input, then runs Tick when it is due (the
// shell does so after every input) and prints its outputs.
func (s *script) settle() {
	s.print()
	if !s.c.NextTick().After(s.now) {
		s.c.Tick(s.now)
		s.print()
	}
}

// print prints the outputs collected since the last call and answers the
// PINGs of agents that are not silent.
func (s *script) print() {
	r := s.c.Ready()
	for _, e := range r.Events {
		if _, err := proto.Marshal(e.Event); err != nil {
			s.fail("event to %s does not marshal: %v", e.Stream, err)
		}
		s.printEvent(s.name(s.conn, e.Stream), e.Event)
	}
	var pongs []*scriptAgent
	for _, m := range r.Messages {
		if _, err := proto.Marshal(m.Event); err != nil {
			s.fail("message to %s does not marshal: %v", m.Link, err)
		}
		name := s.name(s.conn, m.Link)
		if m.Event.GetType() == linkpb.MasterEvent_PING {
			if ag := s.agents[name]; ag != nil && !ag.silent {
				pongs = append(pongs, ag)
			}
			continue
		}
		s.printMessage(name, m.Event)
	}
	for _, id := range r.CloseStreams {
		name, which := s.name(s.conn, id), ""
		if fw := s.fws[name]; fw != nil && fw.stream != id {
			which = "previous "
		}
		s.printf("%s %sstream closed", name, which)
	}
	for _, id := range r.CloseLinks {
		name, which := s.name(s.conn, id), ""
		if ag := s.agents[name]; ag != nil && ag.link != id {
			which = "previous "
		}
		s.printf("%s %slink closed", name, which)
	}
	for _, ag := range pongs {
		s.check(s.c.AgentCall(s.now, &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
			LinkId: proto.String(ag.link), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}}))
	}
}

func (s *script) printEvent(to string, ev *schedulerpb.Event) {
	switch ev.GetType() {
	case schedulerpb.Event_SUBSCRIBED:
		id := ev.GetSubscribed().GetFrameworkId().GetValue()
		if fw := s.fws[to]; fw != nil {
			fw.id = id
			s.fwName[id] = to
		}
		s.printf("%s <- SUBSCRIBED id=%s", to, id)
	case schedulerpb.Event_OFFERS:
		var on []string
		for _, o := range ev.GetOffers().GetOffers() {
			agName := s.name(s.agName, o.GetAgentId().GetValue())
			if fw := s.fws[to]; fw != nil {
				fw.offers[agName] = o.GetId().GetValue()
			}
			on = append(on, agName)
		}
		s.printf("%s <- OFFERS %s", to, strings.Join(on, " "))
	case schedulerpb.Event_INVERSE_OFFERS, schedulerpb.Event_RESCIND_INVERSE_OFFER:
		s.printInverse(to, ev)
	case schedulerpb.Event_RESCIND:
		if fw := s.fws[to]; fw != nil {
			for a, id := range fw.offers {
				if id == ev.GetRescind().GetOfferId().GetValue() {
					delete(fw.offers, a)
					if fw.rescinded == nil {
						fw.rescinded = map[string]string{}
					}
					fw.rescinded[a] = id
				}
			}
		}
		s.printf("%s <- RESCIND", to)
	case schedulerpb.Event_UPDATE:
		s.printf("%s <- UPDATE %s", to, s.status(ev.GetUpdate().GetStatus()))
	case schedulerpb.Event_FAILURE:
		s.printf("%s <- FAILURE agent=%s", to, s.name(s.agName, ev.GetFailure().GetAgentId().GetValue()))
	case schedulerpb.Event_ERROR:
		s.printf("%s <- ERROR %q", to, ev.GetError().GetMessage())
	case schedulerpb.Event_UPDATE_OPERATION_STATUS:
		s.printf("%s <- UPDATE_OPERATION_STATUS %s", to, s.operationStatus(ev.GetUpdateOperationStatus().GetStatus()))
	default:
		s.printf("%s <- %s", to, ev.GetType())
	}
}

func (s *script) status(st *mesospb.TaskStatus) string {
	src := strings.TrimPrefix(st.GetSource().String(), "SOURCE_")
	line := fmt.Sprintf("%s %s src=%s uuid=%s", st.GetTaskId().GetValue(), st.GetState(), src, s.nameUUID(st.GetUuid()))
	if st.Reason != nil {
		line += " reason=" + st.GetReason().String()
	}
	if st.AgentId != nil {
		line += " agent=" + s.name(s.agName, st.GetAgentId().GetValue())
	}
	if st.UnreachableTime != nil {
		line += " unreachable_time"
	}
	if st.GetReason() == mesospb.TaskStatus_REASON_INVALID_OFFERS {
		line += fmt.Sprintf(" message=%q", st.GetMessage())
	}
	return line
}

func (s *script) printMessage(to string, m *linkpb.MasterEvent) {
	switch m.GetType() {
	case linkpb.MasterEvent_REGISTERED:
		id := m.GetRegistered().GetAgentId().GetValue()
		if ag := s.agents[to]; ag != nil {
			ag.id = id
			s.agName[id] = to
		}
		s.printf("%s <- REGISTERED id=%s", to, id)
	case linkpb.MasterEvent_RUN_TASK:
		s.printf("%s <- RUN_TASK %s", to, m.GetRunTask().GetTask().GetTaskId().GetValue())
	case linkpb.MasterEvent_ACKNOWLEDGE:
		a := m.GetAcknowledge()
		s.printf("%s <- ACKNOWLEDGE %s uuid=%s", to, a.GetTaskId().GetValue(), s.nameUUID(a.GetUuid()))
	case linkpb.MasterEvent_KILL_TASK:
		if g := m.GetKillTask().GetKillPolicy().GetGracePeriod(); g != nil {
			s.printf("%s <- KILL_TASK %s grace=%v", to, m.GetKillTask().GetTaskId().GetValue(), time.Duration(g.GetNanoseconds()))
		} else {
			s.printf("%s <- KILL_TASK %s", to, m.GetKillTask().GetTaskId().GetValue())
		}
	case linkpb.MasterEvent_CHECKPOINT_RESOURCES:
		r, err := resources.FromProto(m.GetCheckpointResources().GetResources())
		if err != nil {
			s.fail("CHECKPOINT_RESOURCES: %v", err)
		}
		if ag := s.agents[to]; ag != nil {
			ag.ckpt = m.GetCheckpointResources().GetResources()
		}
		s.printf("%s <- CHECKPOINT_RESOURCES %s", to, r)
	case linkpb.MasterEvent_SHUTDOWN_FRAMEWORK:
		s.printf("%s <- SHUTDOWN_FRAMEWORK %s", to, s.name(s.fwName, m.GetShutdownFramework().GetFrameworkId().GetValue()))
	default:
		s.printf("%s <- %s", to, m.GetType())
	}
}

func (s *script) quota(role, text string) {
	r, err := resources.Parse(text)
	if err != nil {
		s.fail("quota %s %s: %v", role, text, err)
	}
	cfg := &quotapb.QuotaConfig{Role: proto.String(role), Guarantees: map[string]*mesospb.Value_Scalar{},
		Limits: map[string]*mesospb.Value_Scalar{}}
	for _, q := range r.Quantities() {
		cfg.Guarantees[q.Name] = &mesospb.Value_Scalar{Value: proto.Float64(q.Value.Float())}
		cfg.Limits[q.Name] = &mesospb.Value_Scalar{Value: proto.Float64(q.Value.Float())}
	}
	s.check(s.c.UpdateQuota(s.now, []*quotapb.QuotaConfig{cfg}, true))
}

// roles prints what GET_WEIGHTS, GET_ROLES and GET_QUOTA answer.
func (s *script) roles() {
	for _, w := range s.c.GetWeights().GetWeightInfos() {
		s.printf("weight %s=%v", w.GetRole(), w.GetWeight())
	}
	for _, r := range s.c.GetRoles().GetRoles() {
		var fws []string
		for _, id := range r.GetFrameworks() {
			fws = append(fws, s.name(s.fwName, id.GetValue()))
		}
		s.printf("role %s weight=%v frameworks=%s", r.GetName(), r.GetWeight(), strings.Join(fws, ","))
	}
	for _, cfg := range s.c.GetQuota().GetConfigs() {
		var g []string
		for _, name := range slices.Sorted(maps.Keys(cfg.GetGuarantees())) {
			g = append(g, fmt.Sprintf("%s:%v", name, cfg.GetGuarantees()[name].GetValue()))
		}
		s.printf("quota %s guarantees=%s", cfg.GetRole(), strings.Join(g, ";"))
	}
}

// allocation prints the allocator's view of an agent.
func (s *script) allocation(ag *scriptAgent) {
	as, ok := s.c.alloc.Agent(ag.id)
	if !ok {
		s.printf("%s not in the allocator", ag.name)
		return
	}
	s.printf("%s available=%v", ag.name, as.Available)
	for _, h := range as.Holdings {
		s.printf("%s %s role=%s offered=%v used=%v", ag.name, s.name(s.fwName, h.Framework), h.Role, h.Offered, h.Used)
	}
}
