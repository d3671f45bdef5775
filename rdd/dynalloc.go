package rdd

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mesoproject/meso/rdd/internal/dynalloc"
	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
)

// Dynamic allocation in cluster mode (spark.dynamicAllocation.*): the
// policy is rdd/internal/dynalloc; dynAlloc feeds it the session's stage
// and task events and the executors' comings and goings, runs it every
// dynAllocTick, and carries out its decisions on the Mesos backend (the
// executor target, killing idle executors' Mesos tasks).

// dynAllocTick is how often the policy runs (Spark: 100 ms).
const dynAllocTick = 100 * time.Millisecond

// killedReason is the ExecutorRemoved reason of an executor the policy
// released (Spark's ExecutorKilled message).
const killedReason = "Executor killed by driver."

// errNeedsShuffleService is Spark's refusal of dynamic allocation without
// a place for shuffle outputs to outlive their executors.
const errNeedsShuffleService = "Dynamic allocation of executors requires the external shuffle service. You may enable this through spark.shuffle.service.enabled."

// dynAllocConfig reads the spark.dynamicAllocation.* settings; ok is false
// when dynamic allocation is off.
func dynAllocConfig(conf map[string]string) (cfg dynalloc.Config, ok bool, err error) {
	cfg = dynalloc.Defaults()
	on, err := boolSetting(conf, mesosbackend.KeyDynamicAllocation)
	if err != nil || !on {
		return cfg, false, err
	}
	svc, err := boolSetting(conf, keyShuffleService)
	if err != nil {
		return cfg, false, err
	}
	if !svc {
		if t, _ := boolSetting(conf, "spark.dynamicAllocation.shuffleTracking.enabled"); t {
			return cfg, false, fmt.Errorf("%w: spark.dynamicAllocation.shuffleTracking.enabled is not supported; %s", ErrConfig, errNeedsShuffleService)
		}
		return cfg, false, fmt.Errorf("%w: %s", ErrConfig, errNeedsShuffleService)
	}
	const p = "spark.dynamicAllocation."
	ints := []struct {
		key string
		to  *int
	}{{p + "minExecutors", &cfg.MinExecutors}, {p + "maxExecutors", &cfg.MaxExecutors},
		{p + "initialExecutors", &cfg.InitialExecutors}}
	for _, f := range ints {
		if v, ok := conf[f.key]; ok {
			if *f.to, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return cfg, false, fmt.Errorf("%w: %s=%q: want a whole number", ErrConfig, f.key, v)
			}
		}
	}
	if v, ok := conf["spark.executor.instances"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return cfg, false, fmt.Errorf("%w: spark.executor.instances=%q: want a whole number", ErrConfig, v)
		}
		cfg.InitialExecutors = max(cfg.InitialExecutors, n)
	}
	cfg.InitialExecutors = max(cfg.InitialExecutors, cfg.MinExecutors)
	durs := []struct {
		key string
		to  *time.Duration
	}{{p + "schedulerBacklogTimeout", &cfg.BacklogTimeout}, {p + "sustainedSchedulerBacklogTimeout", &cfg.SustainedBacklogTimeout},
		{p + "executorIdleTimeout", &cfg.IdleTimeout}, {p + "cachedExecutorIdleTimeout", &cfg.CachedIdleTimeout}}
	for _, f := range durs {
		if v, ok := conf[f.key]; ok {
			if *f.to, err = mesosbackend.ParseDuration(v, time.Second); err != nil {
				return cfg, false, fmt.Errorf("%w: %s=%q: %v", ErrConfig, f.key, v, err)
			}
		}
	}
	if v, ok := conf[p+"executorAllocationRatio"]; ok {
		if cfg.AllocationRatio, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || math.IsNaN(cfg.AllocationRatio) {
			return cfg, false, fmt.Errorf("%w: %sexecutorAllocationRatio=%q: want a number", ErrConfig, p, v)
		}
	}
	if v := conf[mesosbackend.KeyExecutorCores]; v != "" {
		cfg.TasksPerExecutor, _ = strconv.Atoi(v) // ParseSettings checked it
	}
	if err := cfg.Validate(); err != nil {
		return cfg, false, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return cfg, true, nil
}

