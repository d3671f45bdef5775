package rdd

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDynAllocConfig(t *testing.T) {
	on := map[string]string{"spark.dynamicAllocation.enabled": "true", "spark.shuffle.service.enabled": "true"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range on {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	if _, ok, err := dynAllocConfig(map[string]string{}); ok || err != nil {
		t.Errorf("unset: ok %v, err %v; want off", ok, err)
	}
	cfg, ok, err := dynAllocConfig(with("spark.dynamicAllocation.minExecutors", "1", "spark.dynamicAllocation.maxExecutors", "3",
		"spark.dynamicAllocation.executorIdleTimeout", "15s", "spark.dynamicAllocation.schedulerBacklogTimeout", "200ms",
		"spark.dynamicAllocation.executorAllocationRatio", "0.5", "spark.executor.cores", "2"))
	if err != nil || !ok {
		t.Fatalf("ok %v, err %v", ok, err)
	}
	if cfg.MinExecutors != 1 || cfg.MaxExecutors != 3 || cfg.InitialExecutors != 1 || cfg.IdleTimeout != 15*time.Second ||
		cfg.BacklogTimeout != 200*time.Millisecond || cfg.AllocationRatio != 0.5 || cfg.TasksPerExecutor != 2 || cfg.CachedIdleTimeout != 0 {
		t.Errorf("config %+v", cfg)
	}
	for _, c := range []struct {
		conf map[string]string
		want string
	}{
		{map[string]string{"spark.dynamicAllocation.enabled": "true"}, errNeedsShuffleService},
		{map[string]string{"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.shuffleTracking.enabled": "true"}, "shuffleTracking.enabled is not supported"},
		{with("spark.dynamicAllocation.minExecutors", "4", "spark.dynamicAllocation.maxExecutors", "3"), "must be less than or equal to"},
		{with("spark.dynamicAllocation.maxExecutors", "x"), "maxExecutors=\"x\""},
		{with("spark.dynamicAllocation.executorIdleTimeout", "soon"), "executorIdleTimeout=\"soon\""},
		{with("spark.dynamicAllocation.executorAllocationRatio", "2"), "executorAllocationRatio must be in (0, 1]"},
		{with("spark.shuffle.service.enabled", "yes please"), "want true or false"},
	} {
		_, _, err := dynAllocConfig(c.conf)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want ErrConfig with %q", c.conf, err, c.want)
		}
	}
}

// fakeBackend records what the policy asked.
type fakeBackend struct {
	targets []int
	killed  []string
}

func (f *fakeBackend) SetTarget(n int) error { f.targets = append(f.targets, n); return nil }
func (f *fakeBackend) Kill(id string) error  { f.killed = append(f.killed, id); return nil }

// The wiring carries the policy's decisions to the backend: the target as
// it changes, kills of idle executors, and their removal reason.
func TestDynAllocDrivesTheBackend(t *testing.T) {
	cfg, _, err := dynAllocConfig(map[string]string{"spark.dynamicAllocation.enabled": "true", "spark.shuffle.service.enabled": "true",
		"spark.dynamicAllocation.minExecutors": "1", "spark.dynamicAllocation.maxExecutors": "3",
		"spark.dynamicAllocation.executorIdleTimeout": "2s"})
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBackend{}
	d := newDynAlloc(cfg, fb, slog.New(slog.DiscardHandler))
	t0 := time.Now()
	d.tick(t0)
	d.executorAdded("e0")
	d.event(Event{Kind: StageSubmitted, Job: 1, Stage: 0, Tasks: 10, Time: t0})
	for i := range 8 { // 1 s backlog, then 1 s per round: 1 -> 2 -> 3 (max)
		d.tick(t0.Add(time.Duration(i) * 500 * time.Millisecond))
	}
	if !slices.Equal(fb.targets, []int{1, 2, 3}) {
		t.Fatalf("targets %v, want [1 2 3]", fb.targets)
	}
	d.executorAdded("e1")
	d.executorAdded("e2")
	for p := range 10 {
		ex := []string{"e0", "e1", "e2"}[p%3]
		d.event(Event{Kind: TaskStart, Stage: 0, Partition: p, Executor: ex, Time: t0.Add(3 * time.Second)})
		d.event(Event{Kind: TaskStart, Stage: 0, Partition: p, Executor: "driver", Time: t0.Add(3 * time.Second)}) // ignored
		d.event(Event{Kind: TaskEnd, Stage: 0, Partition: p, Executor: ex, Time: t0.Add(4 * time.Second)})
	}
	d.event(Event{Kind: StageCompleted, Stage: 0})
	d.event(Event{Kind: JobEnd, Job: 1})
	d.tick(t0.Add(5 * time.Second)) // nothing pending: the target drops to min
	d.tick(t0.Add(7 * time.Second)) // idle 3 s > 2 s: two go, min stays
	if got := fb.targets[len(fb.targets)-1]; got != 1 {
		t.Errorf("target %d after the job, want 1 (min)", got)
	}
	if len(fb.killed) != 2 {
		t.Fatalf("killed %v, want 2 of 3", fb.killed)
	}
	if why := d.executorRemoved(fb.killed[0], "TASK_KILLED"); !strings.HasPrefix(why, killedReason) {
		t.Errorf("reason %q, want %q first", why, killedReason)
	}
	if why := d.executorRemoved("e9", "TASK_LOST agent gone"); why != "TASK_LOST agent gone" {
		t.Errorf("a lost executor's reason: %q", why)
	}
}
