package present

import "github.com/mesoproject/meso/api/mesospb"

// Task is a task in the state documents of the master and the agent.
type Task struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	FrameworkID string         `json:"framework_id"`
	ExecutorID  string         `json:"executor_id"`
	SlaveID     string         `json:"slave_id"`
	State       string         `json:"state"`
	Role        string         `json:"role,omitempty"`
	User        string         `json:"user,omitempty"`
	Resources   map[string]any `json:"resources"`
	Statuses    []TaskStatus   `json:"statuses"`
}

// TaskStatus is an entry of a task's "statuses".
type TaskStatus struct {
	State     string  `json:"state"`
	Timestamp float64 `json:"timestamp"`
	Source    string  `json:"source,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	Message   string  `json:"message,omitempty"`
}

// TaskJSON renders a task. Its role is the allocation role of its
// resources, else fallbackRole.
func TaskJSON(t *mesospb.Task, fallbackRole string) Task {
	role := allocationRole(t.GetResources())
	if role == "" {
		role = fallbackRole
	}
	j := Task{
		ID: t.GetTaskId().GetValue(), Name: t.GetName(), FrameworkID: t.GetFrameworkId().GetValue(),
		ExecutorID: t.GetExecutorId().GetValue(), SlaveID: t.GetAgentId().GetValue(),
		State: t.GetState().String(), Role: role, User: t.GetUser(),
		Resources: Resources(t.GetResources()), Statuses: make([]TaskStatus, 0, len(t.GetStatuses())),
	}
	for _, s := range t.GetStatuses() {
		sj := TaskStatus{State: s.GetState().String(), Timestamp: s.GetTimestamp(), Message: s.GetMessage()}
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

// tasksJSON renders a list of tasks (never nil).
func tasksJSON(list []*mesospb.Task, fallbackRole string) []Task {
	out := make([]Task, 0, len(list))
	for _, t := range list {
		out = append(out, TaskJSON(t, fallbackRole))
	}
	return out
}
