// Command chaosframework is the framework of the chaos suite
// (e2e/chaos_test.go): a scheduler process, on the public scheduler
// package, that runs -tasks short command tasks and survives being
// SIGKILLed and started again, because everything it knows is in the
// -state file.
//
// Each logical task L<n> runs as attempts with task ids "L<n>.<attempt>".
// Its command writes a marker file "<markers>/L<n>.<attempt>.<pid>", so the
// test counts how often a logical task ran. TASK_FINISHED ends a logical
// task. Any other terminal state (LOST, DROPPED, GONE, UNKNOWN, FAILED,
// ERROR, KILLED, ...) ends the attempt only, and the logical task is
// launched again under the next attempt's id: then a logical task with
// two markers is a task that ran twice. TASK_UNREACHABLE is not terminal
// for a PARTITION_AWARE framework; the attempt is waited for.
//
// The state is written (atomically, fsynced) before each update is
// acknowledged, so a kill between the two makes the master send the
// update again, never lose it. The framework exits 0 once every logical
// task is finished, acknowledged and written down.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/scheduler"
)

// State is the framework's durable state, the -state file.
type State struct {
	FrameworkID string           `json:"framework_id"`
	Tasks       map[string]*Task `json:"tasks"` // by logical id
	// Updates counts every UPDATE event received, over all runs.
	Updates int `json:"updates"`
	// Redelivered counts updates received again after they were
	// acknowledged (at-least-once delivery allows it).
	Redelivered int `json:"redelivered"`
	// Relaunched counts attempts ended by a state other than FINISHED.
	Relaunched int `json:"relaunched"`
	// Ends counts the terminal states received, by state name.
	Ends map[string]int `json:"ends"`
	// Runs counts this program's starts.
	Runs int  `json:"runs"`
	Done bool `json:"done"`
	// Pending are the acknowledgements decided (written down with the
	// update) and not yet accepted by a master, by "task id/uuid": sent
	// again on every tick, on SUBSCRIBED and after a restart. An
	// acknowledgement a master accepted but lost (it was killed, or the
	// agent was away) makes the agent send the update again, and the
	// framework acknowledges it again.
	Pending map[string]*Ack `json:"pending"`
}

// Ack is an acknowledgement to send.
type Ack struct {
	TaskID  string `json:"task_id"`
	AgentID string `json:"agent_id"`
	UUID    []byte `json:"uuid"`
}

// Task is one logical task.
type Task struct {
	Attempt  int       `json:"attempt"`  // current attempt, 0: never launched
	State    string    `json:"state"`    // of the current attempt
	Launched time.Time `json:"launched"` // of the current attempt
	Agent    string    `json:"agent"`    // of the current attempt, once an update named it
	Finished []string  `json:"finished"` // task ids that reached TASK_FINISHED
	Acked    []string  `json:"acked"`    // terminal updates acknowledged (task id/uuid)
}

func (t *Task) taskID(logical string) string { return fmt.Sprintf("%s.%d", logical, t.Attempt) }

func main() {
	master := flag.String("master", "", "comma-separated masters")
	statePath := flag.String("state", "", "state file")
	markers := flag.String("markers", "", "directory of the tasks' marker files")
	n := flag.Int("tasks", 100, "logical tasks")
	inflight := flag.Int("inflight", 16, "most attempts launched and not ended at once")
	flag.Parse()
	if err := run(*master, *statePath, *markers, *n, *inflight); err != nil {
		fmt.Fprintln(os.Stderr, "chaosframework:", err)
		os.Exit(1)
	}
}

func load(path string, n int) (*State, error) {
	st := &State{Tasks: map[string]*Task{}, Ends: map[string]int{}, Pending: map[string]*Ack{}}
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		for i := range n {
			st.Tasks[fmt.Sprintf("L%d", i)] = &Task{}
		}
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("chaosframework: state %s: %w", path, err)
		}
		if st.Pending == nil {
			st.Pending = map[string]*Ack{}
		}
	}
	return st, nil
}

