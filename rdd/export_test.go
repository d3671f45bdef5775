package rdd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/rdd/codec"
	"github.com/mesoproject/meso/rdd/internal/exec"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// stressExecutor fails a random share of task attempts, half of them before
// the task runs and half after it did its work (its outputs written, its
// result dropped), like bigslice's stress executor.
type stressExecutor struct {
	inner exec.Executor
	mu    sync.Mutex
	rng   *rand.Rand // guarded by mu
	rate  float64
}

var errInjected = errors.New("injected task failure")

func (e *stressExecutor) roll() (before, after bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rng.Float64() >= e.rate {
		return false, false
	}
	b := e.rng.IntN(2) == 0
	return b, !b
}

func (e *stressExecutor) ID() string { return e.inner.ID() }
func (e *stressExecutor) Slots() int { return e.inner.Slots() }

func (e *stressExecutor) Launch(ctx context.Context, d *task.Desc, done func(task.Result)) {
	before, after := e.roll()
	if before {
		go done(task.Result{ID: d.ID, Executor: e.ID(), Err: errInjected})
		return
	}
	e.inner.Launch(ctx, d, func(res task.Result) {
		if after && res.Err == nil {
			res = task.Result{ID: d.ID, Executor: e.ID(), Err: errInjected, Metrics: res.Metrics}
		}
		done(res)
	})
}

// InjectTaskFailures makes a share rate of the session's task attempts fail.
func InjectTaskFailures(s *Session, rate float64, seed uint64) {
	s.exec = &stressExecutor{inner: s.exec, rng: rand.New(rand.NewPCG(seed, 1)), rate: rate}
}

// CorruptMapOutput flips the first byte of a map output's file (inside the
// first non-empty block).
func CorruptMapOutput(s *Session, shuffle, m int) error {
	path := s.store.Path(shuffle, m)
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return err
	}
	b[0] ^= 0xff
	s.store.Remove(shuffle, m) // drop any cached mapping, then put the damaged file back
	return os.WriteFile(path, b, 0o644)
}

var ErrInjected = errInjected

// RemoveMapOutput deletes map output m of shuffle sh from disk without
// telling the scheduler, as a crashed executor or a full disk would: the next
// reducer that fetches it fails, and the scheduler recomputes it.
func RemoveMapOutput(s *Session, sh, m int) error { return s.store.Remove(sh, m) }

// DeleteCachedBlocks removes every disk-cached block file of the session.
func DeleteCachedBlocks(s *Session) int { return s.cache.RemoveDiskFiles() }

// ShuffleFiles counts the map output files on disk; CachedBlocks counts the
// blocks in the cache.
// ShuffleFiles counts the shuffle files in the session's store (map
// outputs, spills, temporary files; not the directory's change counter).
func ShuffleFiles(s *Session) int {
	entries, _ := os.ReadDir(s.store.Dir())
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "shuffle_") {
			n++
		}
	}
	return n
}

func CachedBlocks(s *Session) int { return s.cache.Len() }

// fullDisk fails writes with ENOSPC once its shared budget is spent.
type fullDisk struct {
	w    io.Writer
	left *atomic.Int64
}

func (d fullDisk) Write(p []byte) (int, error) {
	if d.left.Add(-int64(len(p))) < 0 {
		return 0, &os.PathError{Op: "write", Path: "shuffle", Err: syscall.ENOSPC}
	}
	return d.w.Write(p)
}

// InjectDiskFull makes the session's shuffle writes fail as on a full disk
// once budget bytes were written in all; a negative budget removes the fault.
func InjectDiskFull(s *Session, budget int64) {
	if budget < 0 {
		s.store.InjectWriteFault(nil)
		return
	}
	left := new(atomic.Int64)
	left.Store(budget)
	s.store.InjectWriteFault(func(w io.Writer) io.Writer { return fullDisk{w, left} })
}

