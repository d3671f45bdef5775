package rdd

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/mesoproject/meso/rdd/internal/blocks"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// Driver dataset handles: a Func may take datasets built outside it (in
// main, or by an earlier Func call) as arguments, like bigslice's *Result.
// Such an argument crosses to an executor as a handle, not as data:
//
//   - the result of another Func call travels as that call's portable
//     form (its own Func, arguments and fingerprint): the executor rebuilds
//     it once, so the dataset has the same lineage, the same driver ids
//     and the same storage level there. A persisted handle's partitions
//     are read from the cache of the executor that holds them (the driver
//     keeps where each is), and recomputed from the lineage when lost;
//   - a Parallelize built on the driver travels as its dataset id: the
//     executor fetches each partition it needs from the driver
//     (GET /data/{id}/{part}, the application's token) and keeps it in
//     its cache, so the data is never in a task's descriptor.
//
// Any other dataset (derived from a Func's result in main) cannot be
// passed: the call is not portable.

// handleArg is the portable form of a dataset argument (gob).
type handleArg struct {
	Inv         task.Invocation // the call that built the dataset; zero for driver data
	Fingerprint string          // of that call's lineage
	Site        string          // that Func's call site, for errors
	Node        int             // driver data: the dataset's id on the driver
}

// handleNode returns the dataset an argument value is, or nil.
func handleNode(v reflect.Value) *node {
	if !v.IsValid() || !v.Type().Implements(datasetType) {
		return nil
	}
	if v.Kind() == reflect.Pointer && v.IsNil() || v.Kind() == reflect.Interface && v.IsNil() {
		return nil
	}
	return v.Interface().(Dataset).lineage()
}

// encodeHandle gives dataset argument n its portable form.
func encodeHandle(n *node) ([]byte, error) {
	claimMu.Lock()
	inv := n.inv
	claimMu.Unlock()
	switch {
	case inv != nil && inv.root == n:
		sp, err := spec(n)
		if err != nil {
			return nil, err
		}
		return gobEncode(handleArg{Inv: sp, Fingerprint: fingerprintOf(n), Site: inv.fn.site})
	case inv == nil && n.driverPart != nil:
		return gobEncode(handleArg{Node: n.id})
	}
	return nil, fmt.Errorf("%s is neither the result of an rdd.Func call nor a Parallelize: only those can be passed to a Func", n)
}

// stageScope is what a stage whose datasets its invocation holder built
// may also read on an executor: the invocations of its dataset arguments
// (transitively) and the driver data among them.
type stageScope struct {
	invs map[*invocation]bool
	data map[*node]bool
}

func scopeOf(holder *node) stageScope {
	sc := stageScope{invs: map[*invocation]bool{}, data: map[*node]bool{}}
	claimMu.Lock()
	defer claimMu.Unlock()
	var add func(inv *invocation)
	add = func(inv *invocation) {
		if inv == nil || sc.invs[inv] {
			return
		}
		sc.invs[inv] = true
		for h := range inv.handles {
			if h.inv == nil {
				sc.data[h] = true
			}
			add(h.inv)
		}
	}
	add(holder.inv)
	return sc
}

// has reports whether n is in the scope.
func (sc stageScope) has(n *node) bool {
	claimMu.Lock()
	defer claimMu.Unlock()
	return n.inv != nil && sc.invs[n.inv] || sc.data[n]
}

// dataSource makes, on an executor, the stand-in of a driver dataset of
// records T: its partitions are fetched from the driver.
type dataSource interface {
	driverData(id int, fetch func(id, p int) ([]byte, error)) Dataset
}

func (*RDD[T]) driverData(id int, fetch func(id, p int) ([]byte, error)) Dataset {
	var r *RDD[T]
	n := newNode("parallelize")
	n.site = fmt.Sprintf("the driver's dataset %d", id)
	r = newRDD(n, func(tc *TaskContext, p int, yield func(T) bool) {
		k := blocks.Key{Node: id, Part: p}
		vals, ok := readCached(tc, r, k)
		if !ok {
			b, err := fetch(id, p)
			if err == nil {
				vals, err = r.decodeRecords(b)
			}
			if err != nil {
				tc.fail(fmt.Errorf("rdd: partition %d of the driver's dataset %d: %w", p, id, err))
				return
			}
			c := r.codec
			encode := func(d any) []byte {
				var buf []byte
				for _, v := range d.([]T) {
					buf = c.Append(buf, v)
				}
				return buf
			}
			if err := tc.sess.cache.Put(k, blocks.MemoryAndDisk, vals, estimateSize(r, vals), encode); err != nil {
				tc.fail(err)
				return
			}
		}
		for _, v := range vals {
			if !tc.alive() || !yield(v) {
				return
			}
		}
	})
	return r
}

// handle turns a dataset argument's handle into the dataset on this
// executor (e.mu is held): the handle's invocation rebuilt once, or the
// stand-in of driver data.
func (e *executor) handle(h handleArg, t reflect.Type) (reflect.Value, error) {
	var ds Dataset
	if h.Inv.ID == 0 {
		ds = e.proxies[h.Node]
		if ds == nil {
			src, ok := reflect.Zero(t).Interface().(dataSource)
			if !ok {
				return reflect.Value{}, fmt.Errorf("%s is not a dataset type", t)
			}
			ds = src.driverData(h.Node, e.fetchData)
			e.proxies[h.Node] = ds
		}
	} else {
		ds = e.rebuilt[h.Inv.ID]
		if ds == nil {
			var err error
			if ds, err = rebuild(h.Inv, e.broadcast, e.handle, nil); err != nil {
				return reflect.Value{}, err
			}
			entries := fingerprintEntries(ds.lineage())
			if h.Fingerprint != "" && digestEntries(entries) != h.Fingerprint {
				return reflect.Value{}, &RebuildError{Func: h.Site, Inv: h.Inv.ID, Rebuilt: entries}
			}
			e.rebuilt[h.Inv.ID] = ds
		}
	}
	v := reflect.ValueOf(ds)
	if !v.Type().AssignableTo(t) {
		return reflect.Value{}, errors.New("the dataset argument's type differs from the Func's parameter")
	}
	return v, nil
}