func save(path string, st *State) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func run(master, statePath, markers string, n, inflight int) error {
	st, err := load(statePath, n)
	if err != nil {
		return err
	}
	st.Runs++
	if err := save(statePath, st); err != nil {
		return err
	}
	u, _ := user.Current()
	fi := &mesospb.FrameworkInfo{
		User: proto.String(u.Username), Name: proto.String("chaos"),
		Checkpoint: proto.Bool(true), FailoverTimeout: proto.Float64(3600),
		Capabilities: []*mesospb.FrameworkInfo_Capability{{Type: mesospb.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}},
	}
	if st.FrameworkID != "" {
		fi.Id = &mesospb.FrameworkID{Value: proto.String(st.FrameworkID)}
	}
	c := scheduler.New(scheduler.Config{Master: master, Framework: fi,
		BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second, HeartbeatMisses: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	// Attempts silent for this long are reconciled explicitly: the master
	// answers for a launch it never saw (TASK_LOST, or TASK_UNKNOWN).
	const silent = 15 * time.Second
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	call := func(what string, err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaosframework: %s: %v\n", what, err)
		}
	}
	reconcile := func(all bool) {
		var ts []*schedulerpb.Call_Reconcile_Task
		for l, t := range st.Tasks {
			if t.Attempt > 0 && len(t.Finished) == 0 && (all || time.Since(t.Launched) > silent) {
				// Naming the agent lets the master answer TASK_UNREACHABLE
				// (or nothing, while the agent is still to re-register
				// after a failover) rather than TASK_UNKNOWN for a task
				// that may come back.
				rt := &schedulerpb.Call_Reconcile_Task{TaskId: &mesospb.TaskID{Value: proto.String(t.taskID(l))}}
				if t.Agent != "" {
					rt.AgentId = &mesospb.AgentID{Value: proto.String(t.Agent)}
				}
				ts = append(ts, rt)
			}
		}
		if len(ts) > 0 {
			call("reconcile", c.Reconcile(ctx, ts...))
		}
	}
	// An acknowledgement is written down (st.Pending, and st.Tasks[].Acked
	// for a terminal update) before it is sent, and leaves st.Pending once
	// a master accepted it: a kill anywhere in between makes the next run
	// send it again, never forget it.
	acknowledge := func() {
		for key, a := range st.Pending {
			s := &mesospb.TaskStatus{
				TaskId:  &mesospb.TaskID{Value: proto.String(a.TaskID)},
				AgentId: &mesospb.AgentID{Value: proto.String(a.AgentID)},
				Uuid:    a.UUID,
			}
			if err := c.Acknowledge(ctx, s); err != nil {
				call("acknowledge", err)
				continue
			}
			delete(st.Pending, key)
		}
	}
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("scheduler client: %w", err)
		case <-tick.C:
			reconcile(false)
			acknowledge()
			if err := save(statePath, st); err != nil {
				return err
			}
		case ev, ok := <-c.Events():
			if !ok {
				return fmt.Errorf("chaosframework: event stream closed")
			}
			switch ev.GetType() {
			case schedulerpb.Event_SUBSCRIBED:
				st.FrameworkID = ev.GetSubscribed().GetFrameworkId().GetValue()
				if err := save(statePath, st); err != nil {
					return err
				}
				reconcile(true)
				acknowledge()
			case schedulerpb.Event_OFFERS:
				if err := offers(ctx, c, st, statePath, markers, inflight, ev.GetOffers().GetOffers()); err != nil {
					return err
				}
			case schedulerpb.Event_UPDATE:
				s := ev.GetUpdate().GetStatus()
				if err := update(st, s); err != nil {
					return err
				}
				if err := save(statePath, st); err != nil {
					return err
				}
				if len(s.GetUuid()) > 0 {
					key := s.GetTaskId().GetValue() + "/" + fmt.Sprintf("%x", s.GetUuid())
					st.Pending[key] = &Ack{TaskID: s.GetTaskId().GetValue(), AgentID: s.GetAgentId().GetValue(), UUID: s.GetUuid()}
					if mesospb.IsTerminal(s.GetState()) {
						l, _ := logical(s.GetTaskId().GetValue())
						if t := st.Tasks[l]; t != nil && !slices.Contains(t.Acked, key) {
							t.Acked = append(t.Acked, key)
						}
					}
				}
				if err := save(statePath, st); err != nil {
					return err
				}
				acknowledge()
			}
		}
		if allDone(st) && len(st.Pending) == 0 {
			st.Done = true
			if err := save(statePath, st); err != nil {
				return err
			}
			fmt.Println("chaosframework: all tasks finished")
			return nil
		}
	}
}

// logical splits "L<n>.<attempt>" into its logical id.
func logical(taskID string) (string, int) {
	var l string
	var a int
	for i := len(taskID) - 1; i >= 0; i-- {
		if taskID[i] == '.' {
			l = taskID[:i]
			fmt.Sscan(taskID[i+1:], &a)
			break
		}
	}
	return l, a
}

func allDone(st *State) bool {
	for _, t := range st.Tasks {
		if len(t.Acked) == 0 || len(t.Finished) == 0 {
			return false
		}
	}
	return true
}

