package rdd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/user"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/rdd/internal/finegrained"
	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
	"github.com/mesoproject/meso/rdd/internal/shufflenet"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// Fine-grained mode's settings (Spark's names).
const (
	keyCoarse            = "spark.mesos.coarse"
	keyMesosExecutorCPUs = "spark.mesos.mesosExecutor.cores"
	keyTaskCPUs          = "spark.task.cpus"
	// fineSlots is how many tasks the fine-grained executor takes at once
	// when spark.cores.max is unset: offers, not slots, bound what runs.
	fineSlots = 1024
)

// fineExec is the pool's one executor in fine-grained mode: every task it
// is given becomes a Mesos task, placed by the finegrained core on any
// agent's executor.
type fineExec struct {
	c       *cluster
	slots   int
	backend *finegrained.Backend

	mu      sync.Mutex
	next    int                // guarded by mu; Mesos task ids
	running map[string]running // guarded by mu; by Mesos task id
	http    *http.Client
}

// fineSettings reads the fine-grained settings from conf.
func fineSettings(conf map[string]string, s mesosbackend.Settings) (finegrained.Settings, error) {
	fs := finegrained.Settings{ExecutorCPUs: 1, TaskCPUs: 1, RejectFor: s.RejectOfferDuration,
		ExecutorMemMiB: float64(s.ExecutorMemoryMiB + s.MemoryOverheadMiB),
		Constraints:    s.Constraints, RejectUnmet: s.RejectUnmetConstraints}
	for key, p := range map[string]*float64{keyMesosExecutorCPUs: &fs.ExecutorCPUs, keyTaskCPUs: &fs.TaskCPUs} {
		if v, ok := conf[key]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || (key == keyTaskCPUs && f == 0) {
				return fs, fmt.Errorf("%w: %s=%q: want a non-negative number", ErrConfig, key, v)
			}
			*p = f
		}
	}
	return fs, nil
}

// startFine subscribes the fine-grained framework and puts its executor in
// the pool.
func (c *cluster) startFine(conf map[string]string, settings mesosbackend.Settings, cmd mesosbackend.Command, masters []string, hostname string) error {
	fs, err := fineSettings(conf, settings)
	if err != nil {
		return err
	}
	slots := fineSlots
	if v := conf[mesosbackend.KeyCoresMax]; v != "" {
		slots, _ = strconv.Atoi(v) // checked by clusterSlots
	}
	f := &fineExec{c: c, slots: max(slots, 1), running: map[string]running{}, http: &http.Client{Timeout: 30 * time.Second}}
	if cmd.Env == nil {
		cmd.Env = map[string]string{}
	}
	cmd.Env[envFine] = "1"
	// The framework is coarse mode's: role, principal and secret, failover
	// timeout, checkpointing, framework id, labels.
	fi := mesosbackend.FrameworkInfo(settings, c.s.cfg.AppName, currentUser(), hostname)
	var b *finegrained.Backend
	b, err = finegrained.Start(context.Background(), finegrained.Config{
		Master: masters, Framework: fi, Header: mesosbackend.AuthHeader(settings), Settings: fs,
		ConnectTimeout: settings.ConnectTimeout,
		Logger:         c.s.log.With("component", "mesos"),
		Executor: func(id, host string) *mesospb.ExecutorInfo {
			return &mesospb.ExecutorInfo{Type: mesospb.ExecutorInfo_CUSTOM.Enum(), Name: proto.String("rdd executor " + id),
				Command: mesosbackend.CommandInfo(settings, cmd, c.url, b.FrameworkID(),
					mesosbackend.Executor{ID: id, Slots: max(int(fs.ExecutorCPUs), 1), Hostname: host}),
				Container: mesosbackend.ContainerInfo(settings)}
		},
		OnEnd:  f.ended,
		OnGone: func(id string) { c.lose(id, "its Mesos executor ended") },
		// Coarse mode gives up the same way when its agents are all
		// blacklisted (startFailed).
		OnExhausted: func(why string) { c.fail(fmt.Errorf("%w: %s", ErrExecutorStart, why)) },
	})
	if err != nil {
		return err
	}
	f.backend = b
	c.fine = f
	c.pool.Add(f)
	return nil
}

func (f *fineExec) ID() string { return "mesos" }
func (f *fineExec) Slots() int { return f.slots }

