package rdd

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"iter"
	"reflect"
	"slices"

	"github.com/mesoproject/meso/rdd/codec"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// What a result task returns (task.Pipeline.Result) for the actions whose
// function runs on the executors: each partition's partial result, never
// its records (see action).
const (
	resultRecords          = ""       // the partition's records (Collect, Take, a sort's sample)
	resultReduce           = "reduce" // Option[T] of the partition
	resultAggregate        = "aggregate"
	resultForeach          = "foreach"
	resultForeachPartition = "foreachPartition"
	resultTakeOrdered      = "takeOrdered" // the partition's n smallest records
	resultCountBy          = "countBy"     // one record per key with its count
	resultSave             = "saveAsTextFile"
	resultSample           = "sample" // a sort's key sample: the record count (uvarint) and the sampled keys
)

// action says how a job's result tasks run on a cluster executor: which
// result kind, which registered functions (by registry index) and which
// other arguments (gob), and how the driver decodes an executor's value
// into the partition result the action's merge takes. err is set when the
// action cannot run on executors (a function that is not registered, an
// argument gob cannot encode): cluster mode, and local mode with
// CheckPortable, fail the job with it.
type action struct {
	kind   string
	funcs  []int
	args   [][]byte
	err    error
	decode func(b []byte) (any, error)
}

// fnArg is one function an action takes, and what to call it in errors.
type fnArg struct {
	what string
	fn   any
}

// newAction builds the portable form of an action called at site.
func newAction(kind, site string, fns []fnArg, args []any, decode func([]byte) (any, error)) action {
	a := action{kind: kind, decode: decode}
	for _, f := range fns {
		v, err := registered(f.fn, f.what, site)
		if err != nil {
			a.err = err
			return a
		}
		a.funcs = append(a.funcs, v.index)
	}
	for i, x := range args {
		b, err := gobEncode(x)
		if err != nil {
			a.err = fmt.Errorf("%w: argument %d of the action at %s: %v", ErrNotPortable, i, site, err)
			return a
		}
		a.args = append(a.args, b)
	}
	return a
}

// checkPortable returns why a job with these pipelines and this action
// could not run on cluster executors, or nil.
func checkPortable(pipelines map[int]*task.Pipeline, a action) error {
	if a.err != nil {
		return a.err
	}
	for _, sh := range slices.Sorted(mapKeys(pipelines)) {
		if p := pipelines[sh]; p.Invocation == nil {
			return fmt.Errorf("%w: stage %s: %s", errNoInvocation, p.Name, p.NotPortable)
		}
	}
	return nil
}