func boolSetting(conf map[string]string, key string) (bool, error) {
	v, ok := conf[key]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q: want true or false", ErrConfig, key, v)
	}
	return b, nil
}

// dynAlloc runs the policy for one cluster session.
type dynAlloc struct {
	backend interface {
		SetTarget(int) error
		Kill(string) error
	}
	log  *slog.Logger
	idle time.Duration // for the removal reason

	mu       sync.Mutex
	m        *dynalloc.Manager // guarded by mu
	target   int               // guarded by mu; the last target given to the backend
	killed   map[string]bool   // guarded by mu; executors the policy asked to kill
	known    map[string]bool   // guarded by mu; executors ever added (not the driver's local one)
	jobStage map[int][]int     // guarded by mu; job -> its submitted stages
}

func newDynAlloc(cfg dynalloc.Config, backend interface {
	SetTarget(int) error
	Kill(string) error
}, log *slog.Logger) *dynAlloc {
	m := dynalloc.New(cfg)
	return &dynAlloc{backend: backend, log: log, idle: cfg.IdleTimeout, m: m, target: -1, // the first tick sets it
		killed: map[string]bool{}, known: map[string]bool{}, jobStage: map[int][]int{}}
}

// event feeds the policy a session event (a listener).
func (d *dynAlloc) event(e Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Kind {
	case StageSubmitted:
		d.m.StageSubmitted(e.Stage, e.Tasks, e.Time)
		d.jobStage[e.Job] = append(d.jobStage[e.Job], e.Stage)
	case StageCompleted:
		d.m.StageCompleted(e.Stage)
	case TaskStart:
		if d.known[e.Executor] { // a stage run on the driver holds no executor
			d.m.TaskStarted(e.Stage, e.Partition, e.Executor, e.Time)
		}
	case TaskEnd:
		if d.known[e.Executor] {
			d.m.TaskEnded(e.Stage, e.Partition, e.Executor, e.Error == "", e.Time)
		}
	case JobEnd: // an aborted job's stages complete no more
		for _, st := range d.jobStage[e.Job] {
			d.m.StageCompleted(st)
		}
		delete(d.jobStage, e.Job)
	}
}

func (d *dynAlloc) executorAdded(id string) {
	d.mu.Lock()
	d.known[id] = true
	d.m.ExecutorAdded(id, time.Now())
	d.mu.Unlock()
}

// executorRemoved forgets an executor and returns the removal's reason:
// killedReason for one the policy released, else why.
func (d *dynAlloc) executorRemoved(id, why string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m.ExecutorRemoved(id)
	if d.killed[id] {
		delete(d.killed, id)
		return fmt.Sprintf("%s (idle for %s: spark.dynamicAllocation.executorIdleTimeout)", killedReason, d.idle)
	}
	return why
}

func (d *dynAlloc) cachedBlocks(id string) {
	d.mu.Lock()
	d.m.CachedBlocks(id, true)
	d.mu.Unlock()
}

// tick runs the policy at now and carries out its decision.
func (d *dynAlloc) tick(now time.Time) {
	d.mu.Lock()
	dec := d.m.Tick(now)
	changed := dec.Target != d.target
	d.target = dec.Target
	for _, id := range dec.Kill {
		d.killed[id] = true
	}
	d.mu.Unlock()
	if changed {
		d.log.Info("dynamic allocation: executor target", "target", dec.Target)
		if err := d.backend.SetTarget(dec.Target); err != nil {
			d.log.Warn("dynamic allocation: setting the target", "err", err)
		}
	}
	for _, id := range dec.Kill {
		d.log.Info("dynamic allocation: releasing an idle executor", "executor", id, "idle_timeout", d.idle)
		if err := d.backend.Kill(id); err != nil {
			d.log.Warn("dynamic allocation: killing an executor", "executor", id, "err", err)
		}
	}
}

// run ticks until done is closed.
func (d *dynAlloc) run(done <-chan struct{}) {
	t := time.NewTicker(dynAllocTick)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			d.tick(now)
		}
	}
}