// Launch submits d as a Mesos task whose data is the task and its
// pipeline.
func (f *fineExec) Launch(ctx context.Context, d *task.Desc, done func(task.Result)) {
	c := f.c
	fail := func(err error) { go done(task.Result{ID: d.ID, Executor: f.ID(), Err: err}) }
	pt := &rddpb.Task{Id: idToProto(d.ID)}
	locs := c.mapLocations(d)
	c.mu.Lock()
	pt.Locations = c.addressesLocked(locs)
	pid, err := c.pipelineLocked(d)
	pipe := c.pipes[pid]
	c.mu.Unlock()
	if err != nil {
		fail(err)
		return
	}
	pt.Pipeline = pid
	data, err := proto.Marshal(&rddpb.PollTasksResponse{Tasks: []*rddpb.Task{pt}, Pipelines: []*rddpb.Pipeline{pipe}})
	if err != nil {
		fail(fmt.Errorf("rdd: encoding task %v: %w", d.ID, err))
		return
	}
	f.mu.Lock()
	f.next++
	id := fmt.Sprintf("t%d-%d.%d.%d.%d", f.next, d.ID.Job, d.ID.Stage, d.ID.Partition, d.ID.Attempt)
	r := running{d: d, done: done}
	r.stop = context.AfterFunc(ctx, func() {
		f.mu.Lock()
		delete(f.running, id)
		f.mu.Unlock()
		f.backend.Kill(id)
		done(task.Result{ID: d.ID, Executor: f.ID(), Err: ctx.Err()})
	})
	f.running[id] = r
	f.mu.Unlock()
	f.backend.Submit(id, data)
}

// ended completes a task with its terminal Mesos update.
func (f *fineExec) ended(e finegrained.End) {
	f.mu.Lock()
	r, ok := f.running[e.Task]
	delete(f.running, e.Task)
	f.mu.Unlock()
	if !ok || !r.stop() {
		return // the job cancelled it
	}
	exec := e.Executor
	if exec == "" {
		exec = f.ID()
	}
	pr, err := f.result(exec, e.Status.Data)
	switch {
	case err != nil:
		r.done(task.Result{ID: r.d.ID, Executor: exec, Err: err})
	case pr == nil: // no result: the executor or its agent is gone, or the task was killed
		why := fmt.Sprintf("Mesos task %s ended %s %s %s", e.Task, e.Status.State, e.Status.Reason, e.Status.Message)
		r.done(task.Result{ID: r.d.ID, Executor: exec, Err: fmt.Errorf("%w: %s: %s", ErrExecutorLost, exec, why)})
	default:
		res := resultFromProto(exec, pr)
		f.c.resultBytes.Add(int64(len(pr.GetValue())))
		f.c.finish(exec, r, res, nil)
	}
}

// result decodes a task's status data: the result itself, or where on its
// executor to fetch it. nil, nil: the update carries no result.
func (f *fineExec) result(exec string, data []byte) (*rddpb.TaskResult, error) {
	if len(data) == 0 {
		return nil, nil
	}
	b := data[1:]
	if data[0] == resultIndirect {
		f.c.mu.Lock()
		x := f.c.execs[exec]
		f.c.mu.Unlock()
		if x == nil {
			return nil, fmt.Errorf("%w: %s holds a result but is not registered", ErrExecutorLost, exec)
		}
		req, err := http.NewRequest(http.MethodGet, "http://"+x.addr+string(b), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set(shufflenet.TokenHeader, f.c.token)
		resp, err := f.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: fetching a result from %s: %v", ErrExecutorLost, exec, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%w: fetching a result from %s: %s", ErrExecutorLost, exec, resp.Status)
		}
		if b, err = io.ReadAll(resp.Body); err != nil {
			return nil, fmt.Errorf("%w: fetching a result from %s: %v", ErrExecutorLost, exec, err)
		}
	} else if data[0] != resultDirect {
		return nil, fmt.Errorf("rdd: executor %s sent status data of unknown kind %d", exec, data[0])
	}
	pr := &rddpb.TaskResult{}
	if err := proto.Unmarshal(b, pr); err != nil {
		return nil, fmt.Errorf("rdd: executor %s sent a bad result: %w", exec, err)
	}
	return pr, nil
}

// currentUser is who the fine-grained executors run as (Mesos' default
// for a framework without a user is refused).
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}
