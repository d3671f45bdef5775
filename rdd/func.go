package rdd

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// funcs is the registry of Funcs, in registration order. Go initialises
// package-level variables in a deterministic order, so the same binary has
// the same registry in every process: an index names a Func across
// processes.
var (
	funcsMu sync.Mutex
	funcs   []*funcValue // guarded by funcsMu
)

type funcValue struct {
	index int
	fn    reflect.Value
	site  string
}

// invocation records one call of a Func: enough to rebuild the identical
// lineage in another process running the same binary.
type invocation struct {
	fn    *funcValue
	args  []any
	owner uint64 // goroutine running the Func body
	nodes atomic.Int32
}

func (inv *invocation) addNode() int { return int(inv.nodes.Add(1)) - 1 }

var (
	invokeMu sync.Mutex   // one Func body runs at a time
	current  atomic.Value // *invocation of the running Func body, or (*invocation)(nil)
)

var datasetType = reflect.TypeFor[Dataset]()

// Func registers fn, a function that builds and returns a dataset, and
// returns a function of the same type that calls it. Jobs are built inside
// Funcs because Go cannot send closures to another process: a cluster
// executor (same binary) rebuilds the identical lineage by calling the same
// Func with the same arguments, then runs the task it is given. Closures
// inside the body are therefore fine.
//
// Call Func only to initialise package-level variables, so that every
// process registers the same Funcs in the same order. fn must return exactly
// one *RDD[T]; its arguments should be encodable with encoding/gob. Func
// panics when fn is not such a function: that is a programming error found at
// start-up.
//
// A Func body must not call another Func's wrapper.
func Func[F any](fn F) F {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	if ft.Kind() != reflect.Func || ft.NumOut() != 1 || !ft.Out(0).Implements(datasetType) || ft.IsVariadic() {
		panic(fmt.Sprintf("rdd.Func: want a non-variadic func returning one *rdd.RDD[T], got %s", ft))
	}
	v := &funcValue{fn: fv, site: callSite()}
	funcsMu.Lock()
	v.index = len(funcs)
	funcs = append(funcs, v)
	funcsMu.Unlock()
	wrapper := reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		return []reflect.Value{v.invoke(args)}
	})
	return wrapper.Interface().(F)
}

func (v *funcValue) invoke(args []reflect.Value) reflect.Value {
	inv := &invocation{fn: v, owner: goroutineID()}
	for _, a := range args {
		inv.args = append(inv.args, a.Interface())
	}
	invokeMu.Lock()
	defer invokeMu.Unlock()
	current.Store(inv)
	defer current.Store((*invocation)(nil))
	return v.fn.Call(args)[0]
}

// currentInvocation returns the invocation whose body is running on this
// goroutine, if any. Datasets built elsewhere belong to no invocation: they
// run in local mode but cannot be rebuilt by a remote executor.
func currentInvocation() *invocation {
	inv, _ := current.Load().(*invocation)
	if inv == nil || inv.owner != goroutineID() {
		return nil
	}
	return inv
}

// goroutineID parses the current goroutine's id from its stack header. It is
// used only when a source dataset is built, never per record.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		id, _ := strconv.ParseUint(string(b[:i]), 10, 64)
		return id
	}
	return 0
}
