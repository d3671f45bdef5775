package rdd

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// The cluster-mode transport of task descriptors and results: task.Desc and
// task.Result to and from their rddpb messages. Values a remote executor
// cannot rebuild are gob-encoded: prepared values, result values (the
// partition's records, in the dataset's codec), accumulator updates.

// gobValue is a prepared value as it arrives at an executor: decoded when a
// task asks for it, with the type the dataset expects (preparedAs).
type gobValue []byte

func gobEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).EncodeValue(reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gobDecode[T any](b []byte) (T, error) {
	var v T
	err := gob.NewDecoder(bytes.NewReader(b)).Decode(&v)
	return v, err
}

// preparedAs returns node n's prepared value as a T, decoding it when it
// came over the wire.
func preparedAs[T any](tc *TaskContext, n *node) T {
	switch v := tc.prepared(n).(type) {
	case gobValue:
		out, err := gobDecode[T](v)
		if err != nil {
			panic(fmt.Sprintf("rdd: decoding the prepared value of %s: %v", n, err))
		}
		return out
	default:
		return v.(T)
	}
}

func refToProto(r task.NodeRef) *rddpb.NodeRef {
	return &rddpb.NodeRef{Id: int64(r.ID), Local: int64(r.Local), Inv: r.Inv}
}

func refFromProto(r *rddpb.NodeRef) task.NodeRef {
	return task.NodeRef{ID: int(r.GetId()), Local: int(r.GetLocal()), Inv: r.GetInv()}
}

// errNoInvocation fails the tasks of a stage a remote executor cannot
// rebuild.
var errNoInvocation = fmt.Errorf("%w: cluster mode runs only stages built inside an rdd.Func", ErrNotPortable)

func pipelineToProto(id int64, p *task.Pipeline) (*rddpb.Pipeline, error) {
	if p.Invocation == nil {
		return nil, fmt.Errorf("%w: stage %s: %s", errNoInvocation, p.Name, p.NotPortable)
	}
	out := &rddpb.Pipeline{Id: id, Name: p.Name, Func: int64(p.Invocation.Func), Args: p.Invocation.Args, Invocation: p.Invocation.ID,
		Target: refToProto(p.Target), Shuffle: int64(p.Shuffle), Accumulators: p.Accumulators, Broadcasts: p.Broadcasts,
		Result: p.Result}
	for _, n := range p.Nodes {
		pn := &rddpb.Node{Ref: refToProto(n.NodeRef), Partitions: int64(n.Partitions), Level: int32(n.Level)}
		for _, s := range n.Splits {
			pn.Splits = append(pn.Splits, &rddpb.Split{Path: s.Path, Start: s.Start, End: s.End})
		}
		if n.Prepared != nil {
			b, err := gobEncode(n.Prepared)
			if err != nil {
				return nil, fmt.Errorf("%w: stage %s: prepared value of dataset %d: %v", ErrNotPortable, p.Name, n.ID, err)
			}
			pn.Prepared = b
		}
		out.Nodes = append(out.Nodes, pn)
	}
	for _, s := range p.Shuffles {
		out.Shuffles = append(out.Shuffles, &rddpb.Shuffle{Id: int64(s.ID), Map: refToProto(s.Map), Reduce: refToProto(s.Reduce),
			Maps: int64(s.Maps), Reducers: int64(s.Reducers)})
	}
	for _, f := range p.ResultFuncs {
		out.ResultFuncs = append(out.ResultFuncs, int64(f))
	}
	out.ResultArgs, out.Fingerprint = p.ResultArgs, p.Fingerprint
	return out, nil
}

func pipelineFromProto(p *rddpb.Pipeline) (*task.Pipeline, error) {
	out := &task.Pipeline{Name: p.GetName(), Invocation: &task.Invocation{ID: p.GetInvocation(), Func: int(p.GetFunc()), Args: p.GetArgs()},
		Target: refFromProto(p.GetTarget()), Shuffle: int(p.GetShuffle()), Accumulators: p.GetAccumulators(), Broadcasts: p.GetBroadcasts(),
		Result: p.GetResult()}
	for _, n := range p.GetNodes() {
		tn := task.Node{NodeRef: refFromProto(n.GetRef()), Partitions: int(n.GetPartitions()), Level: int(n.GetLevel())}
		for _, s := range n.GetSplits() {
			tn.Splits = append(tn.Splits, task.Split{Path: s.GetPath(), Start: s.GetStart(), End: s.GetEnd()})
		}
		if len(n.GetPrepared()) > 0 {
			tn.Prepared = gobValue(n.GetPrepared())
		}
		out.Nodes = append(out.Nodes, tn)
	}
	for _, s := range p.GetShuffles() {
		out.Shuffles = append(out.Shuffles, task.Shuffle{ID: int(s.GetId()), Map: refFromProto(s.GetMap()), Reduce: refFromProto(s.GetReduce()),
			Maps: int(s.GetMaps()), Reducers: int(s.GetReducers())})
	}
	for _, f := range p.GetResultFuncs() {
		out.ResultFuncs = append(out.ResultFuncs, int(f))
	}
	out.ResultArgs, out.Fingerprint = p.GetResultArgs(), p.GetFingerprint()
	return out, nil
}

func idToProto(id task.ID) *rddpb.TaskID {
	return &rddpb.TaskID{Job: int64(id.Job), Stage: int64(id.Stage), StageAttempt: int64(id.StageAttempt),
		Shuffle: int64(id.Shuffle), Partition: int64(id.Partition), Attempt: int64(id.Attempt)}
}

func idFromProto(id *rddpb.TaskID) task.ID {
	return task.ID{Job: int(id.GetJob()), Stage: int(id.GetStage()), StageAttempt: int(id.GetStageAttempt()),
		Shuffle: int(id.GetShuffle()), Partition: int(id.GetPartition()), Attempt: int(id.GetAttempt())}
}

// resultToProto encodes an executor's result; a result task's Value is
// already its encoded records ([]byte).
func resultToProto(r task.Result) *rddpb.TaskResult {
	m := r.Metrics
	out := &rddpb.TaskResult{Id: idToProto(r.ID), Metrics: &rddpb.Metrics{DurationNs: int64(m.Duration),
		ShuffleBytesWritten: m.ShuffleBytesWritten, ShuffleRecords: m.ShuffleRecords, ShuffleBytesRead: m.ShuffleBytesRead,
		SpillBytes: m.SpillBytes, CacheHits: int64(m.CacheHits), CacheMisses: int64(m.CacheMisses),
		ShuffleLocalBlocks: m.ShuffleLocalBlocks, ShuffleHostLocalBlocks: m.ShuffleHostLocalBlocks, ShuffleRemoteBlocks: m.ShuffleRemoteBlocks, ShuffleFetchWaitNs: int64(m.ShuffleFetchWait)}}
	switch {
	case r.Err != nil && r.Fetch != nil:
		out.Kind, out.Error = rddpb.TaskResult_FETCH_FAILED, r.Err.Error()
		out.FetchShuffle = int64(r.Fetch.Shuffle)
		for _, m := range r.Fetch.Maps {
			out.FetchMaps = append(out.FetchMaps, int64(m))
		}
		return out
	case r.Err != nil:
		out.Kind, out.Error = rddpb.TaskResult_TASK_ERROR, r.Err.Error()
		var re *RebuildError
		var te *TaskError
		switch {
		case errors.As(r.Err, &re):
			out.Kind = rddpb.TaskResult_NOT_PORTABLE
			out.Rebuild = &rddpb.Rebuild{Func: re.Func, Stage: re.Stage, Datasets: re.Rebuilt, Invocation: re.Inv}
		case errors.As(r.Err, &te):
			out.Failure = &rddpb.TaskFailure{Job: int64(te.Job), Stage: int64(te.Stage), StageName: te.StageName,
				Partition: int64(te.Partition), Attempt: int64(te.Attempt), Stack: te.Stack, Error: fmt.Sprint(te.Err)}
			if te.Panic != nil {
				out.Failure.Panicked, out.Failure.Panic = true, fmt.Sprint(te.Panic)
			}
		}
		return out
	}
	for _, c := range r.Cached {
		out.Cached = append(out.Cached, &rddpb.CachedBlock{Node: int64(c.Node), Partition: int64(c.Part)})
	}
	switch v := r.Value.(type) {
	case []int64:
		out.BlockSizes = v
	case []byte:
		out.Value = v
	}
	for id, v := range r.Accums {
		b, err := gobEncode(v)
		if err != nil {
			out.Kind, out.Error = rddpb.TaskResult_TASK_ERROR, fmt.Sprintf("rdd: encoding accumulator %d's update: %v", id, err)
			out.Accumulators = nil
			return out
		}
		if out.Accumulators == nil {
			out.Accumulators = map[int64][]byte{}
		}
		out.Accumulators[id] = b
	}
	return out
}

// errRemote is wrapped by errors a remote executor reported.
var errRemote = errors.New("on the executor")

// taskErrorFromProto rebuilds an executor's TaskError: its panic value
// as text, its other error as text (the type does not cross).
func taskErrorFromProto(f *rddpb.TaskFailure) *TaskError {
	te := &TaskError{Job: int(f.GetJob()), Stage: int(f.GetStage()), StageName: f.GetStageName(),
		Partition: int(f.GetPartition()), Attempt: int(f.GetAttempt()), Stack: f.GetStack(), Err: errors.New(f.GetError())}
	if f.GetPanicked() {
		te.Panic, te.Err = f.GetPanic(), errPanic
	}
	return te
}

// resultFromProto decodes a result for the driver; Value stays encoded
// (sizes for a map task, records for a result task), accumulator updates
// stay gob (gobValue) for the session to decode by accumulator.
func resultFromProto(exec string, r *rddpb.TaskResult) task.Result {
	m := r.GetMetrics()
	out := task.Result{ID: idFromProto(r.GetId()), Executor: exec, Metrics: task.Metrics{
		Duration: time.Duration(m.GetDurationNs()), ShuffleBytesWritten: m.GetShuffleBytesWritten(),
		ShuffleRecords: m.GetShuffleRecords(), ShuffleBytesRead: m.GetShuffleBytesRead(), SpillBytes: m.GetSpillBytes(),
		CacheHits: int(m.GetCacheHits()), CacheMisses: int(m.GetCacheMisses()),
		ShuffleLocalBlocks: m.GetShuffleLocalBlocks(), ShuffleHostLocalBlocks: m.GetShuffleHostLocalBlocks(),
		ShuffleRemoteBlocks: m.GetShuffleRemoteBlocks(), ShuffleFetchWait: time.Duration(m.GetShuffleFetchWaitNs())}}
	switch r.GetKind() {
	case rddpb.TaskResult_FETCH_FAILED:
		out.Err = fmt.Errorf("%w %s: %s", errRemote, exec, r.GetError())
		out.Fetch = &task.FetchFailure{Shuffle: int(r.GetFetchShuffle())}
		for _, m := range r.GetFetchMaps() {
			out.Fetch.Maps = append(out.Fetch.Maps, int(m))
		}
		return out
	case rddpb.TaskResult_TASK_ERROR:
		out.Err = fmt.Errorf("%w %s: %s", errRemote, exec, r.GetError())
		if f := r.GetFailure(); f != nil {
			out.Err = fmt.Errorf("%w %s: %w", errRemote, exec, taskErrorFromProto(f))
		}
		return out
	case rddpb.TaskResult_NOT_PORTABLE:
		rb := r.GetRebuild()
		out.Err = &RebuildError{Func: rb.GetFunc(), Stage: rb.GetStage(), Executor: exec, Inv: rb.GetInvocation(), Rebuilt: rb.GetDatasets()}
		return out
	}
	for _, c := range r.GetCached() {
		out.Cached = append(out.Cached, task.CachedBlock{Node: int(c.GetNode()), Part: int(c.GetPartition())})
	}
	if out.ID.Shuffle >= 0 {
		out.Value = r.GetBlockSizes()
	} else {
		out.Value = r.GetValue()
	}
	for id, b := range r.GetAccumulators() {
		if out.Accums == nil {
			out.Accums = map[int64]any{}
		}
		out.Accums[id] = gobValue(b)
	}
	return out
}