// ShuffleDirEntries lists the names in the session's shuffle directory.
func ShuffleDirEntries(s *Session) []string {
	entries, _ := os.ReadDir(s.store.Dir())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// SessionDir returns the session's own directory (removed by Close).
func SessionDir(s *Session) string { return s.dir }

// MappedOutputs counts the session's memory-mapped map output files.
func MappedOutputs(s *Session) int { return s.store.MappedOutputs() }

// recordingExecutor keeps every descriptor it launches.
type recordingExecutor struct {
	exec.Executor
	mu    sync.Mutex
	descs []*task.Desc // guarded by mu
}

func (e *recordingExecutor) Launch(ctx context.Context, d *task.Desc, done func(task.Result)) {
	e.mu.Lock()
	e.descs = append(e.descs, d)
	e.mu.Unlock()
	e.Executor.Launch(ctx, d, done)
}

// RecordTasks makes the session keep the descriptors of the tasks it
// launches from now on; the returned function lists them.
func RecordTasks(s *Session) func() []*task.Desc {
	rec := &recordingExecutor{Executor: s.exec}
	s.exec = rec
	return func() []*task.Desc {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return append([]*task.Desc(nil), rec.descs...)
	}
}

// rebuildingRunner runs map tasks as a remote executor will: it rebuilds
// the lineage from the descriptor's Func invocation, finds the datasets and
// shuffles by their local indexes, and takes everything else (partition
// counts, splits, prepared values, shuffle ids) from the descriptor. Result
// tasks run in process: an action's function reaching executors is a later
// step.
type rebuildingRunner struct {
	local   localRunner
	rebuilt atomic.Int64
}

func (rr *rebuildingRunner) Run(ctx context.Context, d *task.Desc) task.Result {
	pl := d.Pipeline
	if d.Shuffle < 0 || pl.Invocation == nil {
		return rr.local.Run(ctx, d)
	}
	fail := func(err error) task.Result { return task.Result{ID: d.ID, Executor: d.Executor, Err: err} }
	ds, err := rebuild(*pl.Invocation, nil, nil, nil)
	if err != nil {
		return fail(err)
	}
	root := ds.lineage()
	ix := &pipelineIndex{p: pl, nodes: map[int]*task.Node{}, shuffles: map[int]*task.Shuffle{}}
	for i := range pl.Nodes {
		n := byLocal(root, pl.Nodes[i].Local)
		if n == nil {
			return fail(fmt.Errorf("no dataset %d in the rebuilt lineage", pl.Nodes[i].Local))
		}
		ix.nodes[n.id] = &pl.Nodes[i]
	}
	var written *shuffleDep
	for i := range pl.Shuffles {
		sh := &pl.Shuffles[i]
		for _, dep := range byLocal(root, sh.Reduce.Local).deps {
			if dep.shuffle != nil {
				ix.shuffles[dep.shuffle.id] = sh
				if sh.ID == d.Shuffle {
					written = dep.shuffle
				}
			}
		}
	}
	if written == nil {
		return fail(fmt.Errorf("shuffle %d not in the rebuilt lineage", d.Shuffle))
	}
	rr.rebuilt.Add(1)
	tc := &TaskContext{ctx: ctx, sess: rr.local.s, pipe: ix, job: d.Job, stage: d.Stage,
		partition: d.Partition, attempt: d.Attempt}
	return runTask(tc, d, func(tc *TaskContext) (any, error) { return written.writeMap(tc, d.Partition) })
}

// RebuildMapTasks makes the session run its map tasks of portable stages
// from rebuilt lineages; the returned function counts them.
func RebuildMapTasks(s *Session) func() int64 {
	rr := &rebuildingRunner{local: localRunner{s}}
	s.exec = exec.NewLocal("rebuilding", s.slots, rr)
	return rr.rebuilt.Load
}

// UseExecutorSlots makes the session run its tasks on a local executor
// with slots slots, as if an executor with another size had registered.
func UseExecutorSlots(s *Session, slots int) {
	s.exec = exec.NewLocal("resized", slots, localRunner{s})
}

// StartInProcessCluster starts a driver session in cluster mode whose
// executors are executor loops in this process (the same code a cluster's
// executor processes run, over the real RPC and shuffle servers on
// loopback), without Mesos.
func StartInProcessCluster(t testing.TB, cfg Config, executors int) *Session {
	t.Helper()
	return StartInProcessClusterSlots(t, cfg, executors, 2)
}

// StartInProcessClusterSlots is StartInProcessCluster with executors of
// slots slots.
func StartInProcessClusterSlots(t testing.TB, cfg Config, executors, slots int) *Session {
	t.Helper()
	if cfg.Master == "" {
		cfg.Master = "local[2]"
	}
	s, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := newCluster(s, "127.0.0.1")
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	s.cluster = c
	var wg sync.WaitGroup
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	for i := range executors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runExecutor(context.Background(), c.url, c.token, fmt.Sprintf("e%d", i), slots, "127.0.0.1", log); err != nil {
				t.Errorf("executor e%d: %v", i, err)
			}
		}()
	}
	t.Cleanup(func() {
		s.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("executors did not stop")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for c.pool.Len() < executors {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d executors registered", c.pool.Len(), executors)
		}
		time.Sleep(10 * time.Millisecond) // polling for registration, with a deadline
	}
	return s
}

