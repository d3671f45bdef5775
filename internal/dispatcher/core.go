package dispatcher

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// State is a driver's state as the submission API reports it.
type State string

// The driver states. QUEUED, RUNNING, RETRYING and FINISHED are the names
// Spark's Mesos dispatcher reports; FAILED and KILLED are its standalone
// names for the other ends, which Spark's Mesos dispatcher folds into
// FINISHED with the task state in the message.
const (
	Queued   State = "QUEUED"
	Running  State = "RUNNING"
	Retrying State = "RETRYING"
	Finished State = "FINISHED"
	Failed   State = "FAILED"
	Killed   State = "KILLED"
)

// Description is what a submission asks for.
type Description struct {
	Name      string
	Command   string            // run by the shell
	Env       map[string]string // environment of the driver
	URIs      []string          // fetched into the sandbox
	Resources resources.Resources
	// Constraints (spark.mesos.driver.constraints) are what the agent's
	// attributes must match for the driver to run there.
	Constraints resources.Constraints `json:",omitempty"`
	Supervise   bool
	// Argv is the command's words without a shell: the program, --master
	// and the master, then the --conf settings and the program's
	// arguments; argv adds the framework and label settings of an
	// attempt. Drivers in a Docker image run it (there may be no shell).
	Argv []string `json:",omitempty"`
	// Labels are the user's spark.mesos.driver.labels.
	Labels string `json:",omitempty"`
	// Container holds the Docker settings of the driver's container
	// (spark.mesos.executor.docker.image, .volumes, .forcePullImage,
	// spark.mesos.containerizer); empty: no container.
	Container map[string]string `json:",omitempty"`
}

// argv is the words of an attempt: Argv with the framework to fail over
// to, when there is one, and the label naming the submission.
func (d Description) argv(driverID, frameworkID string) []string {
	if len(d.Argv) < 3 {
		return d.Argv
	}
	out := append([]string{}, d.Argv[:3]...)
	if frameworkID != "" {
		out = append(out, "--conf", "spark.mesos.driver.frameworkId="+frameworkID)
	}
	labels := "spark.mesos.driver.labels="
	if d.Labels != "" {
		labels += d.Labels + ","
	}
	out = append(out, "--conf", labels+SubmissionLabel+":"+driverID)
	return append(out, d.Argv[3:]...)
}

// Driver is one submission and what became of it.
type Driver struct {
	ID        string
	Desc      Description
	State     State
	Submitted time.Time
	TaskID    string // the current (or last) attempt's task
	AgentID   string
	Retries   int           // relaunches so far
	Wait      time.Duration // the last back-off
	NextRetry time.Time     // when a retrying driver may launch again
	Message   string        // the last task state and reason, for the status API
	Killing   bool          // the user asked for a kill of the running attempt
	TaskState string        // the current attempt's last Mesos task state
	// FrameworkID is the driver's own framework (found by its submission
	// label after an attempt ended); a relaunch fails over to it.
	FrameworkID string       `json:",omitempty"`
	History     []Transition // every state the driver went through, oldest first
}

// Transition is one entry of a driver's state history.
type Transition struct {
	Time    time.Time `json:"time"`
	State   State     `json:"state"`
	Message string    `json:"message,omitempty"`
}

// maxHistory bounds a driver's history (a supervised driver that fails
// for ever keeps its latest transitions).
const maxHistory = 100

func (d *Driver) enter(s State, msg string, now time.Time) {
	d.State = s
	d.History = append(d.History, Transition{Time: now, State: s, Message: msg})
	if len(d.History) > maxHistory {
		d.History = append(d.History[:0:0], d.History[len(d.History)-maxHistory:]...)
	}
}

// Offer is the part of a Mesos offer the core needs.
type Offer struct {
	ID         string
	AgentID    string
	Resources  resources.Resources
	Attributes resources.Attributes // the agent's
}

// Launch asks the shell to run a driver's attempt as a task on an offer.
type Launch struct {
	OfferID, AgentID, TaskID, DriverID string
	FrameworkID                        string // the previous attempt's framework, to fail over to
	Desc                               Description
}

// TaskEnd is how a task ended, from its terminal status update.
type TaskEnd int

// The ends a status update can report.
const (
	EndFinished TaskEnd = iota // TASK_FINISHED
	EndKilled                  // TASK_KILLED
	EndError                   // TASK_ERROR: the task as described cannot run
	EndFailed                  // any other terminal state (FAILED, LOST, DROPPED, GONE...)
)

// DefaultMaxRetryWait is spark.mesos.cluster.retry.wait.max's default.
const DefaultMaxRetryWait = 60 * time.Second

// Core is the dispatcher's state.
type Core struct {
	maxWait time.Duration
	limits  Limits
	seq     int
	drivers map[string]*Driver
	byTask  map[string]*Driver
	order   []string // submission order
}

