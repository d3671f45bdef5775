package present

import (
	"slices"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// AgentView is what an agent knows of its frameworks, executors and tasks:
// the one input of both renderings of its state (AgentGetState for the
// operator API, AgentStateJSON for /state).
type AgentView struct {
	Frameworks []AgentFramework
	Completed  []AgentFramework
}

// AgentFramework is a framework on an agent.
type AgentFramework struct {
	Info      *mesospb.FrameworkInfo
	Executors []AgentExecutor
	Completed []AgentExecutor
}

// AgentExecutor is an executor on an agent.
type AgentExecutor struct {
	Info        *mesospb.ExecutorInfo
	FrameworkID string
	ContainerID string
	Directory   string
	State       string
	// Queued tasks wait for the executor to subscribe (state STAGING).
	Queued []*mesospb.Task
	// Tasks were given to the executor; terminal ones await the
	// acknowledgement of their terminal update.
	Tasks []*mesospb.Task
	// Completed tasks had their terminal update acknowledged.
	Completed []*mesospb.Task
}

// AgentGetState is the agent's GET_STATE answer.
func AgentGetState(v AgentView) *agentpb.Response_GetState {
	return &agentpb.Response_GetState{
		GetTasks:      AgentGetTasks(v),
		GetExecutors:  AgentGetExecutors(v),
		GetFrameworks: AgentGetFrameworks(v),
	}
}

// AgentGetFrameworks is the agent's GET_FRAMEWORKS answer.
func AgentGetFrameworks(v AgentView) *agentpb.Response_GetFrameworks {
	out := &agentpb.Response_GetFrameworks{}
	for _, fw := range v.Frameworks {
		out.Frameworks = append(out.Frameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: fw.Info})
	}
	for _, fw := range v.Completed {
		out.CompletedFrameworks = append(out.CompletedFrameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: fw.Info})
	}
	return out
}

// AgentGetExecutors is the agent's GET_EXECUTORS answer: the executors of
// live frameworks that have not terminated, then the terminated ones (and
// those of completed frameworks).
func AgentGetExecutors(v AgentView) *agentpb.Response_GetExecutors {
	out := &agentpb.Response_GetExecutors{}
	entry := func(e AgentExecutor) *agentpb.Response_GetExecutors_Executor {
		return &agentpb.Response_GetExecutors_Executor{ExecutorInfo: e.Info}
	}
	for _, fw := range v.Frameworks {
		for _, e := range fw.Executors {
			out.Executors = append(out.Executors, entry(e))
		}
		for _, e := range fw.Completed {
			out.CompletedExecutors = append(out.CompletedExecutors, entry(e))
		}
	}
	for _, fw := range v.Completed {
		for _, e := range slices.Concat(fw.Executors, fw.Completed) {
			out.CompletedExecutors = append(out.CompletedExecutors, entry(e))
		}
	}
	return out
}

// AgentGetTasks is the agent's GET_TASKS answer.
func AgentGetTasks(v AgentView) *agentpb.Response_GetTasks {
	out := &agentpb.Response_GetTasks{}
	for _, list := range [][]AgentFramework{v.Frameworks, v.Completed} {
		for _, fw := range list {
			for _, e := range slices.Concat(fw.Executors, fw.Completed) {
				out.QueuedTasks = append(out.QueuedTasks, e.Queued...)
				for _, t := range e.Tasks {
					if mesospb.IsTerminal(t.GetState()) {
						out.TerminatedTasks = append(out.TerminatedTasks, t)
					} else {
						out.LaunchedTasks = append(out.LaunchedTasks, t)
					}
				}
				out.CompletedTasks = append(out.CompletedTasks, e.Completed...)
			}
		}
	}
	return out
}

// AgentState is the agent's /state document, after Mesos' agent.
type AgentState struct {
	Version             string                `json:"version"`
	StartTime           float64               `json:"start_time"`
	ID                  string                `json:"id"`
	PID                 string                `json:"pid"`
	Hostname            string                `json:"hostname"`
	Port                int32                 `json:"port"`
	Resources           map[string]any        `json:"resources"`
	UnreservedResources map[string]any        `json:"unreserved_resources"`
	ReservedResources   map[string]any        `json:"reserved_resources"`
	Attributes          map[string]any        `json:"attributes"`
	MasterHostname      string                `json:"master_hostname,omitempty"`
	Flags               map[string]string     `json:"flags"`
	Frameworks          []AgentStateFramework `json:"frameworks"`
	CompletedFrameworks []AgentStateFramework `json:"completed_frameworks"`
}

