package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/scheduler"
)

// Task is one command task to run.
type Task struct {
	ID        string              // unique within the run
	Command   string              // run with /bin/sh -c
	Resources resources.Resources // what the task needs (scalars and ranges)
}

// Result is where a task ended.
type Result struct {
	TaskID  string
	AgentID string
	State   mesospb.TaskState
	Reason  mesospb.TaskStatus_Reason
	Message string
	// States lists every state the framework was told about, in order.
	States []mesospb.TaskState
}

// Config configures a run. Master is required.
type Config struct {
	Master string
	Name   string // framework name; default "meso-batch"
	Role   string // default "*"
	Codec  codec.Codec
	Logger *slog.Logger
	// OnUpdate, if set, sees every status update as it arrives (from the
	// run's own goroutine: keep it quick).
	OnUpdate func(*mesospb.TaskStatus)
	// PartitionAware declares the PARTITION_AWARE capability.
	PartitionAware bool
	// MaxPerOffer caps how many tasks go into one offer (0: no cap), to
	// spread a small batch over several agents instead of filling the
	// first agent that answers.
	MaxPerOffer int
}

// ErrIncomplete is returned (wrapped) when ctx ends before every task
// reached a terminal state; the results gathered so far are returned too.
var ErrIncomplete = errors.New("batch: not every task finished")

