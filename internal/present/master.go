package present

import (
	"slices"
	"time"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// MasterState is the master's /state (and /master/state) document: a
// subset of the fields Mesos returns, with the same names and shapes, so
// that tools written against Mesos read it.
type MasterState struct {
	Version               string            `json:"version"`
	StartTime             float64           `json:"start_time"`
	ElectedTime           float64           `json:"elected_time"`
	ID                    string            `json:"id"`
	PID                   string            `json:"pid"`
	Hostname              string            `json:"hostname"`
	ActivatedSlaves       int               `json:"activated_slaves"`
	DeactivatedSlaves     int               `json:"deactivated_slaves"`
	UnreachableSlaves     int               `json:"unreachable_slaves"`
	Leader                string            `json:"leader"`
	LeaderInfo            MasterInfo        `json:"leader_info"`
	Flags                 map[string]string `json:"flags"`
	Slaves                []MasterAgent     `json:"slaves"`
	Frameworks            []MasterFramework `json:"frameworks"`
	CompletedFrameworks   []MasterFramework `json:"completed_frameworks"`
	OrphanTasks           []Task            `json:"orphan_tasks"`
	UnregisteredFramework []string          `json:"unregistered_frameworks"`
}

// MasterInfo is MasterInfo in /state.
type MasterInfo struct {
	ID       string  `json:"id"`
	PID      string  `json:"pid"`
	Port     uint32  `json:"port"`
	IP       uint32  `json:"ip"`
	Hostname string  `json:"hostname"`
	Version  string  `json:"version"`
	Address  Address `json:"address"`
}

// Address is Address in /state.
type Address struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int32  `json:"port"`
}

// MasterAgent is an entry of the master's "slaves".
type MasterAgent struct {
	ID                  string         `json:"id"`
	PID                 string         `json:"pid"`
	Hostname            string         `json:"hostname"`
	Port                int32          `json:"port"`
	RegisteredTime      float64        `json:"registered_time"`
	ReregisteredTime    float64        `json:"reregistered_time,omitempty"`
	Resources           map[string]any `json:"resources"`
	UsedResources       map[string]any `json:"used_resources"`
	OfferedResources    map[string]any `json:"offered_resources"`
	ReservedResources   map[string]any `json:"reserved_resources"`
	UnreservedResources map[string]any `json:"unreserved_resources"`
	Attributes          map[string]any `json:"attributes"`
	Active              bool           `json:"active"`
	Deactivated         bool           `json:"deactivated"`
	DrainInfo           *DrainInfo     `json:"drain_info,omitempty"`
	Version             string         `json:"version"`
}

// DrainInfo is an agent's drain (DRAIN_AGENT), as Mesos shows it.
type DrainInfo struct {
	State  string      `json:"state"`
	Config DrainConfig `json:"config"`
}

// DrainConfig is a drain's configuration.
type DrainConfig struct {
	MaxGracePeriod *Nanoseconds `json:"max_grace_period,omitempty"`
	MarkGone       bool         `json:"mark_gone"`
}

// Nanoseconds is a DurationInfo in JSON.
type Nanoseconds struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

func drainInfoJSON(d *mesospb.DrainInfo) *DrainInfo {
	if d == nil {
		return nil
	}
	out := &DrainInfo{State: d.GetState().String(), Config: DrainConfig{MarkGone: d.GetConfig().GetMarkGone()}}
	if g := d.GetConfig().GetMaxGracePeriod(); g != nil {
		out.Config.MaxGracePeriod = &Nanoseconds{Nanoseconds: g.GetNanoseconds()}
	}
	return out
}

// MasterFramework is an entry of the master's "frameworks".
type MasterFramework struct {
	ID               string           `json:"id"`
	Name             string           `json:"name"`
	PID              string           `json:"pid,omitempty"`
	User             string           `json:"user"`
	Hostname         string           `json:"hostname"`
	WebuiURL         string           `json:"webui_url"`
	Principal        string           `json:"principal,omitempty"`
	Role             string           `json:"role,omitempty"`
	Roles            []string         `json:"roles"`
	Capabilities     []string         `json:"capabilities"`
	Active           bool             `json:"active"`
	Connected        bool             `json:"connected"`
	Recovered        bool             `json:"recovered"`
	Checkpoint       bool             `json:"checkpoint"`
	FailoverTimeout  float64          `json:"failover_timeout"`
	RegisteredTime   float64          `json:"registered_time"`
	ReregisteredTime float64          `json:"reregistered_time,omitempty"`
	UnregisteredTime float64          `json:"unregistered_time"`
	Resources        map[string]any   `json:"resources"`
	UsedResources    map[string]any   `json:"used_resources"`
	OfferedResources map[string]any   `json:"offered_resources"`
	Offers           []Offer          `json:"offers"`
	Tasks            []Task           `json:"tasks"`
	CompletedTasks   []Task           `json:"completed_tasks"`
	UnreachableTasks []Task           `json:"unreachable_tasks"`
	Executors        []MasterExecutor `json:"executors"`
}

