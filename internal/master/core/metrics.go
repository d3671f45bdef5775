package core

import (
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// counters are the monotonically increasing numbers behind the metrics.
type counters struct {
	calls    map[schedulerpb.Call_Type]uint64
	terminal map[mesospb.TaskState]uint64

	eventsSent           uint64
	statusUpdates        uint64
	frameworkToExecutor  uint64
	executorToFramework  uint64
	tasksInvalid         uint64
	tasksLaunched        uint64
	offersSent           uint64
	offersRescinded      uint64
	offerConflicts       uint64
	allocationRuns       uint64
	agentRegistrations   uint64
	agentReregistrations uint64
	agentsLost           uint64
}

// callMetricNames maps scheduler calls to Mesos' master/messages_* names.
var callMetricNames = map[schedulerpb.Call_Type]string{
	schedulerpb.Call_SUBSCRIBE:   "master/messages_register_framework",
	schedulerpb.Call_TEARDOWN:    "master/messages_unregister_framework",
	schedulerpb.Call_ACCEPT:      "master/messages_launch_tasks",
	schedulerpb.Call_DECLINE:     "master/messages_decline_offers",
	schedulerpb.Call_REVIVE:      "master/messages_revive_offers",
	schedulerpb.Call_SUPPRESS:    "master/messages_suppress_offers",
	schedulerpb.Call_KILL:        "master/messages_kill_task",
	schedulerpb.Call_SHUTDOWN:    "master/messages_shutdown_executor",
	schedulerpb.Call_ACKNOWLEDGE: "master/messages_status_update_acknowledgement",
	schedulerpb.Call_RECONCILE:   "master/messages_reconcile_tasks",
	schedulerpb.Call_MESSAGE:     "master/messages_framework_to_executor",
	schedulerpb.Call_REQUEST:     "master/messages_resource_request",
}

// terminalMetricNames maps terminal task states to master/tasks_* counters.
var terminalMetricNames = map[mesospb.TaskState]string{
	mesospb.TaskState_TASK_FINISHED:         "master/tasks_finished",
	mesospb.TaskState_TASK_FAILED:           "master/tasks_failed",
	mesospb.TaskState_TASK_KILLED:           "master/tasks_killed",
	mesospb.TaskState_TASK_LOST:             "master/tasks_lost",
	mesospb.TaskState_TASK_ERROR:            "master/tasks_error",
	mesospb.TaskState_TASK_DROPPED:          "master/tasks_dropped",
	mesospb.TaskState_TASK_GONE:             "master/tasks_gone",
	mesospb.TaskState_TASK_GONE_BY_OPERATOR: "master/tasks_gone_by_operator",
}

// liveMetricNames maps non-terminal task states to master/tasks_* gauges.
var liveMetricNames = map[mesospb.TaskState]string{
	mesospb.TaskState_TASK_STAGING:     "master/tasks_staging",
	mesospb.TaskState_TASK_STARTING:    "master/tasks_starting",
	mesospb.TaskState_TASK_RUNNING:     "master/tasks_running",
	mesospb.TaskState_TASK_KILLING:     "master/tasks_killing",
	mesospb.TaskState_TASK_UNREACHABLE: "master/tasks_unreachable",
}

// Metrics returns a snapshot of the master's metrics under the Mesos names
// of /metrics/snapshot (master/..., allocator/mesos/...). Numbers the core
// cannot know (wall-clock durations, queue lengths) are the shell's to add.
func (c *Core) Metrics(now time.Time) map[string]float64 {
	m := map[string]float64{
		"master/uptime_secs":                          now.Sub(c.started).Seconds(),
		"master/elected":                              1,
		"master/outstanding_offers":                   float64(len(c.offers)),
		"master/messages_status_update":               float64(c.metrics.statusUpdates),
		"master/messages_executor_to_framework":       float64(c.metrics.executorToFramework),
		"master/valid_framework_to_executor_messages": float64(c.metrics.frameworkToExecutor),
		"master/valid_executor_to_framework_messages": float64(c.metrics.executorToFramework),
		"master/invalid_tasks":                        float64(c.metrics.tasksInvalid),
		"master/tasks_launched":                       float64(c.metrics.tasksLaunched),
		"master/offers_sent":                          float64(c.metrics.offersSent),
		"master/offers_rescinded":                     float64(c.metrics.offersRescinded),
		"master/offers_conflicted":                    float64(c.metrics.offerConflicts),
		"master/events_sent":                          float64(c.metrics.eventsSent),
		"master/slave_registrations":                  float64(c.metrics.agentRegistrations),
		"master/slave_reregistrations":                float64(c.metrics.agentReregistrations),
		"master/slave_removals":                       float64(c.metrics.agentsLost),
		"master/slave_unreachable_completed":          float64(c.metrics.agentsLost),
		"allocator/mesos/allocation_runs":             float64(c.metrics.allocationRuns),
	}
	for t, name := range callMetricNames {
		m[name] = float64(c.metrics.calls[t])
	}
	for s, name := range terminalMetricNames {
		m[name] = float64(c.metrics.terminal[s])
	}
	for _, name := range liveMetricNames {
		m[name] = 0
	}
	c.frameworkMetrics(m)
	c.agentMetrics(m)
	return m
}

func (c *Core) frameworkMetrics(m map[string]float64) {
	var connected, disconnected float64
	for _, fw := range c.frameworks {
		if fw.connected() {
			connected++
		} else {
			disconnected++
		}
		for s, n := range fw.views.states { // kept by setState, addTask, removeTask
			if name, ok := liveMetricNames[s]; ok {
				m[name] += float64(n)
			}
		}
	}
	m["master/frameworks_active"] = connected
	m["master/frameworks_inactive"] = disconnected
	m["master/frameworks_connected"] = connected
	m["master/frameworks_disconnected"] = disconnected
}

// metricScalars are the resources with master/<name>_total, _used and
// _percent metrics.
var metricScalars = []string{"cpus", "mem", "disk", "gpus"}

func (c *Core) agentMetrics(m map[string]float64) {
	var active, inactive float64
	var total, used [4]float64 // by metricScalars
	for _, ag := range c.agents {
		if ag.link != "" {
			active++
		} else {
			inactive++
		}
		s := c.agentSnapOf(ag) // rebuilt only when the agent changed
		for i := range metricScalars {
			total[i] += s.total[i]
			used[i] += s.used[i]
		}
	}
	m["master/slaves_active"] = active
	m["master/slaves_inactive"] = inactive
	m["master/slaves_connected"] = active
	m["master/slaves_disconnected"] = inactive
	for i, name := range metricScalars {
		t, u := total[i], used[i]
		m["master/"+name+"_total"] = t
		m["master/"+name+"_used"] = u
		pct := 0.0
		if t > 0 {
			pct = u / t
		}
		m["master/"+name+"_percent"] = pct
	}
}
