package core

import (
	"cmp"
	"net"
	"strconv"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// idProto is the framework's id as a message: its info's, shared (records
// and events are never edited in place).
func (fw *framework) idProto() *mesospb.FrameworkID {
	if id := fw.info.GetId(); id != nil && id.GetValue() == fw.id {
		return id
	}
	return &mesospb.FrameworkID{Value: proto.String(fw.id)}
}

// framework is a subscribed (or recovered, or failing over) framework.
type framework struct {
	id   string
	info *mesospb.FrameworkInfo // with id set

	roles          []string
	multiRole      bool
	partitionAware bool
	gpu            bool

	// stream is the current Mesos-Stream-Id; "" when disconnected.
	stream string
	// recovered: known only from agents' re-registrations, never
	// subscribed to this master.
	recovered bool

	registered, reregistered, unregistered time.Time
	// failoverDeadline is set while disconnected: the framework is removed
	// at that time unless it subscribes again.
	failoverDeadline time.Time

	offers    map[string]*offer // by offer id
	tasks     map[string]*task  // live tasks (incl. terminal, unacknowledged), by task id
	views     taskViews         // fw.tasks as state queries show them (addTask, removeTask)
	executors map[execKey]*executor
	completed completedTasks // terminal tasks, oldest first, capped
}

func (fw *framework) connected() bool { return fw.stream != "" }

// execKey names an executor: executor ids are unique per framework and
// agent.
type execKey struct{ agent, executor string }

// taskKey names a task on an agent.
type taskKey struct{ framework, task string }

// agent is a registered agent.
type agent struct {
	id      string
	info    *mesospb.AgentInfo // with id set; replaced, never modified (state queries and offers share it)
	total   resources.Resources
	version string
	scheme  string // of its HTTP API, from REGISTER: "https" or "http" ("" too)
	ip      string // of its HTTP API, from REGISTER ("" when not given)

	// link is the current link session; "" when disconnected.
	link string
	// deactivated: an operator's DEACTIVATE_AGENT holds its resources back
	// from offers until REACTIVATE_AGENT (across re-registrations too).
	deactivated bool

	registered, reregistered time.Time

	// pingOutstanding: the last PING has not been answered yet.
	pingOutstanding bool
	missedPings     int

	offers    map[string]*offer
	tasks     map[taskKey]*task
	executors map[string]map[string]*executor // framework id -> executor id -> executor

	snap *agentSnap // the last state queries took (agentSnapOf)
	// snapBooks is the allocator's books number of the agent when snap
	// was last found current (AgentHoldings).
	snapBooks uint64
}

func (ag *agent) hostname() string { return ag.info.GetHostname() }

func (ag *agent) ipOrNil() *string {
	if ag.ip == "" {
		return nil
	}
	return proto.String(ag.ip)
}

// pid is the agent's libprocess-style pid, slave(1)@ip:port as Mesos
// gives it (the hostname when the agent named no IP).
func (ag *agent) pid() string {
	return "slave(1)@" + net.JoinHostPort(cmp.Or(ag.ip, ag.hostname()), strconv.Itoa(int(ag.info.GetPort())))
}

// url is where the agent's API is, as offers and inverse offers give it:
// Mesos' form (path "/slave(1)"), with the scheme the agent registered.
func (ag *agent) url() *mesospb.URL {
	return &mesospb.URL{
		Scheme:  proto.String(cmp.Or(ag.scheme, "http")),
		Address: &mesospb.Address{Hostname: proto.String(ag.hostname()), Ip: ag.ipOrNil(), Port: proto.Int32(ag.info.GetPort())},
		Path:    proto.String("/slave(1)"),
	}
}

// offer is an outstanding offer: resources on one agent allocated to one
// framework under one role.
type offer struct {
	id      string
	fw      *framework
	agent   *agent
	role    string
	res     resources.Resources
	created time.Time
	proto   *mesospb.Offer
	// group is set for an optimistic offer made to several frameworks
	// at once (Config.Allocator.OfferFanout); nil otherwise.
	group *offerGroup
}

// offerGroup is the outstanding offers of the same resources on one agent
// to several frameworks (optimistic offers). The allocator charges them
// to holder only; the first ACCEPT takes them (conflicts.go).
type offerGroup struct {
	holder  *offer
	members []*offer // outstanding, holder included
}

// task is a task the master knows.
type task struct {
	id         string
	fw         string
	agent      string
	executorID string // "" for command tasks
	role       string
	res        resources.Resources // the task's own resources (not the executor's)
	// freed: res went back to the allocator (terminal state reached).
	freed bool

	// proto is the task's record, state, statuses and status_update_*
	// kept current, and its view: state queries and operator events share
	// it as it is, so it is modified only through Core.editTask (see
	// taskviews.go). Its resources carry their allocation role.
	proto *mesospb.Task
	// recGen is the Core.recGen the record was made in: it may be modified
	// in place while they are equal (nothing took it since).
	recGen uint64
	// views is the table of its framework's live tasks it has slot in
	// (nil once it left fw.tasks).
	views *taskViews
	slot  int
	// latest is the last status received (data stripped); nil before the
	// first update.
	latest *mesospb.TaskStatus
	// held is set once the task's agent was removed before the framework
	// acknowledged the task's terminal update: the update (with a uuid)
	// the master keeps in the agent's place, redelivered on resubscription
	// until the framework acknowledges it. heldSeq orders held updates.
	held    *mesospb.TaskStatus
	heldSeq uint64
}

func (t *task) state() mesospb.TaskState { return t.proto.GetState() }

// changed publishes the task's record to its slot in its framework's
// taskViews: call it whenever proto (editTask) or held changed.
func (t *task) changed() {
	if t.views != nil {
		t.views.publish(t)
	}
}

// executor is a framework's executor on an agent (command executors are
// not tracked, as in Mesos).
type executor struct {
	id    string
	fw    string
	agent string
	role  string
	info  *mesospb.ExecutorInfo
	res   resources.Resources
}