// Limits bound what a Core holds.
type Limits struct {
	MaxRetryWait time.Duration // spark.mesos.cluster.retry.wait.max; <= 0: DefaultMaxRetryWait
	// MaxQueued is spark.mesos.maxDrivers: a submission finding this many
	// drivers queued is refused; <= 0: DefaultMaxDrivers.
	MaxQueued int
	// Retained is spark.mesos.retainedDrivers: how many ended drivers
	// (finished, failed, killed) are kept for the status API and the web
	// UI; the oldest ended go first; <= 0: DefaultRetainedDrivers.
	Retained int
}

// Spark's defaults for Limits.
const (
	DefaultMaxDrivers      = 200
	DefaultRetainedDrivers = 200
)

// ErrQueueFull refuses a submission when MaxQueued drivers are queued.
var ErrQueueFull = errors.New("the dispatcher's queue is full")

// New returns an empty Core.
func New(l Limits) *Core {
	if l.MaxRetryWait <= 0 {
		l.MaxRetryWait = DefaultMaxRetryWait
	}
	if l.MaxQueued <= 0 {
		l.MaxQueued = DefaultMaxDrivers
	}
	if l.Retained <= 0 {
		l.Retained = DefaultRetainedDrivers
	}
	return &Core{maxWait: l.MaxRetryWait, limits: l, drivers: map[string]*Driver{}, byTask: map[string]*Driver{}}
}

// Submit queues a driver and returns its submission id.
func (c *Core) Submit(d Description, now time.Time) (string, error) {
	if d.Command == "" {
		return "", fmt.Errorf("a driver needs a command")
	}
	if d.Resources.IsEmpty() {
		return "", fmt.Errorf("a driver needs resources (cpus, mem)")
	}
	queued := 0
	for _, x := range c.drivers {
		if x.State == Queued {
			queued++
		}
	}
	if queued >= c.limits.MaxQueued {
		return "", fmt.Errorf("%w: %d drivers wait to be launched (--max_drivers, spark.mesos.maxDrivers)", ErrQueueFull, queued)
	}
	c.seq++
	id := fmt.Sprintf("driver-%s-%04d", now.UTC().Format("20060102150405"), c.seq)
	drv := &Driver{ID: id, Desc: d, Submitted: now}
	drv.enter(Queued, "submitted", now)
	c.drivers[id] = drv
	c.order = append(c.order, id)
	return id, nil
}

// Driver returns a copy of a driver's record.
func (c *Core) Driver(id string) (Driver, bool) {
	d, ok := c.drivers[id]
	if !ok {
		return Driver{}, false
	}
	return *d, true
}

// Drivers returns every driver in submission order.
func (c *Core) Drivers() []Driver {
	out := make([]Driver, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, *c.drivers[id])
	}
	return out
}

// Kill asks for a driver to end. A queued or retrying driver ends KILLED
// at once; a running one gives the task to kill (the driver ends when its
// update arrives). An ended driver cannot be killed.
func (c *Core) Kill(id string, now time.Time) (killTask string, err error) {
	d, ok := c.drivers[id]
	if !ok {
		return "", fmt.Errorf("no driver %s", id)
	}
	switch d.State {
	case Queued, Retrying:
		d.Message = "killed before it ran"
		d.enter(Killed, d.Message, now)
		defer c.trim()
		return "", nil
	case Running:
		d.Killing = true // the attempt's end is KILLED, never retried
		return d.TaskID, nil
	}
	return "", fmt.Errorf("driver %s already ended (%s)", id, d.State)
}

// Wanted reports whether a driver is waiting for an offer at now, so the
// shell knows to revive or suppress offers.
func (c *Core) Wanted(now time.Time) bool {
	for _, id := range c.order {
		if c.launchable(c.drivers[id], now) {
			return true
		}
	}
	return false
}

// NextWake is the earliest time a retrying driver becomes launchable (zero
// when none waits), for the shell's timer.
func (c *Core) NextWake() time.Time {
	var t time.Time
	for _, d := range c.drivers {
		if d.State == Retrying && (t.IsZero() || d.NextRetry.Before(t)) {
			t = d.NextRetry
		}
	}
	return t
}

func (c *Core) launchable(d *Driver, now time.Time) bool {
	return d.State == Queued || (d.State == Retrying && !now.Before(d.NextRetry))
}

