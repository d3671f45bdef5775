package rdd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/mesoproject/meso/rdd/internal/task"
)

// ErrEmpty is returned by Reduce and First on an empty dataset.
var ErrEmpty = errors.New("rdd: empty dataset")

// collecting is the action of jobs whose result tasks return their
// partition's records (Collect, Take): engine functions, portable as they
// are.
var collecting = action{kind: resultRecords}

// runAll runs f on every partition of r and passes each partition's result,
// in partition order, to merge. act says how a cluster executor runs f.
func runAll[T, R any](ctx context.Context, s *Session, r *RDD[T], act action, f func(tc *TaskContext, p int) (R, error),
	merge func(p int, v R) error) error {
	res, err := s.resolve(r.n)
	if err != nil {
		return err
	}
	return runParts(ctx, s, r, allParts(res.parts), act, f, merge)
}

// runParts runs f on some partitions; merge sees results in partition order.
func runParts[T, R any](ctx context.Context, s *Session, r *RDD[T], parts []int, act action,
	f func(tc *TaskContext, p int) (R, error), merge func(p int, v R) error) error {
	results := map[int]R{}
	next := 0
	err := s.runJob(ctx, r.n, parts, act, func(tc *TaskContext, p int) (any, error) { return f(tc, p) },
		func(p int, v any) error {
			results[p] = v.(R)
			// Hand results over in partition order, as soon as possible.
			for next < len(parts) {
				rv, ok := results[parts[next]]
				if !ok {
					break
				}
				delete(results, parts[next])
				if err := merge(parts[next], rv); err != nil {
					return err
				}
				next++
			}
			return nil
		})
	return err
}

// Collect returns all elements, partition by partition.
func Collect[T any](ctx context.Context, s *Session, r *RDD[T]) ([]T, error) {
	var parts [][]T
	total := 0
	err := runAll(ctx, s, r, collecting, func(tc *TaskContext, p int) ([]T, error) {
		var part []T
		r.iterate(tc, p, func(v T) bool { part = append(part, v); return true })
		return part, nil
	}, func(_ int, part []T) error {
		parts = append(parts, part)
		total += len(part)
		return nil
	})
	if err != nil || total == 0 {
		return nil, err
	}
	out := make([]T, 0, total) // one allocation of the exact size
	for i, part := range parts {
		out = append(out, part...)
		parts[i] = nil
	}
	return out, nil
}

// Count returns the number of elements.
func Count[T any](ctx context.Context, s *Session, r *RDD[T]) (int64, error) {
	var total int64
	err := runAll(ctx, s, r, action{kind: task.ResultCount}, func(tc *TaskContext, p int) (int64, error) {
		var c int64
		r.iterate(tc, p, func(T) bool { c++; return true })
		return c, nil
	}, func(_ int, c int64) error { total += c; return nil })
	return total, err
}

// Reduce merges all elements with an associative, commutative f. In cluster
// mode f must be registered (Register): executors reduce each partition
// and send back only its result.
func Reduce[T any](ctx context.Context, s *Session, r *RDD[T], f func(T, T) T) (T, error) {
	act := newAction(resultReduce, callSite(), []fnArg{{"given to Reduce", f}}, nil, func(b []byte) (any, error) {
		if len(b) == 0 || b[0] == 0 {
			return Option[T]{}, nil
		}
		v, _, err := r.codec.Decode(b[1:])
		return Option[T]{v, true}, err
	})
	var acc Option[T]
	err := runAll(ctx, s, r, act, func(tc *TaskContext, p int) (Option[T], error) {
		return reducePart(tc, r, p, f), nil
	}, func(_ int, o Option[T]) error {
		switch {
		case !o.Valid:
		case acc.Valid:
			acc.Value = f(acc.Value, o.Value)
		default:
			acc = o
		}
		return nil
	})
	if err == nil && !acc.Valid {
		err = ErrEmpty
	}
	return acc.Value, err
}

