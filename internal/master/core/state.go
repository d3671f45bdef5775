package core

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// State is the master's /state (and /master/state) document: a subset of
// the fields Mesos returns, with the same names and shapes, so that tools
// written against Mesos read it.
type State struct {
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
	LeaderInfo            MasterInfoJSON    `json:"leader_info"`
	Flags                 map[string]string `json:"flags"`
	Slaves                []AgentJSON       `json:"slaves"`
	Frameworks            []FrameworkJSON   `json:"frameworks"`
	CompletedFrameworks   []FrameworkJSON   `json:"completed_frameworks"`
	OrphanTasks           []TaskJSON        `json:"orphan_tasks"`
	UnregisteredFramework []string          `json:"unregistered_frameworks"`
}

// MasterInfoJSON is MasterInfo in /state.
type MasterInfoJSON struct {
	ID       string      `json:"id"`
	PID      string      `json:"pid"`
	Port     uint32      `json:"port"`
	IP       uint32      `json:"ip"`
	Hostname string      `json:"hostname"`
	Version  string      `json:"version"`
	Address  AddressJSON `json:"address"`
}

// AddressJSON is Address in /state.
type AddressJSON struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int32  `json:"port"`
}

// AgentJSON is an entry of /state's "slaves".
type AgentJSON struct {
	ID                  string                    `json:"id"`
	PID                 string                    `json:"pid"`
	Hostname            string                    `json:"hostname"`
	Port                int32                     `json:"port"`
	RegisteredTime      float64                   `json:"registered_time"`
	ReregisteredTime    float64                   `json:"reregistered_time,omitempty"`
	Resources           map[string]any            `json:"resources"`
	UsedResources       map[string]any            `json:"used_resources"`
	OfferedResources    map[string]any            `json:"offered_resources"`
	ReservedResources   map[string]map[string]any `json:"reserved_resources"`
	UnreservedResources map[string]any            `json:"unreserved_resources"`
	Attributes          map[string]any            `json:"attributes"`
	Active              bool                      `json:"active"`
	Version             string                    `json:"version"`
}

// FrameworkJSON is an entry of /state's "frameworks".
type FrameworkJSON struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	PID              string         `json:"pid,omitempty"`
	User             string         `json:"user"`
	Hostname         string         `json:"hostname"`
	WebuiURL         string         `json:"webui_url"`
	Principal        string         `json:"principal,omitempty"`
	Role             string         `json:"role,omitempty"`
	Roles            []string       `json:"roles"`
	Capabilities     []string       `json:"capabilities"`
	Active           bool           `json:"active"`
	Connected        bool           `json:"connected"`
	Recovered        bool           `json:"recovered"`
	Checkpoint       bool           `json:"checkpoint"`
	FailoverTimeout  float64        `json:"failover_timeout"`
	RegisteredTime   float64        `json:"registered_time"`
	ReregisteredTime float64        `json:"reregistered_time,omitempty"`
	UnregisteredTime float64        `json:"unregistered_time"`
	Resources        map[string]any `json:"resources"`
	UsedResources    map[string]any `json:"used_resources"`
	OfferedResources map[string]any `json:"offered_resources"`
	Offers           []OfferJSON    `json:"offers"`
	Tasks            []TaskJSON     `json:"tasks"`
	CompletedTasks   []TaskJSON     `json:"completed_tasks"`
	UnreachableTasks []TaskJSON     `json:"unreachable_tasks"`
	Executors        []ExecutorJSON `json:"executors"`
}

// OfferJSON is an outstanding offer in /state.
type OfferJSON struct {
	ID          string         `json:"id"`
	FrameworkID string         `json:"framework_id"`
	SlaveID     string         `json:"slave_id"`
	Resources   map[string]any `json:"resources"`
	Role        string         `json:"role"`
}

// TaskJSON is a task in /state.
type TaskJSON struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	FrameworkID string           `json:"framework_id"`
	ExecutorID  string           `json:"executor_id"`
	SlaveID     string           `json:"slave_id"`
	State       string           `json:"state"`
	Role        string           `json:"role"`
	User        string           `json:"user,omitempty"`
	Resources   map[string]any   `json:"resources"`
	Statuses    []TaskStatusJSON `json:"statuses"`
}