// Offers places launchable drivers, oldest first, on the offers (each offer
// takes what fits in what is left of it, on agents whose attributes match
// the driver's constraints) and returns the launches; offers
// not named in a launch are the shell's to decline.
func (c *Core) Offers(offers []Offer, now time.Time) []Launch {
	left := make([]resources.Resources, len(offers))
	for i, o := range offers {
		left[i] = o.Resources
	}
	var out []Launch
	for _, id := range c.order {
		d := c.drivers[id]
		if !c.launchable(d, now) {
			continue
		}
		for i, o := range offers {
			if !left[i].Contains(d.Desc.Resources) || !d.Desc.Constraints.Match(o.Attributes) {
				continue
			}
			left[i] = left[i].Subtract(d.Desc.Resources)
			task := d.ID
			if d.Retries > 0 {
				task = fmt.Sprintf("%s-retry-%d", d.ID, d.Retries)
			}
			d.TaskID, d.AgentID, d.TaskState = task, o.AgentID, ""
			d.enter(Running, "launched as task "+task+" on "+o.AgentID, now)
			c.byTask[task] = d
			out = append(out, Launch{OfferID: o.ID, AgentID: o.AgentID, TaskID: task, DriverID: d.ID,
				FrameworkID: d.FrameworkID, Desc: d.Desc})
			break
		}
	}
	return out
}

// TaskEnded applies a task's terminal update; message is the state and
// reason as the update gave them. Updates of tasks the core does not run
// (an older attempt, another framework's id) are ignored.
func (c *Core) TaskEnded(taskID string, end TaskEnd, message string, now time.Time) {
	d, ok := c.byTask[taskID]
	if !ok {
		return
	}
	defer c.trim()
	delete(c.byTask, taskID)
	if d.TaskID != taskID || d.State != Running {
		return
	}
	d.Message, d.TaskState = message, ""
	switch {
	case d.Killing:
		d.enter(Killed, message, now)
	case end == EndFinished:
		d.enter(Finished, message, now)
	case end == EndKilled:
		d.enter(Killed, message, now)
	case end == EndError:
		d.enter(Failed, message, now)
	case d.Desc.Supervise:
		d.Retries++
		if d.Wait == 0 {
			d.Wait = time.Second
		} else {
			d.Wait = min(2*d.Wait, c.maxWait)
		}
		d.NextRetry = now.Add(d.Wait)
		d.enter(Retrying, fmt.Sprintf("%s; retry %d after %s", message, d.Retries, d.Wait), now)
	default:
		d.enter(Failed, message, now)
	}
}

// TaskUpdate records a running attempt's latest Mesos task state (what
// the web UI shows beside a launched driver). Terminal states go through
// TaskEnded.
func (c *Core) TaskUpdate(taskID, state string) {
	if d, ok := c.byTask[taskID]; ok && d.TaskID == taskID && d.State == Running {
		d.TaskState = state
	}
}

// SetFrameworkID records the framework a driver's attempts registered
// as, for its relaunches.
func (c *Core) SetFrameworkID(id, frameworkID string) {
	if d, ok := c.drivers[id]; ok {
		d.FrameworkID = frameworkID
	}
}

// Running lists the task ids of running drivers, for reconciliation.
func (c *Core) Running() []string {
	var ids []string
	for id, d := range c.byTask {
		if d.State == Running && d.TaskID == id {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Snapshot is the core's whole state, for persistence.
type Snapshot struct {
	Seq     int      `json:"seq"`
	Drivers []Driver `json:"drivers"`
}

// Snapshot returns the state to persist.
func (c *Core) Snapshot() Snapshot { return Snapshot{Seq: c.seq, Drivers: c.Drivers()} }

// Restore returns a Core holding a persisted state. Running drivers keep
// their task: the shell reconciles them with the master, which answers
// their current state (a terminal one ends or retries them).
func Restore(s Snapshot, l Limits) *Core {
	c := New(l)
	c.seq = s.Seq
	for _, d := range s.Drivers {
		d := d
		c.drivers[d.ID] = &d
		c.order = append(c.order, d.ID)
		if d.State == Running {
			c.byTask[d.TaskID] = &d
		}
	}
	c.trim()
	return c
}

// ended reports whether a driver is in a final state.
func (d *Driver) ended() bool { return d.State == Finished || d.State == Failed || d.State == Killed }

// trim forgets the oldest ended drivers beyond Limits.Retained (by when
// they ended).
func (c *Core) trim() {
	var ended []*Driver
	for _, id := range c.order {
		if d := c.drivers[id]; d.ended() {
			ended = append(ended, d)
		}
	}
	if len(ended) <= c.limits.Retained {
		return
	}
	endedAt := func(d *Driver) time.Time {
		if len(d.History) == 0 {
			return d.Submitted
		}
		return d.History[len(d.History)-1].Time
	}
	slices.SortStableFunc(ended, func(a, b *Driver) int { return endedAt(a).Compare(endedAt(b)) })
	for _, d := range ended[:len(ended)-c.limits.Retained] {
		delete(c.drivers, d.ID)
	}
	c.order = slices.DeleteFunc(c.order, func(id string) bool { return c.drivers[id] == nil })
}