// AgentStateFramework is a framework in the agent's /state.
type AgentStateFramework struct {
	ID                 string               `json:"id"`
	Name               string               `json:"name"`
	User               string               `json:"user"`
	FailoverTimeout    float64              `json:"failover_timeout"`
	Checkpoint         bool                 `json:"checkpoint"`
	Hostname           string               `json:"hostname"`
	Role               string               `json:"role"`
	Roles              []string             `json:"roles,omitempty"`
	Executors          []AgentStateExecutor `json:"executors"`
	CompletedExecutors []AgentStateExecutor `json:"completed_executors"`
}

// AgentStateExecutor is an executor in the agent's /state.
type AgentStateExecutor struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Source         string         `json:"source"`
	Container      string         `json:"container"`
	Directory      string         `json:"directory"`
	State          string         `json:"state"`
	Resources      map[string]any `json:"resources"`
	Tasks          []Task         `json:"tasks"`
	QueuedTasks    []Task         `json:"queued_tasks"`
	CompletedTasks []Task         `json:"completed_tasks"`
}

// AgentMeta is what the agent's /state says beyond its AgentView.
type AgentMeta struct {
	Version        string
	StartTime      float64
	ID             string
	PID            string
	Info           *mesospb.AgentInfo
	MasterHostname string
	Flags          map[string]string
}

// AgentStateJSON renders the agent's /state document.
func AgentStateJSON(v AgentView, meta AgentMeta) *AgentState {
	res := meta.Info.GetResources()
	s := &AgentState{
		Version: meta.Version, StartTime: meta.StartTime, ID: meta.ID, PID: meta.PID,
		Hostname: meta.Info.GetHostname(), Port: meta.Info.GetPort(),
		Resources: Resources(res), UnreservedResources: Resources(UnreservedResources(res)),
		ReservedResources: ReservedResources(res), Attributes: Attributes(meta.Info.GetAttributes()),
		MasterHostname: meta.MasterHostname, Flags: meta.Flags,
		Frameworks: []AgentStateFramework{}, CompletedFrameworks: []AgentStateFramework{},
	}
	for _, fw := range v.Frameworks {
		s.Frameworks = append(s.Frameworks, agentFrameworkJSON(fw))
	}
	for _, fw := range v.Completed {
		s.CompletedFrameworks = append(s.CompletedFrameworks, agentFrameworkJSON(fw))
	}
	return s
}

func agentFrameworkJSON(fw AgentFramework) AgentStateFramework {
	info := fw.Info
	j := AgentStateFramework{
		ID: info.GetId().GetValue(), Name: info.GetName(), User: info.GetUser(),
		FailoverTimeout: info.GetFailoverTimeout(), Checkpoint: info.GetCheckpoint(),
		Hostname: info.GetHostname(), Role: info.GetRole(), Roles: info.GetRoles(),
		Executors: []AgentStateExecutor{}, CompletedExecutors: []AgentStateExecutor{},
	}
	for _, e := range fw.Executors {
		j.Executors = append(j.Executors, agentExecutorJSON(e))
	}
	for _, e := range fw.Completed {
		j.CompletedExecutors = append(j.CompletedExecutors, agentExecutorJSON(e))
	}
	return j
}

func agentExecutorJSON(e AgentExecutor) AgentStateExecutor {
	info := e.Info
	return AgentStateExecutor{
		ID: info.GetExecutorId().GetValue(), Name: info.GetName(), Source: info.GetSource(),
		Container: e.ContainerID, Directory: e.Directory, State: e.State,
		Resources:      Resources(info.GetResources()),
		Tasks:          tasksJSON(e.Tasks, ""),
		QueuedTasks:    tasksJSON(e.Queued, ""),
		CompletedTasks: tasksJSON(e.Completed, ""),
	}
}