// TaskStatusJSON is an entry of a task's "statuses".
type TaskStatusJSON struct {
	State     string  `json:"state"`
	Timestamp float64 `json:"timestamp"`
	Source    string  `json:"source,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	Message   string  `json:"message,omitempty"`
}

// ExecutorJSON is an executor in a framework's "executors".
type ExecutorJSON struct {
	ExecutorID  string         `json:"executor_id"`
	Name        string         `json:"name"`
	FrameworkID string         `json:"framework_id"`
	SlaveID     string         `json:"slave_id"`
	Resources   map[string]any `json:"resources"`
}

func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return timestamp(t)
}

// State builds the /state document.
func (c *Core) State(now time.Time, version string, flags map[string]string) *State {
	mi := c.cfg.MasterInfo
	pid := mi.GetPid()
	s := &State{
		Version:               version,
		StartTime:             seconds(c.started),
		ElectedTime:           seconds(c.started),
		ID:                    mi.GetId(),
		PID:                   pid,
		Hostname:              mi.GetHostname(),
		Leader:                pid,
		Flags:                 flags,
		LeaderInfo:            masterInfoJSON(mi),
		Slaves:                []AgentJSON{},
		Frameworks:            []FrameworkJSON{},
		CompletedFrameworks:   []FrameworkJSON{},
		OrphanTasks:           []TaskJSON{},
		UnregisteredFramework: []string{},
	}
	if s.Flags == nil {
		s.Flags = map[string]string{}
	}
	for _, id := range sortedKeys(c.agents) {
		ag := c.agents[id]
		if ag.link != "" {
			s.ActivatedSlaves++
		} else {
			s.DeactivatedSlaves++
		}
		s.Slaves = append(s.Slaves, c.agentJSON(ag))
	}
	for _, id := range sortedKeys(c.frameworks) {
		s.Frameworks = append(s.Frameworks, frameworkJSON(c.frameworks[id]))
	}
	for _, fw := range slices.Backward(c.completed) {
		s.CompletedFrameworks = append(s.CompletedFrameworks, frameworkJSON(fw))
	}
	return s
}

func masterInfoJSON(mi *mesospb.MasterInfo) MasterInfoJSON {
	return MasterInfoJSON{
		ID: mi.GetId(), PID: mi.GetPid(), Port: mi.GetPort(), IP: mi.GetIp(),
		Hostname: mi.GetHostname(), Version: mi.GetVersion(),
		Address: AddressJSON{Hostname: mi.GetAddress().GetHostname(), IP: mi.GetAddress().GetIp(), Port: mi.GetAddress().GetPort()},
	}
}

func (c *Core) agentJSON(ag *agent) AgentJSON {
	var offered resources.Resources
	for _, o := range ag.offers {
		offered = offered.Add(o.res)
	}
	reserved := map[string]map[string]any{}
	for _, r := range ag.total.Reserved() {
		if _, ok := reserved[r.Role]; !ok {
			reserved[r.Role] = resourcesJSON(ag.total.ReservedTo(r.Role))
		}
	}
	hostport := net.JoinHostPort(ag.hostname(), fmt.Sprint(ag.info.GetPort()))
	return AgentJSON{
		ID: ag.id, PID: "slave(1)@" + hostport, Hostname: ag.hostname(), Port: ag.info.GetPort(),
		RegisteredTime: seconds(ag.registered), ReregisteredTime: seconds(ag.reregistered),
		Resources: resourcesJSON(ag.total), UsedResources: resourcesJSON(c.usedOn(ag)),
		OfferedResources: resourcesJSON(offered), ReservedResources: reserved,
		UnreservedResources: resourcesJSON(ag.total.Unreserved()),
		Attributes:          attributesJSON(ag.info.GetAttributes()),
		Active:              ag.link != "", Version: ag.version,
	}
}

func frameworkJSON(fw *framework) FrameworkJSON {
	info := fw.info
	j := FrameworkJSON{
		ID: fw.id, Name: info.GetName(), User: info.GetUser(), Hostname: info.GetHostname(),
		WebuiURL: info.GetWebuiUrl(), Principal: info.GetPrincipal(), Roles: fw.roles,
		Capabilities: []string{}, Active: fw.connected(), Connected: fw.connected(), Recovered: fw.recovered,
		Checkpoint: info.GetCheckpoint(), FailoverTimeout: info.GetFailoverTimeout(),
		RegisteredTime: seconds(fw.registered), ReregisteredTime: seconds(fw.reregistered),
		UnregisteredTime: seconds(fw.unregistered),
		Offers:           []OfferJSON{}, Tasks: []TaskJSON{}, CompletedTasks: []TaskJSON{},
		UnreachableTasks: []TaskJSON{}, Executors: []ExecutorJSON{},
	}
	if !fw.multiRole {
		j.Role = fw.roles[0]
	}
	for _, cp := range info.GetCapabilities() {
		j.Capabilities = append(j.Capabilities, cp.GetType().String())
	}
	var used, offered resources.Resources
	for _, id := range sortedKeys(fw.offers) {
		o := fw.offers[id]
		offered = offered.Add(o.res)
		j.Offers = append(j.Offers, OfferJSON{ID: o.id, FrameworkID: fw.id, SlaveID: o.agent.id,
			Resources: resourcesJSON(o.res), Role: o.role})
	}
	for _, id := range sortedKeys(fw.tasks) {
		t := fw.tasks[id]
		if !t.freed {
			used = used.Add(t.res)
		}
		if t.held != nil && t.state() == mesospb.TaskState_TASK_UNREACHABLE {
			j.UnreachableTasks = append(j.UnreachableTasks, taskJSON(t))
			continue
		}
		j.Tasks = append(j.Tasks, taskJSON(t))
	}
	for _, t := range slices.Backward(fw.completed) {
		j.CompletedTasks = append(j.CompletedTasks, taskJSON(t))
	}
	for _, e := range fw.executors {
		used = used.Add(e.res)
		j.Executors = append(j.Executors, ExecutorJSON{ExecutorID: e.id, Name: e.info.GetName(),
			FrameworkID: fw.id, SlaveID: e.agent, Resources: resourcesJSON(e.res)})
	}
	slices.SortFunc(j.Executors, func(a, b ExecutorJSON) int {
		return strings.Compare(a.SlaveID+"/"+a.ExecutorID, b.SlaveID+"/"+b.ExecutorID)
	})
	j.UsedResources, j.OfferedResources = resourcesJSON(used), resourcesJSON(offered)
	j.Resources = resourcesJSON(used.Add(offered))
	return j
}

func taskJSON(t *task) TaskJSON {
	j := TaskJSON{
		ID: t.id, Name: t.proto.GetName(), FrameworkID: t.fw, ExecutorID: t.executorID, SlaveID: t.agent,
		State: t.state().String(), Role: t.role, User: t.proto.GetUser(), Resources: resourcesJSON(t.res),
		Statuses: []TaskStatusJSON{},
	}
	for _, s := range t.proto.GetStatuses() {
		sj := TaskStatusJSON{State: s.GetState().String(), Timestamp: s.GetTimestamp(), Message: s.GetMessage()}
		if s.Source != nil {
			sj.Source = s.GetSource().String()
		}
		if s.Reason != nil {
			sj.Reason = s.GetReason().String()
		}
		j.Statuses = append(j.Statuses, sj)
	}
	return j
}

// resourcesJSON is Mesos' JSON model of resources: scalars summed by name
// as numbers, ranges as "[a-b, c-d]", sets as "{a, b}"; cpus, mem, disk
// and gpus always present.
func resourcesJSON(rs resources.Resources) map[string]any {
	m := map[string]any{"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
	scalars := map[string]resources.Scalar{}
	ranges := map[string][]resources.Range{}
	sets := map[string][]string{}
	for _, r := range rs {
		switch r.Kind {
		case resources.KindScalar:
			scalars[r.Name] += r.Scalar
		case resources.KindRanges:
			ranges[r.Name] = append(ranges[r.Name], r.Ranges...)
		case resources.KindSet:
			sets[r.Name] = append(sets[r.Name], r.Set...)
		}
	}
	for name, s := range scalars {
		m[name] = s.Float()
	}
	for name, rgs := range ranges {
		parts := make([]string, len(rgs))
		for i, rg := range rgs {
			parts[i] = fmt.Sprintf("%d-%d", rg.Begin, rg.End)
		}
		m[name] = "[" + strings.Join(parts, ", ") + "]"
	}
	for name, items := range sets {
		m[name] = "{" + strings.Join(items, ", ") + "}"
	}
	return m
}

// attributesJSON is Mesos' JSON model of attributes: name to value
// (numbers for scalars, strings otherwise).
func attributesJSON(attrs []*mesospb.Attribute) map[string]any {
	m := map[string]any{}
	for _, a := range attrs {
		switch a.GetType() {
		case mesospb.Value_SCALAR:
			m[a.GetName()] = a.GetScalar().GetValue()
		case mesospb.Value_TEXT:
			m[a.GetName()] = a.GetText().GetValue()
		case mesospb.Value_RANGES:
			var parts []string
			for _, rg := range a.GetRanges().GetRange() {
				parts = append(parts, fmt.Sprintf("%d-%d", rg.GetBegin(), rg.GetEnd()))
			}
			m[a.GetName()] = "[" + strings.Join(parts, ", ") + "]"
		case mesospb.Value_SET:
			m[a.GetName()] = "{" + strings.Join(a.GetSet().GetItem(), ", ") + "}"
		}
	}
	return m
}
