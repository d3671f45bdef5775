package rdd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mesoproject/meso/rdd/internal/blocks"
	"github.com/mesoproject/meso/rdd/internal/exec"
	"github.com/mesoproject/meso/rdd/internal/job"
	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// Errors callers may branch on.
var (
	// ErrConfig: an invalid Config.
	ErrConfig = errors.New("rdd: bad config")
	// ErrClosed: the session is closed.
	ErrClosed = errors.New("rdd: session closed")
	// ErrJobFailed is wrapped by the error of a job aborted because a task
	// failed too often or a stage was resubmitted too often.
	ErrJobFailed = job.ErrFailed
)

// Session runs jobs. It owns the executors, the shuffle files, the cache and
// the event listeners. A Session is safe for concurrent use: several actions
// may run at once and share its task slots.
type Session struct {
	cfg   Config
	log   *slog.Logger
	dir   string
	store *shuffle.Store
	fetch shuffle.Service // the store, or a fault-injecting wrapper in tests
	exec  exec.Executor
	slots int
	// cluster runs the executors of a mesos:// session; nil in local mode.
	cluster *cluster
	cache   *blocks.Manager
	// keepShuffle: Close leaves the shuffle files (an executor's, served
	// by the external shuffle service, which deletes them).
	keepShuffle atomic.Bool

	listenMu  sync.Mutex
	listeners []func(Event) // guarded by listenMu
	elog      *eventLog
	ui        *driverUI // nil without a UI (ui.go)

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	jobs   sync.WaitGroup // running jobs
	clean  chan cleanup   // datasets and shuffles no longer reachable
	done   chan struct{}  // closed when the cleaner goroutine exits

	// resMu is held while datasets are resolved (TextFile lists files
	// under it, so it is not mu).
	resMu sync.Mutex
	res   map[int]*resolution // guarded by resMu; node id -> this session's resolution
	// watches are the pending cleanups of the datasets and shuffles the
	// session resolved (cleaner.go).
	watches map[cleanup]runtime.Cleanup // guarded by resMu

	mu       sync.Mutex
	closed   bool                  // guarded by mu
	books    *job.Books            // guarded by mu; map outputs and stage ids, shared by the jobs
	jobTasks map[int]*jobTasks     // guarded by mu; running jobs, for the local runner
	nextJob  int                   // guarded by mu
	stats    Stats                 // guarded by mu
	accums   map[int64]accumulable // guarded by mu
	// broadcasts encode each broadcast variable's value once, for executors.
	broadcasts map[int64]func() ([]byte, error) // guarded by mu
	prepared   map[int]any                      // guarded by mu; node id -> result of its prepare step
	prepMu     map[int]*sync.Mutex              // guarded by mu; node id -> held while its prepare step runs
	progress   *progressBar
	// stopProfile ends the driver's CPU profile (MESO_RDD_DRIVER_CPUPROFILE);
	// nil without one.
	stopProfile func()
}

// Stats are a session's cumulative counters, for summaries and tests.
type Stats struct {
	Jobs                int
	Stages              int // stages that ran tasks
	StagesSkipped       int // stages whose outputs already existed
	Tasks               int // task attempts that succeeded
	TasksFailed         int // task attempts that failed (and were retried or aborted the job)
	StageResubmissions  int // stages resubmitted after lost map outputs
	ShuffleBytesWritten int64
	ShuffleBytesRead    int64
	ShuffleRecords      int64
	SpillBytes          int64
	CacheHits           int // partitions served from the cache
	CacheMisses         int // persisted partitions computed and stored
	// Shuffle blocks of batched fetches (cluster mode) by where they were
	// read: own store, another executor's directory on this host, HTTP.
	ShuffleLocalBlocks, ShuffleHostLocalBlocks, ShuffleRemoteBlocks int64
	JobTime                                                         time.Duration
}

