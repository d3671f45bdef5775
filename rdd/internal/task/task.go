package task

import (
	"fmt"
	"time"
)

// Invocation is the portable form of a Func call: the Func's index in the
// registry (the same binary registers the same Funcs in the same order) and
// each argument gob-encoded as its parameter type.
type Invocation struct {
	ID   int64 // the driver's id of the call (NodeRef.Inv); an executor rebuilds each call once
	Func int
	Args [][]byte
}

// NodeRef names a dataset both ways: by its id in the driver process (the
// local executor's lookup) and by its local index in the invocation that
// built it, Inv (a remote executor's lookup after rebuilding the lineage;
// Local is -1 and Inv 0 when the dataset belongs to no invocation). A
// pipeline's datasets come from its own invocation and from those of the
// driver datasets passed to it as arguments.
type NodeRef struct {
	ID    int
	Local int
	Inv   int64
}

// Split is a byte range of an input file; a line belongs to the split where
// it starts.
type Split struct {
	Path       string
	Start, End int64
}

// Node is the driver's resolution of one dataset of a pipeline.
type Node struct {
	NodeRef
	Partitions int
	Splits     []Split // TextFile: one per partition
	// Prepared is the value the dataset's preparatory job computed on the
	// driver (zipWithIndex's partition offsets, a sort's range bounds), or
	// nil.
	Prepared any
	// Level is the driver's storage level of the dataset (rdd.StorageLevel):
	// an executor caches what the driver persisted, even after the Func
	// returned (Cache called in main).
	Level int
}

// Shuffle is one shuffle a pipeline writes (map stage) or reads.
type Shuffle struct {
	ID       int // the driver's shuffle id: map outputs are written and fetched under it
	Map      NodeRef
	Reduce   NodeRef
	Maps     int // map tasks (the map side's partitions)
	Reducers int // reduce partitions (the reduce side's partitions)
}

// Pipeline is what every task of one stage needs, shared by its tasks.
type Pipeline struct {
	Name string // operation and call site of the stage's last dataset
	// Invocation builds the lineage in another process; nil when a dataset
	// of the pipeline belongs to no portable Func call (local mode only).
	Invocation *Invocation
	// NotPortable says why Invocation is nil.
	NotPortable string
	// Target is the stage's last dataset: the result task's dataset, or a
	// map stage's map side.
	Target NodeRef
	// Shuffle is the shuffle a map stage writes, or -1.
	Shuffle int
	// Nodes are the datasets the tasks may compute (the stage's narrow
	// lineage) and, for a map stage, the reduce side of its shuffle (whose
	// prepared value may choose the partitioner).
	Nodes []Node
	// Shuffles are the shuffles read by the pipeline, and the one written.
	Shuffles []Shuffle
	// Result says what a remote executor's result task returns: "" the
	// partition's records (Collect, Take), ResultCount their number, or
	// another action's partial result over the partition (Reduce's, ...),
	// computed with the registered functions ResultFuncs (registry indexes)
	// and the gob-encoded arguments ResultArgs.
	Result      string
	ResultFuncs []int
	ResultArgs  [][]byte
	// Fingerprint digests the lineage the driver built for Invocation
	// (operations, call sites and partition counts of its datasets): an
	// executor that rebuilt something else refuses the stage.
	Fingerprint  string
	Accumulators []int64 // ids of accumulators among the invocation's arguments
	Broadcasts   []int64 // ids of broadcast variables among them
}

// ResultCount is the Pipeline.Result of jobs that only count records.
const ResultCount = "count"

// ID names one task attempt.
type ID struct {
	Job          int
	Stage        int
	StageAttempt int
	Shuffle      int // the shuffle a map task writes; -1 for result tasks
	Partition    int
	Attempt      int
}

func (id ID) String() string {
	return fmt.Sprintf("job %d stage %d.%d partition %d attempt %d", id.Job, id.Stage, id.StageAttempt, id.Partition, id.Attempt)
}

// Desc describes one task attempt for an executor.
type Desc struct {
	ID
	Executor string // the executor chosen by the job core
	Pipeline *Pipeline
	// Prefetched is set on a task the core gave an executor beyond its
	// free slots: it waits there for a slot (job.Config.Prefetch).
	Prefetched bool
}

// Metrics are what one task attempt did.
type Metrics struct {
	Duration            time.Duration `json:"duration_ns"`
	ShuffleBytesWritten int64         `json:"shuffle_bytes_written"`
	ShuffleRecords      int64         `json:"shuffle_records_written"`
	ShuffleBytesRead    int64         `json:"shuffle_bytes_read"`
	SpillBytes          int64         `json:"spill_bytes"`
	CacheHits           int           `json:"cache_hits"`
	CacheMisses         int           `json:"cache_misses"`
	// Shuffle blocks a reduce task's batched fetch read (cluster mode):
	// from its executor's own store, from the directory of another
	// executor on the same host (spark.shuffle.readHostLocalDisk), and
	// over HTTP.
	ShuffleLocalBlocks     int64 `json:"shuffle_local_blocks,omitempty"`
	ShuffleHostLocalBlocks int64 `json:"shuffle_host_local_blocks,omitempty"`
	ShuffleRemoteBlocks    int64 `json:"shuffle_remote_blocks,omitempty"`
	// ShuffleFetchWait is the time a reduce task's batched fetch spent
	// outside the task's own decoding: waiting for blocks (HTTP) or
	// reading them (disk); Spark's fetch wait time.
	ShuffleFetchWait time.Duration `json:"shuffle_fetch_wait_ns,omitempty"`
}

// FetchFailure says which map outputs of a shuffle a reducer could not
// fetch.
type FetchFailure struct {
	Shuffle int
	Maps    []int
}

// Result is what an executor reports for a task attempt.
type Result struct {
	ID       ID
	Executor string
	// Value is a map task's block sizes ([]int64, one per reducer) or a
	// result task's value for the action.
	Value   any
	Err     error
	Fetch   *FetchFailure // set when Err is a failure to fetch map outputs
	Metrics Metrics
	Accums  map[int64]any // accumulator updates of a successful attempt
	// Cached lists the partitions of persisted datasets the attempt stored
	// in its executor's cache (by the driver's dataset ids): the driver
	// keeps where each is.
	Cached []CachedBlock
	// Handled, when set, is called once the job loop (exec.Run) has acted
	// on the result: the core saw it and every task it started in answer
	// was given to its executor's Launch. A cluster executor's result
	// report waits for it, and is answered with those tasks.
	Handled func()
}

// CachedBlock is a cached partition of a dataset (the driver's id).
type CachedBlock struct {
	Node, Part int
}