// Run runs tasks on the cluster at cfg.Master and returns one Result per
// task, in the order of tasks.
func Run(ctx context.Context, cfg Config, tasks []Task) ([]Result, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	r, err := newRun(cfg, tasks)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := scheduler.New(scheduler.Config{
		Master:    cfg.Master,
		Framework: r.framework(),
		Codec:     cfg.Codec,
		Logger:    cfg.Logger,
	})
	runErr := make(chan error, 1)
	go func() { runErr <- client.Run(ctx) }()

	for r.finished < len(tasks) {
		select {
		case ev, ok := <-client.Events():
			if !ok {
				return r.results(), fmt.Errorf("%w: scheduler stopped: %v", ErrIncomplete, <-runErr)
			}
			if err := r.handle(ctx, client, ev); err != nil {
				return r.results(), err
			}
		case <-ctx.Done():
			return r.results(), fmt.Errorf("%w: %v", ErrIncomplete, ctx.Err())
		}
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer tcancel()
	if err := client.Teardown(tctx); err != nil {
		r.log.Warn("teardown failed", "err", err)
	}
	return r.results(), nil
}

type run struct {
	cfg      Config
	log      *slog.Logger
	tasks    []Task
	index    map[string]int // task id -> position in tasks
	pending  []int          // positions not yet launched, in order
	res      []Result
	finished int
}

func newRun(cfg Config, tasks []Task) (*run, error) {
	if cfg.Master == "" {
		return nil, errors.New("batch: no master given")
	}
	if cfg.Name == "" {
		cfg.Name = "meso-batch"
	}
	if cfg.Role == "" {
		cfg.Role = "*"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &run{cfg: cfg, log: cfg.Logger, tasks: tasks, index: map[string]int{}, res: make([]Result, len(tasks))}
	for i, t := range tasks {
		if _, dup := r.index[t.ID]; dup || t.ID == "" {
			return nil, fmt.Errorf("batch: task id %q is empty or repeated", t.ID)
		}
		r.index[t.ID] = i
		r.pending = append(r.pending, i)
		r.res[i] = Result{TaskID: t.ID}
	}
	return r, nil
}

func (r *run) framework() *mesospb.FrameworkInfo {
	name := "root"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	fi := &mesospb.FrameworkInfo{
		User: proto.String(name),
		Name: proto.String(r.cfg.Name),
		Role: proto.String(r.cfg.Role),
	}
	if r.cfg.PartitionAware {
		fi.Capabilities = append(fi.Capabilities, &mesospb.FrameworkInfo_Capability{
			Type: mesospb.FrameworkInfo_Capability_PARTITION_AWARE.Enum(),
		})
	}
	return fi
}

func (r *run) results() []Result { return append([]Result(nil), r.res...) }

func (r *run) handle(ctx context.Context, c *scheduler.Client, ev *schedulerpb.Event) error {
	switch ev.GetType() {
	case schedulerpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			if err := r.offer(ctx, c, o); err != nil {
				return err
			}
		}
	case schedulerpb.Event_UPDATE:
		return r.update(ctx, c, ev.GetUpdate().GetStatus())
	case schedulerpb.Event_ERROR:
		return fmt.Errorf("batch: master sent ERROR: %s", ev.GetError().GetMessage())
	}
	return nil
}

// offer packs pending tasks into o, first come first served, and declines
// what is left over.
func (r *run) offer(ctx context.Context, c *scheduler.Client, o *mesospb.Offer) error {
	avail, err := resources.FromProto(o.GetResources())
	if err != nil {
		return fmt.Errorf("batch: offer %s: %w", o.GetId().GetValue(), err)
	}
	var launch []*mesospb.TaskInfo
	keep := r.pending[:0]
	for _, i := range r.pending {
		t := r.tasks[i]
		full := r.cfg.MaxPerOffer > 0 && len(launch) >= r.cfg.MaxPerOffer
		if full || !avail.Contains(t.Resources) {
			keep = append(keep, i)
			continue
		}
		avail = avail.Subtract(t.Resources)
		launch = append(launch, &mesospb.TaskInfo{
			Name:      proto.String(t.ID),
			TaskId:    &mesospb.TaskID{Value: proto.String(t.ID)},
			AgentId:   o.GetAgentId(),
			Resources: t.Resources.ToProto(r.cfg.Role, false),
			Command:   &mesospb.CommandInfo{Value: proto.String(t.Command)},
		})
		r.res[i].AgentID = o.GetAgentId().GetValue()
	}
	r.pending = keep
	ids := []*mesospb.OfferID{o.GetId()}
	if len(launch) == 0 {
		// Nothing fits: leave this agent alone for a while, longer when
		// nothing is waiting at all.
		refuse := 1.0
		if len(r.pending) == 0 {
			refuse = 3600
		}
		return ignoreGone(c.Decline(ctx, ids, &mesospb.Filters{RefuseSeconds: proto.Float64(refuse)}))
	}
	r.log.Info("launching", "agent", o.GetAgentId().GetValue(), "tasks", len(launch))
	return ignoreGone(c.Accept(ctx, ids, []*mesospb.Offer_Operation{{
		Type:   mesospb.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesospb.Offer_Operation_Launch{TaskInfos: launch},
	}}, &mesospb.Filters{RefuseSeconds: proto.Float64(1)}))
}

func (r *run) update(ctx context.Context, c *scheduler.Client, st *mesospb.TaskStatus) error {
	if r.cfg.OnUpdate != nil {
		r.cfg.OnUpdate(st)
	}
	if len(st.GetUuid()) > 0 {
		if err := ignoreGone(c.Acknowledge(ctx, st)); err != nil {
			return err
		}
	}
	i, ok := r.index[st.GetTaskId().GetValue()]
	if !ok {
		return nil
	}
	res := &r.res[i]
	wasTerminal := len(res.States) > 0 && Terminal(res.States[len(res.States)-1])
	res.States = append(res.States, st.GetState())
	res.State, res.Reason, res.Message = st.GetState(), st.GetReason(), st.GetMessage()
	if !wasTerminal && Terminal(st.GetState()) {
		r.finished++
	}
	return nil
}

// ignoreGone drops errors a reconnecting client returns for calls made
// between subscriptions: the master re-offers and the agent re-sends
// unacknowledged updates, so the work is not lost.
func ignoreGone(err error) error {
	if errors.Is(err, scheduler.ErrNotSubscribed) {
		return nil
	}
	return err
}

// Terminal reports whether s is a terminal task state.
func Terminal(s mesospb.TaskState) bool {
	switch s {
	case mesospb.TaskState_TASK_FINISHED, mesospb.TaskState_TASK_FAILED,
		mesospb.TaskState_TASK_KILLED, mesospb.TaskState_TASK_ERROR,
		mesospb.TaskState_TASK_LOST, mesospb.TaskState_TASK_DROPPED,
		mesospb.TaskState_TASK_GONE, mesospb.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// Summary counts results by final state, e.g. "TASK_FINISHED=98 TASK_FAILED=2".
func Summary(res []Result) string {
	counts := map[string]int{}
	for _, r := range res {
		counts[r.State.String()]++
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	s := ""
	for _, n := range names {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", n, counts[n])
	}
	return s
}
