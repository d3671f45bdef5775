package rdd

import (
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/mesoproject/meso/rdd/codec"
	"github.com/mesoproject/meso/rdd/internal/plan"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// Pair is a key-value record. Key-value operations (GroupByKey, ReduceByKey,
// Join, SortByKey ...) work on datasets of Pairs.
type Pair[K, V any] struct {
	Key   K
	Value V
}

// MakeCodec composes the codecs of K and V (see package codec).
func (Pair[K, V]) MakeCodec() any { return pairCodec[K, V]{codec.For[K](), codec.For[V]()} }

type pairCodec[K, V any] struct {
	k codec.Codec[K]
	v codec.Codec[V]
}

func (c pairCodec[K, V]) Append(dst []byte, p Pair[K, V]) []byte {
	return c.v.Append(c.k.Append(dst, p.Key), p.Value)
}

func (c pairCodec[K, V]) Decode(src []byte) (Pair[K, V], int, error) {
	k, n, err := c.k.Decode(src)
	if err != nil {
		return Pair[K, V]{}, 0, err
	}
	v, m, err := c.v.Decode(src[n:])
	if err != nil {
		return Pair[K, V]{}, 0, err
	}
	return Pair[K, V]{k, v}, n + m, nil
}

// DecodeArena decodes like Decode, the fields' slices of fixed-size
// elements taking their backing arrays from a.
func (c pairCodec[K, V]) DecodeArena(src []byte, a *codec.Arena) (Pair[K, V], int, error) {
	k, n, err := codec.DecodeIn(c.k, src, a)
	if err != nil {
		return Pair[K, V]{}, 0, err
	}
	v, m, err := codec.DecodeIn(c.v, src[n:], a)
	if err != nil {
		return Pair[K, V]{}, 0, err
	}
	return Pair[K, V]{k, v}, n + m, nil
}

// KV makes a Pair.
func KV[K, V any](k K, v V) Pair[K, V] { return Pair[K, V]{k, v} }

// StorageLevel says where Persist keeps a dataset's partitions.
type StorageLevel int

const (
	// None: not persisted.
	None StorageLevel = iota
	// MemoryOnly keeps partitions as Go values; partitions evicted for lack
	// of storage memory are recomputed when needed.
	MemoryOnly
	// MemoryAndDisk keeps partitions in memory and moves evicted ones to
	// local disk.
	MemoryAndDisk
	// DiskOnly keeps encoded partitions on local disk.
	DiskOnly
)

func (l StorageLevel) String() string {
	return [...]string{"NONE", "MEMORY_ONLY", "MEMORY_AND_DISK", "DISK_ONLY"}[l]
}

// node is the untyped vertex of the lineage graph. Its typed behaviour lives
// in closures built by the typed constructors. A node holds no session
// state: how a session resolved it (partition counts, input splits,
// prepared values) lives in the session, keyed by the node's id.
type node struct {
	id    int          // unique in the process; the planner's NodeID
	inv   *invocation  // guarded by claimMu; the Func invocation that built it, or nil
	local int          // guarded by claimMu; index of the node within inv (deterministic)
	op    string       // operation name, e.g. "groupBy"
	site  string       // user call site, file:line
	deps  []dep        // parents
	level atomic.Int32 // StorageLevel; set by Persist
	// shown is the partition count of the latest resolution by any session,
	// for NumPartitions only: the runtime never reads it.
	shown atomic.Int64

	// resolve computes the node's resolution in a session from its
	// parents' (already resolved); nil means one partition per parent
	// partition of the only parent.
	resolve func(env resolveEnv) resolution
	// prepare runs jobs this node needs before its partitions can be
	// computed (zipWithIndex's counts, a range partitioner's sample).
	// Its result is stored per session and reaches tasks in their
	// descriptor (TaskContext.prepared), never through shared variables.
	prepare func(j *jobEnv) (any, error)
	// bad is set at construction when the dataset can never be computed
	// (a bad sample fraction); jobs needing it fail with it.
	bad error
	// content writes what a source reads (its arguments, Parallelize's
	// data) for the invocation's fingerprint; nil for other datasets.
	content func(h io.Writer)
	// driverPart encodes partition p (of parts) of a dataset the driver
	// holds (Parallelize), for executors that read it through a handle.
	driverPart func(p, parts int) []byte
	// sizes returns the element count of each of parts partitions when
	// the driver knows them without computing the dataset (Range,
	// Parallelize); nil otherwise. ZipWithIndex then runs no counting job.
	sizes func(parts int) []int64
	// runResult is a cluster executor's result task on partition p: the
	// action's partition function named by the pipeline (RDD.runResult).
	runResult func(tc *TaskContext, p int, pl *task.Pipeline) ([]byte, error)
}

// resolution is one session's resolution of a dataset: the driver's truth,
// sent to executors in task descriptors and never recomputed there.
type resolution struct {
	parts  int
	narrow []func(p int) []int // per dep: child partition -> parent partitions; nil = same
	splits []task.Split        // TextFile
	err    error               // the dataset cannot be computed (a missing input file)
}

// resolveEnv is what a node's resolve sees: the session's defaults and its
// parents' partition counts.
type resolveEnv struct {
	def   defaults
	parts func(n *node) int
}

type dep struct {
	parent  *node
	shuffle *shuffleDep // nil for a narrow dependency
}

var nodeSeq atomic.Int64

func newNode(op string, deps ...dep) *node {
	n := &node{id: int(nodeSeq.Add(1)), op: op, site: callSite(), deps: deps}
	for _, d := range deps {
		if d.shuffle != nil {
			d.shuffle.reduceNode = n
		}
	}
	return n
}

func (n *node) String() string { return fmt.Sprintf("%s at %s", n.op, n.site) }

// callSite finds the first caller outside this package (and the standard
// iterator plumbing), like Spark's call sites.
func callSite() string {
	pcs := make([]uintptr, 16)
	k := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:k])
	for {
		f, more := frames.Next()
		if !isEngineFrame(f.Function) {
			return filepath.Base(f.File) + ":" + fmt.Sprint(f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

func isEngineFrame(fn string) bool {
	// User code (examples, package rdd_test) lives in other packages.
	return strings.HasPrefix(fn, "github.com/mesoproject/meso/rdd.") || strings.HasPrefix(fn, "reflect.")
}

// RDD is a lazy, partitioned, immutable dataset of T, described by its
// lineage. Transformations return new RDDs; actions (Collect, Count, ...) run
// jobs on a Session.
type RDD[T any] struct {
	n       *node
	compute func(tc *TaskContext, p int, yield func(T) bool)
	codec   codec.Codec[T]
}

// Dataset is implemented by every *RDD[T]; Func uses it to check that a
// function returns a dataset.
type Dataset interface {
	lineage() *node
}

func (r *RDD[T]) lineage() *node { return r.n }

// ID returns the dataset's id, unique in the process.
func (r *RDD[T]) ID() int { return r.n.id }

// NumPartitions returns the number of partitions the latest job on the
// dataset resolved it to (in any session), or 0 before any job. Each
// session resolves a dataset on its own (the default parallelism, the files
// a TextFile lists): this is for display.
func (r *RDD[T]) NumPartitions() int { return int(r.n.shown.Load()) }

// String names the operation that made the dataset and where.
func (r *RDD[T]) String() string { return fmt.Sprintf("RDD %d (%s)", r.n.id, r.n) }

func newRDD[T any](n *node, compute func(tc *TaskContext, p int, yield func(T) bool)) *RDD[T] {
	r := &RDD[T]{n: n, compute: compute, codec: codec.For[T]()}
	n.runResult = r.runResult
	return r
}

// oneToOne makes a child of r with the same partitioning.
func oneToOne[T, U any](r *RDD[T], op string, compute func(tc *TaskContext, p int, yield func(U) bool)) *RDD[U] {
	return newRDD(newNode(op, dep{parent: r.n}), compute)
}

// defaults are the partition counts used when an operation gives none.
type defaults struct {
	source  int // sources: spark.default.parallelism, or the slot count
	shuffle int // shuffles: spark.default.parallelism, or 0 (largest parent)
}

// iterate feeds partition p to yield, through the cache when persisted.
func (r *RDD[T]) iterate(tc *TaskContext, p int, yield func(T) bool) {
	if tc.fed != nil && tc.fedNode == r.n.id {
		r.iterateFed(tc, yield)
		return
	}
	if StorageLevel(r.n.level.Load()) == None || tc.err != nil {
		r.compute(tc, p, yield)
		return
	}
	cachedIterate(tc, r, p, yield)
}

// Persist marks the dataset to be kept at level after it is first computed,
// and returns it.
func (r *RDD[T]) Persist(level StorageLevel) *RDD[T] {
	r.n.level.Store(int32(level))
	return r
}

// Cache is Persist(MemoryOnly).
func (r *RDD[T]) Cache() *RDD[T] { return r.Persist(MemoryOnly) }

// graph collects the planner's view of the lineage reachable from n, as
// resolved by the session (res), with the nodes and shuffles by id.
func graph(n *node, res map[int]*resolution) (plan.Graph, map[int]*node, map[int]*shuffleDep) {
	g := plan.Graph{}
	nodes := map[int]*node{}
	shuffles := map[int]*shuffleDep{}
	var walk func(n *node)
	walk = func(n *node) {
		if _, ok := g[plan.NodeID(n.id)]; ok {
			return
		}
		r := res[n.id]
		pn := &plan.Node{Partitions: r.parts}
		g[plan.NodeID(n.id)] = pn
		nodes[n.id] = n
		for i, d := range n.deps {
			pd := plan.Dep{Parent: plan.NodeID(d.parent.id), Shuffle: -1}
			if i < len(r.narrow) {
				pd.Parents = r.narrow[i]
			}
			if d.shuffle != nil {
				pd.Shuffle = d.shuffle.id
				shuffles[d.shuffle.id] = d.shuffle
			}
			pn.Deps = append(pn.Deps, pd)
			walk(d.parent)
		}
	}
	walk(n)
	return g, nodes, shuffles
}

// iterateFed yields the records a remote executor computed for the task's
// target partition (TaskContext.fed).
func (r *RDD[T]) iterateFed(tc *TaskContext, yield func(T) bool) {
	b := tc.fed
	var a codec.Arena // the groups' members of one partition in one array
	for len(b) > 0 {
		v, n, err := codec.DecodeIn(r.codec, b, &a)
		if err != nil {
			tc.fail(fmt.Errorf("rdd: decoding the records of %s from the executor: %w", r.n, err))
			return
		}
		b = b[n:]
		if !yield(v) {
			return
		}
	}
}
