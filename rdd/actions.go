package rdd

import (
	"context"
	"errors"
	"iter"
	"slices"

	"github.com/mesoproject/meso/rdd/internal/task"
)

// ErrEmpty is returned by Reduce and First on an empty dataset.
var ErrEmpty = errors.New("rdd: empty dataset")

// runAll runs f on every partition of r and passes each partition's result,
// in partition order, to merge.
func runAll[T, R any](ctx context.Context, s *Session, r *RDD[T], f func(tc *TaskContext, p int) (R, error),
	merge func(p int, v R) error) error {
	return runAllKind(ctx, s, r, "", f, merge)
}

// runAllKind is runAll with what cluster executors return (see runJob).
func runAllKind[T, R any](ctx context.Context, s *Session, r *RDD[T], kind string, f func(tc *TaskContext, p int) (R, error),
	merge func(p int, v R) error) error {
	res, err := s.resolve(r.n)
	if err != nil {
		return err
	}
	return runPartsKind(ctx, s, r, allParts(res.parts), kind, f, merge)
}

// runParts runs f on some partitions; merge sees results in partition order.
func runParts[T, R any](ctx context.Context, s *Session, r *RDD[T], parts []int,
	f func(tc *TaskContext, p int) (R, error), merge func(p int, v R) error) error {
	return runPartsKind(ctx, s, r, parts, "", f, merge)
}

func runPartsKind[T, R any](ctx context.Context, s *Session, r *RDD[T], parts []int, kind string,
	f func(tc *TaskContext, p int) (R, error), merge func(p int, v R) error) error {
	results := map[int]R{}
	next := 0
	err := s.runJob(ctx, r.n, parts, kind, func(tc *TaskContext, p int) (any, error) { return f(tc, p) },
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
	err := runAll(ctx, s, r, func(tc *TaskContext, p int) ([]T, error) {
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
	err := runAllKind(ctx, s, r, task.ResultCount, func(tc *TaskContext, p int) (int64, error) {
		var c int64
		r.iterate(tc, p, func(T) bool { c++; return true })
		return c, nil
	}, func(_ int, c int64) error { total += c; return nil })
	return total, err
}

// Reduce merges all elements with an associative, commutative f.
func Reduce[T any](ctx context.Context, s *Session, r *RDD[T], f func(T, T) T) (T, error) {
	var acc Option[T]
	err := runAll(ctx, s, r, func(tc *TaskContext, p int) (Option[T], error) {
		var o Option[T]
		r.iterate(tc, p, func(v T) bool {
			if o.Valid {
				o.Value = f(o.Value, v)
			} else {
				o = Option[T]{v, true}
			}
			return true
		})
		return o, nil
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
// modify and return its first argument.
func Fold[T any](ctx context.Context, s *Session, r *RDD[T], zero T, f func(T, T) T) (T, error) {
	return Aggregate(ctx, s, r, zero, f, f)
}

// Aggregate folds each partition with seq from zero, then merges the
// partitions' results with comb from zero. Each partition and the final
// merge get their own deep copy of zero, so seq and comb may modify and
// return their first argument (as Spark allows).
func Aggregate[T, U any](ctx context.Context, s *Session, r *RDD[T], zero U, seq func(U, T) U, comb func(U, U) U) (U, error) {
	fresh := freshZero(zero)
	acc := fresh()
	err := runAll(ctx, s, r, func(tc *TaskContext, p int) (U, error) {
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
		err := runParts(ctx, s, r, parts, func(tc *TaskContext, p int) ([]T, error) {
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

// Foreach calls f on every element, in the tasks.
func Foreach[T any](ctx context.Context, s *Session, r *RDD[T], f func(T)) error {
	return ForeachPartition(ctx, s, r, func(_ *TaskContext, in iter.Seq[T]) error {
		for v := range in {
			f(v)
		}
		return nil
	})
}

// ForeachPartition calls f on every partition, in the tasks; an error fails
// the task (which is retried).
func ForeachPartition[T any](ctx context.Context, s *Session, r *RDD[T], f func(tc *TaskContext, in iter.Seq[T]) error) error {
	return runAll(ctx, s, r, func(tc *TaskContext, p int) (struct{}, error) {
		return struct{}{}, f(tc, r.seq(tc, p))
	}, func(int, struct{}) error { return nil })
}

// CountByKey counts the elements of each key.
func CountByKey[K comparable, V any](ctx context.Context, s *Session, r *RDD[Pair[K, V]]) (map[K]int64, error) {
	return countBy(ctx, s, r, func(p Pair[K, V]) K { return p.Key })
}

// CountByValue counts each distinct element.
func CountByValue[T comparable](ctx context.Context, s *Session, r *RDD[T]) (map[T]int64, error) {
	return countBy(ctx, s, r, func(v T) T { return v })
}

func countBy[T any, K comparable](ctx context.Context, s *Session, r *RDD[T], key func(T) K) (map[K]int64, error) {
	ones := Map(r, func(v T) Pair[K, int64] { return Pair[K, int64]{key(v), 1} })
	counts := ReduceByKey(ones, func(a, b int64) int64 { return a + b }, 0)
	out := map[K]int64{}
	err := runAll(ctx, s, counts, func(tc *TaskContext, p int) ([]Pair[K, int64], error) {
		var part []Pair[K, int64]
		counts.iterate(tc, p, func(v Pair[K, int64]) bool { part = append(part, v); return true })
		return part, nil
	}, func(_ int, part []Pair[K, int64]) error {
		for _, kv := range part {
			out[kv.Key] += kv.Value
		}
		return nil
	})
	return out, err
}

// TakeOrdered returns the n smallest elements by cmp, in order. Each task
// keeps only its n smallest.
func TakeOrdered[T any](ctx context.Context, s *Session, r *RDD[T], n int, cmp func(a, b T) int) ([]T, error) {
	if n <= 0 {
		return nil, nil
	}
	var all []T
	err := runAll(ctx, s, r, func(tc *TaskContext, p int) ([]T, error) {
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
		return best, nil
	}, func(_ int, best []T) error { all = append(all, best...); return nil })
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(all, cmp)
	return all[:min(n, len(all))], nil
}

// Top returns the n largest elements by cmp, largest first.
func Top[T any](ctx context.Context, s *Session, r *RDD[T], n int, cmp func(a, b T) int) ([]T, error) {
	return TakeOrdered(ctx, s, r, n, func(a, b T) int { return cmp(b, a) })
}