// SessionOf returns the session a task runs in: an executor's in cluster
// mode.
func SessionOf(tc *TaskContext) *Session { return tc.sess }

// BroadcastsServed returns how many broadcast values a cluster session's
// driver sent to executors.
func BroadcastsServed(s *Session) int64 { return s.cluster.broadcastsServed.Load() }

// PipelineBytes returns the encoded size of every pipeline a cluster
// session's driver built for its executors.
func PipelineBytes(s *Session) int {
	c := s.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.pipes {
		n += proto.Size(p)
	}
	return n
}

// RemoteCacheReads returns how many of a cluster session's tasks missed
// their executor's cache while another executor held the partition.
func RemoteCacheReads(s *Session) int64 { return s.cluster.cached.remote.Load() }

// DataServed returns the bytes of driver data (Parallelize partitions) a
// cluster session's driver sent to executors.
func DataServed(s *Session) int64 { return s.cluster.cached.dataServed.Load() }

// EncodedSize is the size of data in its codec.
func EncodedSize[T any](data []T) int {
	c := codec.For[T]()
	var b []byte
	for _, v := range data {
		b = c.Append(b, v)
	}
	return len(b)
}

// ResultBytes returns the bytes of result task values a cluster session's
// driver received.
func ResultBytes(s *Session) int64 { return s.cluster.resultBytes.Load() }

// TasksHandedOut returns how many tasks the driver handed to executors in
// the answers of result reports and of long polls.
func TasksHandedOut(s *Session) (byReport, byPoll int64) {
	return s.cluster.tasksByReport.Load(), s.cluster.tasksByPoll.Load()
}

// DriverEndpoint returns a cluster session's driver URL and application
// token, for tests that act as an executor.
func DriverEndpoint(s *Session) (url, token string) { return s.cluster.url, s.cluster.token }

// RegistrySites lists the call sites of the registered Funcs, as an
// executor registers them.
func RegistrySites() []string { return registrySites() }

// LoseExecutor takes an executor out of a cluster session as the Mesos
// backend does when its process ends.
func LoseExecutor(s *Session, id, why string) { s.cluster.lose(id, why) }

// RunningOn returns how many tasks the driver thinks executor id runs.
func RunningOn(s *Session, id string) int {
	c := s.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.execs[id].running)
}

// ReportBody encodes a result report as an executor posts it to the
// driver's ResultsPath.
func ReportBody(req *rddpb.ReportResultsRequest) ([]byte, error) {
	b, err := newReportBody(req)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(b.reader())
}

// ResultsPath and ResultsContentType are where and how executors post
// their results.
const ResultsPath, ResultsContentType = resultsPath, resultsContentType