// Offer is an outstanding offer in the master's state.
type Offer struct {
	ID          string         `json:"id"`
	FrameworkID string         `json:"framework_id"`
	SlaveID     string         `json:"slave_id"`
	Resources   map[string]any `json:"resources"`
	Role        string         `json:"role"`
}

// MasterExecutor is an executor in a framework's "executors".
type MasterExecutor struct {
	ExecutorID  string         `json:"executor_id"`
	Name        string         `json:"name"`
	FrameworkID string         `json:"framework_id"`
	SlaveID     string         `json:"slave_id"`
	Resources   map[string]any `json:"resources"`
}

// MasterMeta is what the master's state document says beyond GetState.
type MasterMeta struct {
	Info    *mesospb.MasterInfo
	Version string
	Flags   map[string]string
	Started time.Time // also the election time: meso masters lead from their start
}

func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// FrameworkRoles returns the roles a framework subscribes with: its roles
// with the MULTI_ROLE capability, else its role (default "*").
func FrameworkRoles(info *mesospb.FrameworkInfo) []string {
	if mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_MULTI_ROLE) {
		return slices.Clone(info.GetRoles())
	}
	return []string{info.GetRole()}
}

// MasterStateJSON derives the /state document from the operator state gs.
// (StateEncoder writes the same document without building it.)
func MasterStateJSON(gs *masterpb.Response_GetState, meta MasterMeta) *MasterState {
	s := MasterStateHead(gs, meta)
	s.Slaves, s.Frameworks, s.CompletedFrameworks = []MasterAgent{}, []MasterFramework{}, []MasterFramework{}
	for _, ag := range gs.GetGetAgents().GetAgents() {
		s.Slaves = append(s.Slaves, MasterAgentJSON(ag))
	}
	byFW := groupByFramework(gs.GetGetTasks(), gs.GetGetExecutors())
	for _, fw := range gs.GetGetFrameworks().GetFrameworks() {
		s.Frameworks = append(s.Frameworks, masterFrameworkJSON(fw, byFW))
	}
	for _, fw := range gs.GetGetFrameworks().GetCompletedFrameworks() {
		s.CompletedFrameworks = append(s.CompletedFrameworks, masterFrameworkJSON(fw, byFW))
	}
	return s
}

// MasterStateHead is the /state document without its lists of agents
// and frameworks (the agents counted).
func MasterStateHead(gs *masterpb.Response_GetState, meta MasterMeta) *MasterState {
	mi := meta.Info
	s := &MasterState{
		Version: meta.Version, StartTime: seconds(meta.Started), ElectedTime: seconds(meta.Started),
		ID: mi.GetId(), PID: mi.GetPid(), Hostname: mi.GetHostname(), Leader: mi.GetPid(),
		Flags: meta.Flags, LeaderInfo: masterInfoJSON(mi),
		OrphanTasks: []Task{}, UnregisteredFramework: []string{},
	}
	if s.Flags == nil {
		s.Flags = map[string]string{}
	}
	for _, ag := range gs.GetGetAgents().GetAgents() {
		if ag.GetActive() {
			s.ActivatedSlaves++
		} else {
			s.DeactivatedSlaves++
		}
	}
	return s
}

func masterInfoJSON(mi *mesospb.MasterInfo) MasterInfo {
	return MasterInfo{
		ID: mi.GetId(), PID: mi.GetPid(), Port: mi.GetPort(), IP: mi.GetIp(),
		Hostname: mi.GetHostname(), Version: mi.GetVersion(),
		Address: Address{Hostname: mi.GetAddress().GetHostname(), IP: mi.GetAddress().GetIp(), Port: mi.GetAddress().GetPort()},
	}
}

// MasterAgentJSON renders one agent of GET_AGENTS as an entry of "slaves".
func MasterAgentJSON(ag *masterpb.Response_GetAgents_Agent) MasterAgent {
	info := ag.GetAgentInfo()
	total := ag.GetTotalResources()
	return MasterAgent{
		ID: info.GetId().GetValue(), PID: ag.GetPid(), Hostname: info.GetHostname(), Port: info.GetPort(),
		RegisteredTime: Seconds(ag.GetRegisteredTime()), ReregisteredTime: Seconds(ag.GetReregisteredTime()),
		Resources: Resources(total), UsedResources: Resources(ag.GetAllocatedResources()),
		OfferedResources: Resources(ag.GetOfferedResources()), ReservedResources: ReservedResources(total),
		UnreservedResources: Resources(UnreservedResources(total)),
		Attributes:          Attributes(info.GetAttributes()),
		Active:              ag.GetActive(), Version: ag.GetVersion(),
		Deactivated: ag.GetDeactivated(), DrainInfo: drainInfoJSON(ag.GetDrainInfo()),
	}
}