// Fold merges all elements with f, starting from zero in every partition and
// in the final merge. Each use gets its own deep copy of zero, so f may
// modify and return its first argument. In cluster mode f must be
// registered and zero gob-encodable.
func Fold[T any](ctx context.Context, s *Session, r *RDD[T], zero T, f func(T, T) T) (T, error) {
	return aggregate(ctx, s, r, zero, f, f, callSite())
}

// Aggregate folds each partition with seq from zero, then merges the
// partitions' results with comb from zero. Each partition and the final
// merge get their own deep copy of zero, so seq and comb may modify and
// return their first argument (as Spark allows). In cluster mode seq must
// be registered and zero gob-encodable (comb runs on the driver).
func Aggregate[T, U any](ctx context.Context, s *Session, r *RDD[T], zero U, seq func(U, T) U, comb func(U, U) U) (U, error) {
	return aggregate(ctx, s, r, zero, seq, comb, callSite())
}

func aggregate[T, U any](ctx context.Context, s *Session, r *RDD[T], zero U, seq func(U, T) U, comb func(U, U) U, site string) (U, error) {
	act := newAction(resultAggregate, site, []fnArg{{"given to Aggregate or Fold", seq}}, []any{zero},
		func(b []byte) (any, error) { return gobDecode[U](b) })
	fresh := freshZero(zero)
	acc := fresh()
	err := runAll(ctx, s, r, act, func(tc *TaskContext, p int) (U, error) {
		u := fresh()
		r.iterate(tc, p, func(v T) bool { u = seq(u, v); return true })
		return u, nil
	}, func(_ int, u U) error { acc = comb(acc, u); return nil })
	return acc, err
}

// Take returns the first n elements. Like Spark, it first runs a job on one
// partition and widens the scan until it has n elements.
func Take[T any](ctx context.Context, s *Session, r *RDD[T], n int) ([]T, error) {
	res, err := s.resolve(r.n)
	if err != nil {
		return nil, err
	}
	var out []T
	scanned, batch := 0, 1
	for len(out) < n && scanned < res.parts {
		parts := allParts(min(scanned+batch, res.parts))[scanned:]
		want := n - len(out)
		err := runParts(ctx, s, r, parts, collecting, func(tc *TaskContext, p int) ([]T, error) {
			var part []T
			r.iterate(tc, p, func(v T) bool { part = append(part, v); return len(part) < want })
			return part, nil
		}, func(_ int, part []T) error {
			out = append(out, part[:min(len(part), n-len(out))]...)
			return nil
		})
		if err != nil {
			return nil, err
		}
		scanned += len(parts)
		batch *= 4
	}
	return out, nil
}

// First returns the first element.
func First[T any](ctx context.Context, s *Session, r *RDD[T]) (T, error) {
	v, err := Take(ctx, s, r, 1)
	if err != nil || len(v) == 0 {
		var zero T
		if err == nil {
			err = ErrEmpty
		}
		return zero, err
	}
	return v[0], nil
}

// Foreach calls f on every element, in the tasks. In cluster mode f must be
// registered.
func Foreach[T any](ctx context.Context, s *Session, r *RDD[T], f func(T)) error {
	act := newAction(resultForeach, callSite(), []fnArg{{"given to Foreach", f}}, nil, decodeNothing)
	return runAll(ctx, s, r, act, func(tc *TaskContext, p int) (struct{}, error) {
		r.iterate(tc, p, func(v T) bool { f(v); return true })
		return struct{}{}, nil
	}, func(int, struct{}) error { return nil })
}

func decodeNothing([]byte) (any, error) { return struct{}{}, nil }

// ForeachPartition calls f on every partition, in the tasks; an error fails
// the task (which is retried). In cluster mode f must be registered.
func ForeachPartition[T any](ctx context.Context, s *Session, r *RDD[T], f func(tc *TaskContext, in iter.Seq[T]) error) error {
	act := newAction(resultForeachPartition, callSite(), []fnArg{{"given to ForeachPartition", f}}, nil, decodeNothing)
	return foreachPartition(ctx, s, r, act, f)
}