func update(st *State, s *mesospb.TaskStatus) error {
	st.Updates++
	id := s.GetTaskId().GetValue()
	l, attempt := logical(id)
	t := st.Tasks[l]
	if t == nil {
		return nil // not ours
	}
	key := id + "/" + fmt.Sprintf("%x", s.GetUuid())
	for _, a := range t.Acked {
		if a == key {
			st.Redelivered++
			return nil
		}
	}
	state := s.GetState()
	// TASK_UNKNOWN (a reconciliation's answer about a task the master
	// never saw) ends the attempt as well.
	ended := mesospb.IsTerminal(state) || state == mesospb.TaskState_TASK_UNKNOWN
	if ended {
		st.Ends[state.String()]++
		if state != mesospb.TaskState_TASK_FINISHED {
			fmt.Fprintf(os.Stderr, "chaosframework: %s %s %s: %s %s (source %s, agent %s)\n", time.Now().Format("15:04:05.000"),
				id, state, s.GetReason(), s.GetMessage(), s.GetSource(), s.GetAgentId().GetValue())
		}
	}
	if state == mesospb.TaskState_TASK_FINISHED {
		for _, f := range t.Finished {
			if f == id {
				return nil // again, not yet acknowledged
			}
		}
		t.Finished = append(t.Finished, id)
		if attempt == t.Attempt {
			t.State = state.String()
		}
		return nil
	}
	if attempt != t.Attempt || len(t.Finished) > 0 {
		return nil // about an attempt already ended
	}
	t.State = state.String()
	if a := s.GetAgentId().GetValue(); a != "" {
		t.Agent = a
	}
	if ended {
		st.Relaunched++
		t.State = "" // launched again under the next attempt's id
		t.Launched = time.Time{}
		t.Agent = ""
		t.Attempt = -t.Attempt // ended; the next launch takes -Attempt+1
	}
	return nil
}

// offers launches waiting logical tasks on the offers, at most inflight
// attempts at once, and declines what is left.
func offers(ctx context.Context, c *scheduler.Client, st *State, statePath, markers string, inflight int, os_ []*mesospb.Offer) error {
	busy := 0
	var waiting []string
	for l, t := range st.Tasks {
		switch {
		case len(t.Finished) > 0:
		case t.Attempt > 0:
			busy++
		default:
			waiting = append(waiting, l)
		}
	}
	sort.Strings(waiting)
	const cpus, mem = 0.1, 16.0
	for _, o := range os_ {
		var haveCPU, haveMem float64
		for _, r := range o.GetResources() {
			switch r.GetName() {
			case "cpus":
				haveCPU += r.GetScalar().GetValue()
			case "mem":
				haveMem += r.GetScalar().GetValue()
			}
		}
		var tasks []*mesospb.TaskInfo
		for len(waiting) > 0 && busy < inflight && haveCPU >= cpus-1e-9 && haveMem >= mem {
			l := waiting[0]
			waiting = waiting[1:]
			t := st.Tasks[l]
			if t.Attempt < 0 {
				t.Attempt = -t.Attempt
			}
			t.Attempt++
			t.State = "STAGING"
			t.Launched = time.Now()
			t.Agent = o.GetAgentId().GetValue()
			id := t.taskID(l)
			tasks = append(tasks, &mesospb.TaskInfo{
				Name:    proto.String(id),
				TaskId:  &mesospb.TaskID{Value: proto.String(id)},
				AgentId: o.GetAgentId(),
				Resources: []*mesospb.Resource{
					{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(cpus)}},
					{Name: proto.String("mem"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(mem)}},
				},
				Command: &mesospb.CommandInfo{Value: proto.String(
					fmt.Sprintf("touch %s.$$ && sleep 0.5", filepath.Join(markers, id)))},
			})
			busy++
			haveCPU -= cpus
			haveMem -= mem
		}
		if len(tasks) == 0 {
			if err := c.Decline(ctx, []*mesospb.OfferID{o.GetId()}, &mesospb.Filters{RefuseSeconds: proto.Float64(0.5)}); err != nil {
				fmt.Fprintln(os.Stderr, "chaosframework: decline:", err)
			}
			continue
		}
		// Written down before the launch: after a kill here the attempts
		// are reconciled, never launched twice under one id.
		if err := save(statePath, st); err != nil {
			return err
		}
		if err := c.Launch(ctx, o, tasks...); err != nil {
			fmt.Fprintln(os.Stderr, "chaosframework: launch:", err)
		}
	}
	return nil
}