// frameworkParts are the tasks and executors of one framework.
type frameworkParts struct {
	tasks, unreachable, completed []*mesospb.Task
	executors                     []*masterpb.Response_GetExecutors_Executor
}

func groupByFramework(tasks *masterpb.Response_GetTasks, execs *masterpb.Response_GetExecutors) map[string]*frameworkParts {
	m := map[string]*frameworkParts{}
	get := func(id string) *frameworkParts {
		p := m[id]
		if p == nil {
			p = &frameworkParts{}
			m[id] = p
		}
		return p
	}
	// The core lists each framework's tasks together: a framework's run
	// of tasks is a subslice (capped, so that a later run of the same
	// framework, if any, is appended to a copy).
	group := func(list []*mesospb.Task, part func(*frameworkParts) *[]*mesospb.Task) {
		for i := 0; i < len(list); {
			id := list[i].GetFrameworkId().GetValue()
			j := i + 1
			for j < len(list) && list[j].GetFrameworkId().GetValue() == id {
				j++
			}
			dst := part(get(id))
			if len(*dst) == 0 {
				*dst = list[i:j:j]
			} else {
				*dst = append(*dst, list[i:j]...)
			}
			i = j
		}
	}
	group(tasks.GetTasks(), func(p *frameworkParts) *[]*mesospb.Task { return &p.tasks })
	group(tasks.GetUnreachableTasks(), func(p *frameworkParts) *[]*mesospb.Task { return &p.unreachable })
	group(tasks.GetCompletedTasks(), func(p *frameworkParts) *[]*mesospb.Task { return &p.completed })
	for _, e := range execs.GetExecutors() {
		p := get(e.GetExecutorInfo().GetFrameworkId().GetValue())
		p.executors = append(p.executors, e)
	}
	return m
}

func masterFrameworkJSON(fw *masterpb.Response_GetFrameworks_Framework, byFW map[string]*frameworkParts) MasterFramework {
	info := fw.GetFrameworkInfo()
	id := info.GetId().GetValue()
	roles := FrameworkRoles(info)
	j := MasterFramework{
		ID: id, Name: info.GetName(), User: info.GetUser(), Hostname: info.GetHostname(),
		WebuiURL: info.GetWebuiUrl(), Principal: info.GetPrincipal(), Roles: roles,
		Capabilities: []string{}, Active: fw.GetActive(), Connected: fw.GetConnected(), Recovered: fw.GetRecovered(),
		Checkpoint: info.GetCheckpoint(), FailoverTimeout: info.GetFailoverTimeout(),
		RegisteredTime: Seconds(fw.GetRegisteredTime()), ReregisteredTime: Seconds(fw.GetReregisteredTime()),
		UnregisteredTime: Seconds(fw.GetUnregisteredTime()),
		UsedResources:    Resources(fw.GetAllocatedResources()), OfferedResources: Resources(fw.GetOfferedResources()),
		Resources: Resources(append(slices.Clone(fw.GetAllocatedResources()), fw.GetOfferedResources()...)),
		Offers:    []Offer{}, Executors: []MasterExecutor{},
	}
	fallback := ""
	if !mesospb.HasCapability(info, mesospb.FrameworkInfo_Capability_MULTI_ROLE) {
		j.Role, fallback = roles[0], roles[0]
	}
	for _, cp := range info.GetCapabilities() {
		j.Capabilities = append(j.Capabilities, cp.GetType().String())
	}
	for _, o := range fw.GetOffers() {
		role := allocationRole(o.GetResources())
		if role == "" {
			role = fallback
		}
		j.Offers = append(j.Offers, Offer{ID: o.GetId().GetValue(), FrameworkID: id,
			SlaveID: o.GetAgentId().GetValue(), Resources: Resources(o.GetResources()), Role: role})
	}
	parts := byFW[id]
	if parts == nil {
		parts = &frameworkParts{}
	}
	j.Tasks = tasksJSON(parts.tasks, fallback)
	j.UnreachableTasks = tasksJSON(parts.unreachable, fallback)
	j.CompletedTasks = tasksJSON(parts.completed, fallback)
	for _, e := range parts.executors {
		ei := e.GetExecutorInfo()
		j.Executors = append(j.Executors, MasterExecutor{ExecutorID: ei.GetExecutorId().GetValue(), Name: ei.GetName(),
			FrameworkID: id, SlaveID: e.GetAgentId().GetValue(), Resources: Resources(ei.GetResources())})
	}
	return j
}