// Start opens a session. In a process the cluster-mode driver started as
// its executor (MESO_RDD_DRIVER_URL is set), Start does not return: it runs
// the executor until the driver stops it or goes away, then exits the
// process. Every rdd program is thus its own executor, with no change.
func Start(cfg Config) (*Session, error) {
	if url := os.Getenv(envDriverURL); url != "" {
		runExecutorMain(url)
	}
	log := cfg.Logger
	if log == nil { // the profile was asked for: say why there is none
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	stop := driverCPUProfile(os.Getenv(envDriverCPUProfile), log)
	s, err := start(cfg)
	if err != nil {
		stop()
		return nil, err
	}
	s.stopProfile = stop
	return s, nil
}

func start(cfg Config) (*Session, error) {
	cfg = cfg.withDefaults()
	masters, err := mesosMasters(cfg.Master)
	if err != nil {
		return nil, err
	}
	var slots int
	if masters != nil {
		slots, err = clusterSlots(cfg)
	} else {
		slots, err = cfg.slots()
	}
	if err != nil {
		return nil, err
	}
	if cfg.DefaultParallelism < 0 {
		return nil, fmt.Errorf("%w: negative default parallelism", ErrConfig)
	}
	dir, err := os.MkdirTemp(cfg.LocalDir, "rdd-")
	if err != nil {
		return nil, fmt.Errorf("%w: local dir: %v", ErrConfig, err)
	}
	store, err := shuffle.NewStore(dir + "/shuffle")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		ctx: ctx, cancel: cancel, clean: make(chan cleanup, 1024), done: make(chan struct{}),
		cfg: cfg, log: cfg.Logger, dir: dir, store: store, fetch: store,
		slots: slots, res: map[int]*resolution{}, watches: map[cleanup]runtime.Cleanup{}, books: job.NewBooks(), jobTasks: map[int]*jobTasks{},
		accums: map[int64]accumulable{}, broadcasts: map[int64]func() ([]byte, error){}, prepared: map[int]any{}, prepMu: map[int]*sync.Mutex{},
	}
	s.exec = exec.NewLocal("driver", slots, localRunner{s})
	s.cache = blocks.New(dir+"/blocks", cfg.StorageMemory)
	if cfg.EventLogDir != "" {
		if s.elog, err = openEventLog(cfg.EventLogDir, cfg.AppName); err != nil {
			if s.cluster != nil {
				s.cluster.stop()
			}
			os.RemoveAll(dir)
			return nil, err
		}
		s.AddListener(s.elog.record)
	}
	if cfg.ShowConsoleProgress {
		w := cfg.Progress
		if w == nil {
			w = os.Stderr
		}
		s.progress = newProgressBar(w)
		s.AddListener(s.progress.record)
	}
	if cfg.UIEnabled || masters != nil && !cfg.UIDisabled {
		host := cfg.Cluster["spark.driver.host"]
		if host == "" {
			host = "127.0.0.1"
		}
		if s.ui, err = startUI(s, host); err != nil {
			s.cancel()
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if masters != nil {
		if s.cluster, err = startCluster(s, masters); err != nil {
			if s.ui != nil {
				s.ui.close()
			}
			s.cancel()
			os.RemoveAll(dir)
			return nil, err
		}
	}
	go s.cleaner()
	s.emit(Event{Kind: AppStart, App: cfg.AppName, Master: cfg.Master, Slots: slots, Shuffle: -1, Config: cfg.settings()})
	s.log.Info("session started", "master", cfg.Master, "slots", slots, "dir", dir)
	return s, nil
}

// Close cancels running jobs (they return ErrClosed), waits for them, then
// removes the session's shuffle files and cached blocks and closes the
// event log.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.jobs.Wait()
	var err error
	if s.cluster != nil {
		err = s.cluster.stop()
	}
	s.stopWatching()
	<-s.done
	s.store.Close()
	s.emit(Event{Kind: AppEnd, Shuffle: -1})
	if s.ui != nil {
		s.ui.close()
	}
	if s.elog != nil {
		if cerr := s.elog.close(); err == nil {
			err = cerr
		}
	}
	rm := s.dir
	if s.keepShuffle.Load() {
		rm = filepath.Join(s.dir, "blocks")
	}
	if rerr := os.RemoveAll(rm); err == nil {
		err = rerr
	}
	if s.stopProfile != nil {
		s.stopProfile()
	}
	return err
}

// Slots returns how many tasks run at once.
func (s *Session) Slots() int { return s.slots }

// Stats returns the session's counters so far.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// AddListener registers f to receive every scheduler event. f is called
// synchronously from the scheduler and must be quick; a panic in f is
// logged and otherwise ignored.
func (s *Session) AddListener(f func(Event)) {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	s.listeners = append(s.listeners, f)
}

func (s *Session) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.listenMu.Lock()
	ls := s.listeners
	s.listenMu.Unlock()
	for _, f := range ls {
		s.callListener(f, e)
	}
}

// callListener calls one listener; a listener that panics is logged, not
// allowed to take the scheduler down.
func (s *Session) callListener(f func(Event), e Event) {
	defer func() {
		if x := recover(); x != nil {
			s.log.Error("event listener panicked", "event", e.Kind, "panic", x)
		}
	}()
	f(e)
}
