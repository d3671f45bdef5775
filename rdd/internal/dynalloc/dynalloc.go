package dynalloc

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Config is the spark.dynamicAllocation.* settings the policy uses.
type Config struct {
	MinExecutors     int // spark.dynamicAllocation.minExecutors (0)
	MaxExecutors     int // spark.dynamicAllocation.maxExecutors (unbounded: math.MaxInt)
	InitialExecutors int // max of initialExecutors, minExecutors and spark.executor.instances

	BacklogTimeout          time.Duration // schedulerBacklogTimeout (1 s)
	SustainedBacklogTimeout time.Duration // sustainedSchedulerBacklogTimeout (BacklogTimeout)
	IdleTimeout             time.Duration // executorIdleTimeout (60 s)
	CachedIdleTimeout       time.Duration // cachedExecutorIdleTimeout (0: infinite, Spark's default)

	TasksPerExecutor int     // spark.executor.cores / spark.task.cpus (1)
	AllocationRatio  float64 // executorAllocationRatio (1)
}

// Defaults are Spark's.
func Defaults() Config {
	return Config{
		MaxExecutors:     math.MaxInt,
		BacklogTimeout:   time.Second,
		IdleTimeout:      60 * time.Second,
		TasksPerExecutor: 1,
		AllocationRatio:  1,
	}
}

// Validate checks the settings as Spark does, naming the setting at fault.
func (c Config) Validate() error {
	switch {
	case c.MinExecutors < 0 || c.MaxExecutors < 0:
		return errors.New("spark.dynamicAllocation.{min,max}Executors must not be negative")
	case c.MaxExecutors == 0:
		return errors.New("spark.dynamicAllocation.maxExecutors cannot be 0")
	case c.MinExecutors > c.MaxExecutors:
		return fmt.Errorf("spark.dynamicAllocation.minExecutors (%d) must be less than or equal to spark.dynamicAllocation.maxExecutors (%d)", c.MinExecutors, c.MaxExecutors)
	case c.InitialExecutors < 0 || c.InitialExecutors > c.MaxExecutors:
		return fmt.Errorf("spark.dynamicAllocation.initialExecutors (%d) must be between 0 and spark.dynamicAllocation.maxExecutors (%d)", c.InitialExecutors, c.MaxExecutors)
	case c.BacklogTimeout <= 0:
		return errors.New("spark.dynamicAllocation.schedulerBacklogTimeout must be > 0")
	case c.SustainedBacklogTimeout < 0:
		return errors.New("spark.dynamicAllocation.sustainedSchedulerBacklogTimeout must be > 0")
	case c.IdleTimeout <= 0:
		return errors.New("spark.dynamicAllocation.executorIdleTimeout must be > 0")
	case c.CachedIdleTimeout < 0:
		return errors.New("spark.dynamicAllocation.cachedExecutorIdleTimeout must be >= 0")
	case c.TasksPerExecutor <= 0:
		return errors.New("spark.executor.cores must not be less than spark.task.cpus")
	case !(c.AllocationRatio > 0 && c.AllocationRatio <= 1):
		return errors.New("spark.dynamicAllocation.executorAllocationRatio must be in (0, 1]")
	}
	return nil
}

// Decision is what a Tick asks of the cluster backend.
type Decision struct {
	Target int      // executors wanted in total (running + requested)
	Kill   []string // idle executors to kill now, sorted
}

// executor is what the policy knows of one executor.
type executor struct {
	tasks   int       // tasks running on it
	cached  bool      // it holds cached blocks
	idleAt  time.Time // when it last became idle (valid while tasks == 0)
	killing bool      // a kill was asked; it still counts until removed
}

// stage is one active stage's task bookkeeping.
type stage struct {
	tasks   int
	started map[int]bool // partitions started (and not failed since)
}

// Manager is the policy's state. The zero value is not usable: see New.
type Manager struct {
	cfg          Config
	target       int
	step         int       // executors to add in the next round
	addAt        time.Time // when an addition is due; zero: no backlog
	initializing bool
	running      int
	stages       map[int]*stage
	executors    map[string]*executor
}

// New returns a Manager with the settings cfg (validated by the caller).
func New(cfg Config) *Manager {
	if cfg.SustainedBacklogTimeout == 0 {
		cfg.SustainedBacklogTimeout = cfg.BacklogTimeout
	}
	if cfg.TasksPerExecutor <= 0 {
		cfg.TasksPerExecutor = 1
	}
	if cfg.AllocationRatio <= 0 {
		cfg.AllocationRatio = 1
	}
	return &Manager{
		cfg:          cfg,
		target:       max(cfg.InitialExecutors, cfg.MinExecutors),
		step:         1,
		initializing: true,
		stages:       map[int]*stage{},
		executors:    map[string]*executor{},
	}
}

// Target is the current target number of executors.
func (m *Manager) Target() int { return m.target }

// Pending is the number of tasks of active stages not started.
func (m *Manager) Pending() int {
	n := 0
	for _, s := range m.stages {
		n += s.tasks - len(s.started)
	}
	return n
}

// maxNeeded is how many executors would run every pending and running task
// at once, scaled by the allocation ratio.
func (m *Manager) maxNeeded() int {
	tasks := float64(m.Pending()+m.running) * m.cfg.AllocationRatio
	return int(math.Ceil(tasks / float64(m.cfg.TasksPerExecutor)))
}

