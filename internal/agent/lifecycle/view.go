package lifecycle

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// FrameworkView is a framework as /state shows it.
type FrameworkView struct {
	Info      *mesospb.FrameworkInfo
	Executors []ExecutorView
	Completed []ExecutorView
}

// ExecutorView is an executor as /state shows it.
type ExecutorView struct {
	FrameworkID string
	Info        *mesospb.ExecutorInfo
	ContainerID string
	State       ExecutorState
	Connected   bool
	Command     bool
	LaunchedAt  time.Time
	// Queued tasks have not been sent to the executor yet.
	Queued []*mesospb.TaskInfo
	// Tasks are launched tasks, terminal ones waiting for acknowledgement
	// included, sorted by id.
	Tasks []*mesospb.Task
	// Completed tasks had their terminal update acknowledged, oldest first.
	Completed []*mesospb.Task
	// ExitStatus is the wait status of a terminated executor.
	ExitStatus int32
}

// Snapshot describes everything the Core tracks. It shares messages with
// the Core: read it before the next call into the Core, never modify it.
type Snapshot struct {
	AgentID    string
	Frameworks []FrameworkView
	Completed  []FrameworkView
}

// Snapshot returns the current state, sorted by ids.
func (c *Core) Snapshot() Snapshot {
	s := Snapshot{AgentID: c.agentID}
	for _, fw := range c.sortedFrameworks() {
		s.Frameworks = append(s.Frameworks, fw.view())
	}
	for _, fw := range c.completed {
		s.Completed = append(s.Completed, fw.view())
	}
	return s
}

func (fw *framework) view() FrameworkView {
	v := FrameworkView{Info: fw.info}
	for _, ex := range fw.sortedExecutors() {
		v.Executors = append(v.Executors, ex.view())
	}
	for _, ex := range fw.completed {
		v.Completed = append(v.Completed, ex.view())
	}
	return v
}

func (ex *executor) view() ExecutorView {
	v := ExecutorView{
		FrameworkID: ex.frameworkID,
		Info:        ex.info,
		ContainerID: ex.containerID,
		State:       ex.state,
		Connected:   ex.connected,
		Command:     ex.command,
		LaunchedAt:  ex.launchedAt,
		Completed:   ex.completed,
		ExitStatus:  ex.exitStatus,
	}
	for _, l := range ex.queued {
		v.Queued = append(v.Queued, l.tasks...)
	}
	all := make(map[string]*taskRecord, len(ex.launched)+len(ex.terminated))
	for id, rec := range ex.launched {
		all[id] = rec
	}
	for id, rec := range ex.terminated {
		all[id] = rec
	}
	for _, rec := range sortedTasks(all) {
		v.Tasks = append(v.Tasks, rec.task)
	}
	return v
}

// Registration returns what the agent reports when it registers again with
// a master: its frameworks, its executors that have not terminated (but the
// command executors it generated for command tasks, which the master never
// knew of: as a Mesos agent, it does not report them, or the master would
// count their resources on top of their tasks'), and every task it still
// tracks (queued ones as TASK_STAGING). The messages are copies.
func (c *Core) Registration() *linkpb.AgentCall_Register {
	reg := &linkpb.AgentCall_Register{}
	for _, fw := range c.sortedFrameworks() {
		reg.Frameworks = append(reg.Frameworks, proto.CloneOf(fw.info))
		for _, ex := range fw.sortedExecutors() {
			if ex.state != ExecutorTerminated && !ex.command {
				reg.Executors = append(reg.Executors, &linkpb.ExecutorState{
					FrameworkId:  &mesospb.FrameworkID{Value: proto.String(fw.id)},
					ExecutorInfo: proto.CloneOf(ex.info),
				})
			}
			v := ex.view()
			for _, t := range v.Tasks {
				reg.Tasks = append(reg.Tasks, proto.CloneOf(t))
			}
			for _, t := range v.Queued {
				reg.Tasks = append(reg.Tasks, c.newTask(fw, ex, t))
			}
		}
	}
	return reg
}

// Stats are gauges for metrics.
type Stats struct {
	Frameworks int
	Executors  map[ExecutorState]int
	Tasks      map[mesospb.TaskState]int // queued tasks count as TASK_STAGING
	// PendingUpdates is the number of status updates not yet acknowledged.
	PendingUpdates int
}

// Stats counts frameworks, executors by state and tracked tasks by state.
func (c *Core) Stats() Stats {
	s := Stats{
		Frameworks:     len(c.fws),
		Executors:      make(map[ExecutorState]int),
		Tasks:          make(map[mesospb.TaskState]int),
		PendingUpdates: c.sum.Len(),
	}
	for _, fw := range c.fws {
		for _, ex := range fw.executors {
			s.Executors[ex.state]++
			for _, l := range ex.queued {
				s.Tasks[mesospb.TaskState_TASK_STAGING] += len(l.tasks)
			}
			for _, rec := range ex.launched {
				s.Tasks[rec.task.GetState()]++
			}
			for _, rec := range ex.terminated {
				s.Tasks[rec.task.GetState()]++
			}
		}
	}
	return s
}