func mapKeys[K comparable, V any](m map[K]V) iter.Seq[K] {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// reducePart folds partition p with f.
func reducePart[T any](tc *TaskContext, r *RDD[T], p int, f func(T, T) T) Option[T] {
	var o Option[T]
	r.iterate(tc, p, func(v T) bool {
		if o.Valid {
			o.Value = f(o.Value, v)
		} else {
			o = Option[T]{v, true}
		}
		return true
	})
	return o
}

// takeOrderedPart keeps the n smallest records of partition p by cmp, in
// order.
func takeOrderedPart[T any](tc *TaskContext, r *RDD[T], p, n int, cmp func(a, b T) int) []T {
	var best []T // sorted, at most n
	r.iterate(tc, p, func(v T) bool {
		if len(best) == n && cmp(v, best[n-1]) >= 0 {
			return true
		}
		i, _ := slices.BinarySearchFunc(best, v, cmp)
		best = slices.Insert(best, i, v)
		if len(best) > n {
			best = best[:n]
		}
		return true
	})
	return best
}

// keyed is implemented by Pair: CountByKey's executors count by the key.
type keyed interface{ pairKey() any }

func (p Pair[K, V]) pairKey() any { return p.Key }

// keyAppender is implemented by Pair: a sort's sample sends only keys.
type keyAppender interface{ appendKey(b []byte) []byte }

func (p Pair[K, V]) appendKey(b []byte) []byte { return codec.For[K]().Append(b, p.Key) }

// countedRecord is one key of a partition's counts as an executor sends it:
// a record with that key (the dataset's codec carries the key) and the
// count.
type countedRecord[T any] struct {
	rec T
	n   int64
}

// countPart counts partition p's records by key (byKey: Pair's key, else
// the record), keeping one record per key.
func countPart[T any](tc *TaskContext, r *RDD[T], p int, byKey bool) map[any]*countedRecord[T] {
	out := map[any]*countedRecord[T]{}
	r.iterate(tc, p, func(v T) bool {
		var k any = v
		if byKey {
			k = any(v).(keyed).pairKey()
		}
		if c := out[k]; c != nil {
			c.n++
		} else {
			out[k] = &countedRecord[T]{v, 1}
		}
		return true
	})
	return out
}

// appendRecords encodes records in the dataset's codec.
func (r *RDD[T]) appendRecords(b []byte, recs []T) []byte {
	for _, v := range recs {
		b = r.codec.Append(b, v)
	}
	return b
}

// decodeRecords decodes what appendRecords encoded.
func (r *RDD[T]) decodeRecords(b []byte) ([]T, error) {
	var out []T
	var a codec.Arena
	for len(b) > 0 {
		v, n, err := codec.DecodeIn(r.codec, b, &a)
		if err != nil {
			return nil, fmt.Errorf("rdd: decoding a partial result of %s from the executor: %w", r.n, err)
		}
		out, b = append(out, v), b[n:]
	}
	return out, nil
}

// runResult is a cluster executor's result task on partition p: the
// action's partition function (pl.Result), with its registered functions
// and arguments, returning the partial result encoded.
func (r *RDD[T]) runResult(tc *TaskContext, p int, pl *task.Pipeline) ([]byte, error) {
	fn := func(i int) int {
		if i < len(pl.ResultFuncs) {
			return pl.ResultFuncs[i]
		}
		return -1
	}
	arg := func(i int) []byte {
		if i < len(pl.ResultArgs) {
			return pl.ResultArgs[i]
		}
		return nil
	}
	switch pl.Result {
	case resultRecords:
		b := tc.resultBuf[:0]
		r.iterate(tc, p, func(v T) bool { b = r.codec.Append(b, v); return true })
		return b, nil
	case task.ResultCount:
		var c uint64
		r.iterate(tc, p, func(T) bool { c++; return true })
		return binary.AppendUvarint(nil, c), nil
	case resultReduce:
		f, err := registeredAs[func(T, T) T](fn(0))
		if err != nil {
			return nil, err
		}
		if o := reducePart(tc, r, p, f); o.Valid {
			return r.codec.Append([]byte{1}, o.Value), nil
		}
		return []byte{0}, nil
	case resultAggregate:
		return r.aggregatePart(tc, p, fn(0), arg(0))
	case resultForeach:
		f, err := registeredAs[func(T)](fn(0))
		if err != nil {
			return nil, err
		}
		r.iterate(tc, p, func(v T) bool { f(v); return true })
		return nil, nil
	case resultForeachPartition:
		f, err := registeredAs[func(*TaskContext, iter.Seq[T]) error](fn(0))
		if err != nil {
			return nil, err
		}
		return nil, f(tc, r.seq(tc, p))
	case resultTakeOrdered:
		cmp, err := registeredAs[func(a, b T) int](fn(0))
		if err != nil {
			return nil, err
		}
		n, err1 := gobDecode[int](arg(0))
		reverse, err2 := gobDecode[bool](arg(1))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("rdd: internal error: bad takeOrdered arguments")
		}
		order := cmp
		if reverse {
			order = func(a, b T) int { return cmp(b, a) }
		}
		return r.appendRecords(nil, takeOrderedPart(tc, r, p, n, order)), nil
	case resultCountBy:
		byKey, err := gobDecode[bool](arg(0))
		if err != nil {
			return nil, fmt.Errorf("rdd: internal error: bad countBy argument")
		}
		var b []byte
		for _, c := range countPart(tc, r, p, byKey) {
			b = binary.AppendUvarint(r.codec.Append(b, c.rec), uint64(c.n))
		}
		return b, nil
	case resultSample:
		n, err := gobDecode[int](arg(0))
		if err != nil {
			return nil, fmt.Errorf("rdd: internal error: bad sample argument")
		}
		recs, count := reservoir(tc, r, p, n)
		b := binary.AppendUvarint(nil, uint64(count))
		for _, v := range recs {
			k, ok := any(v).(keyAppender)
			if !ok {
				return nil, fmt.Errorf("rdd: internal error: sampling the keys of %s, not a pair dataset", r.n)
			}
			b = k.appendKey(b)
		}
		return b, nil
	case resultSave:
		dir, err := gobDecode[string](arg(0))
		if err != nil {
			return nil, fmt.Errorf("rdd: internal error: bad save argument")
		}
		return nil, writePart(tc, dir, r.seq(tc, p))
	}
	return nil, fmt.Errorf("rdd: internal error: unknown result kind %q", pl.Result)
}

// aggregatePart folds partition p with Aggregate's registered seq (its
// accumulator type is the action's, unknown here: called by reflection)
// from a fresh copy of the zero value, and returns the result gob-encoded.
func (r *RDD[T]) aggregatePart(tc *TaskContext, p, seqIndex int, zero []byte) ([]byte, error) {
	funcsMu.Lock()
	var seq reflect.Value
	if seqIndex >= 0 && seqIndex < len(funcs) && funcs[seqIndex].action {
		seq = funcs[seqIndex].fn
	}
	funcsMu.Unlock()
	tt := reflect.TypeFor[T]()
	if !seq.IsValid() || seq.Type().NumIn() != 2 || seq.Type().NumOut() != 1 || seq.Type().In(1) != tt ||
		seq.Type().Out(0) != seq.Type().In(0) {
		return nil, fmt.Errorf("%w: registered function %d is not an Aggregate seq over %s in this binary", ErrNotPortable, seqIndex, tt)
	}
	u := reflect.New(seq.Type().In(0))
	if err := gob.NewDecoder(bytes.NewReader(zero)).DecodeValue(u); err != nil {
		return nil, fmt.Errorf("rdd: decoding Aggregate's zero value: %w", err)
	}
	acc := u.Elem()
	in := make([]reflect.Value, 2)
	r.iterate(tc, p, func(v T) bool {
		in[0], in[1] = acc, reflect.ValueOf(&v).Elem()
		acc = seq.Call(in)[0]
		return true
	})
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).EncodeValue(acc); err != nil {
		return nil, fmt.Errorf("rdd: encoding Aggregate's partial result: %w", err)
	}
	return buf.Bytes(), nil
}