// StageSubmitted records a stage of n tasks: the scheduler is backlogged.
func (m *Manager) StageSubmitted(id, tasks int, now time.Time) {
	m.initializing = false
	m.stages[id] = &stage{tasks: tasks, started: map[int]bool{}}
	m.backlogged(now)
}

// StageCompleted forgets a stage (finished or aborted).
func (m *Manager) StageCompleted(id int) {
	delete(m.stages, id)
	if len(m.stages) == 0 {
		m.queueEmpty()
		m.running = 0
	}
}

// TaskStarted records partition part of stage id starting on executor.
func (m *Manager) TaskStarted(id, part int, exec string, now time.Time) {
	m.running++
	m.addExecutor(exec, now)
	if s, ok := m.stages[id]; ok {
		s.started[part] = true
	}
	if m.Pending() == 0 {
		m.queueEmpty()
	}
	e := m.executors[exec]
	e.tasks++
}

// TaskEnded records the end of a task; a failed one will run again, so the
// scheduler is backlogged again.
func (m *Manager) TaskEnded(id, part int, exec string, success bool, now time.Time) {
	m.running = max(m.running-1, 0)
	if e, ok := m.executors[exec]; ok && e.tasks > 0 {
		e.tasks--
		if e.tasks == 0 {
			e.idleAt = now
		}
	}
	if !success {
		if m.Pending() == 0 {
			m.backlogged(now)
		}
		if s, ok := m.stages[id]; ok {
			delete(s.started, part)
		}
	}
}

// ExecutorAdded records a new executor, idle from now.
func (m *Manager) ExecutorAdded(id string, now time.Time) { m.addExecutor(id, now) }

func (m *Manager) addExecutor(id string, now time.Time) {
	if _, ok := m.executors[id]; !ok {
		m.executors[id] = &executor{idleAt: now}
	}
}

// ExecutorRemoved forgets an executor (killed, lost or exited).
func (m *Manager) ExecutorRemoved(id string) { delete(m.executors, id) }

// CachedBlocks records whether an executor holds cached blocks, which
// gives it cachedExecutorIdleTimeout instead of executorIdleTimeout.
func (m *Manager) CachedBlocks(id string, has bool) {
	if e, ok := m.executors[id]; ok {
		e.cached = has
	}
}

func (m *Manager) backlogged(now time.Time) {
	if m.addAt.IsZero() {
		m.addAt = now.Add(m.cfg.BacklogTimeout)
	}
}

func (m *Manager) queueEmpty() {
	m.addAt = time.Time{}
	m.step = 1
}

// Tick runs the policy at now: it updates the target, then picks the idle
// executors whose timeout passed.
func (m *Manager) Tick(now time.Time) Decision {
	m.updateTarget(now)
	return Decision{Target: m.target, Kill: m.expired(now)}
}

func (m *Manager) updateTarget(now time.Time) {
	need := m.maxNeeded()
	switch {
	case m.initializing:
		// The first job should not have to ramp up from a lowered target.
	case need < m.target:
		m.target = max(need, m.cfg.MinExecutors)
		m.step = 1
	case !m.addAt.IsZero() && !now.Before(m.addAt):
		m.add(need)
		m.addAt = now.Add(m.cfg.SustainedBacklogTimeout)
	}
}

// add raises the target by the round's step within maxNeeded and the
// bounds, doubling the step when the whole step was granted.
func (m *Manager) add(need int) {
	if m.target >= m.cfg.MaxExecutors {
		m.step = 1
		return
	}
	old := m.target
	t := max(m.target, m.held()) + m.step
	t = min(t, need)
	m.target = max(min(t, m.cfg.MaxExecutors), m.cfg.MinExecutors)
	switch delta := m.target - old; {
	case delta == m.step:
		m.step *= 2
	default:
		m.step = 1
	}
}

// held counts executors not being killed.
func (m *Manager) held() int {
	n := 0
	for _, e := range m.executors {
		if !e.killing {
			n++
		}
	}
	return n
}

// expired picks idle executors past their timeout, oldest idle first, as
// long as neither minExecutors nor the target would be undercut.
func (m *Manager) expired(now time.Time) []string {
	var due []string
	for id, e := range m.executors {
		if e.killing || e.tasks > 0 {
			continue
		}
		timeout := m.cfg.IdleTimeout
		if e.cached {
			timeout = m.cfg.CachedIdleTimeout
		}
		if timeout <= 0 {
			continue // infinite
		}
		if !now.Before(e.idleAt.Add(timeout)) {
			due = append(due, id)
		}
	}
	if len(due) == 0 {
		return nil
	}
	m.initializing = false
	slices.SortFunc(due, func(a, b string) int {
		if c := m.executors[a].idleAt.Compare(m.executors[b].idleAt); c != 0 {
			return c
		}
		if a < b {
			return -1
		}
		return 1
	})
	total := m.held()
	var kill []string
	for _, id := range due {
		if total-1 < m.cfg.MinExecutors || total-1 < m.target {
			continue
		}
		m.executors[id].killing = true
		kill = append(kill, id)
		total--
	}
	slices.Sort(kill)
	return kill
}