func foreachPartition[T any](ctx context.Context, s *Session, r *RDD[T], act action, f func(tc *TaskContext, in iter.Seq[T]) error) error {
	return runAll(ctx, s, r, act, func(tc *TaskContext, p int) (struct{}, error) {
		return struct{}{}, f(tc, r.seq(tc, p))
	}, func(int, struct{}) error { return nil })
}

// CountByKey counts the elements of each key. Each task counts its
// partition's keys; the driver adds the counts up.
func CountByKey[K comparable, V any](ctx context.Context, s *Session, r *RDD[Pair[K, V]]) (map[K]int64, error) {
	return countBy(ctx, s, r, true, func(p Pair[K, V]) K { return p.Key })
}

// CountByValue counts each distinct element.
func CountByValue[T comparable](ctx context.Context, s *Session, r *RDD[T]) (map[T]int64, error) {
	return countBy(ctx, s, r, false, func(v T) T { return v })
}

func countBy[T any, K comparable](ctx context.Context, s *Session, r *RDD[T], byKey bool, key func(T) K) (map[K]int64, error) {
	act := newAction(resultCountBy, callSite(), nil, []any{byKey}, func(b []byte) (any, error) {
		part := map[K]int64{}
		for len(b) > 0 {
			v, n, err := r.codec.Decode(b)
			if err != nil {
				return nil, fmt.Errorf("rdd: decoding counts of %s from the executor: %w", r.n, err)
			}
			c, m := binary.Uvarint(b[n:])
			if m <= 0 {
				return nil, fmt.Errorf("rdd: decoding counts of %s from the executor: bad count", r.n)
			}
			part[key(v)] += int64(c)
			b = b[n+m:]
		}
		return part, nil
	})
	out := map[K]int64{}
	err := runAll(ctx, s, r, act, func(tc *TaskContext, p int) (map[K]int64, error) {
		part := map[K]int64{}
		r.iterate(tc, p, func(v T) bool { part[key(v)]++; return true })
		return part, nil
	}, func(_ int, part map[K]int64) error {
		for k, n := range part {
			out[k] += n
		}
		return nil
	})
	return out, err
}

// TakeOrdered returns the n smallest elements by cmp, in order. Each task
// keeps only its n smallest. In cluster mode cmp must be registered.
func TakeOrdered[T any](ctx context.Context, s *Session, r *RDD[T], n int, cmp func(a, b T) int) ([]T, error) {
	return takeOrdered(ctx, s, r, n, cmp, false, callSite())
}

// Top returns the n largest elements by cmp, largest first. In cluster mode
// cmp must be registered.
func Top[T any](ctx context.Context, s *Session, r *RDD[T], n int, cmp func(a, b T) int) ([]T, error) {
	return takeOrdered(ctx, s, r, n, cmp, true, callSite())
}

func takeOrdered[T any](ctx context.Context, s *Session, r *RDD[T], n int, cmp func(a, b T) int, reverse bool, site string) ([]T, error) {
	if n <= 0 {
		return nil, nil
	}
	act := newAction(resultTakeOrdered, site, []fnArg{{"given to TakeOrdered or Top", cmp}}, []any{n, reverse},
		func(b []byte) (any, error) { return r.decodeRecords(b) })
	order := cmp
	if reverse {
		order = func(a, b T) int { return cmp(b, a) }
	}
	var all []T
	err := runAll(ctx, s, r, act, func(tc *TaskContext, p int) ([]T, error) {
		return takeOrderedPart(tc, r, p, n, order), nil
	}, func(_ int, best []T) error { all = append(all, best...); return nil })
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(all, order)
	return all[:min(n, len(all))], nil
}
