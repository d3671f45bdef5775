package rdd

import (
	"bytes"
	"encoding/gob"
	"errors"
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
// A Func body may call other Funcs: their datasets become part of the outer
// invocation's lineage.
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
	if currentInvocation() != nil {
		// A Func called from inside another Func's body: its datasets belong
		// to the outer invocation, which rebuilds them by calling it again.
		return v.fn.Call(args)[0]
	}
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

// InvocationSpec is the portable form of a Func call: what a cluster
// executor needs to rebuild a job's lineage (the same binary registers the
// same Funcs in the same order).
type InvocationSpec struct {
	Func int      // index in the registry
	Args [][]byte // each argument, gob-encoded as its parameter type
}

// ErrNotPortable is wrapped by errors about datasets or arguments that a
// remote executor could not rebuild.
var ErrNotPortable = errors.New("rdd: not portable")

// spec encodes the invocation that built n.
func spec(n *node) (InvocationSpec, error) {
	inv := n.inv
	if inv == nil {
		return InvocationSpec{}, fmt.Errorf("%w: %s was not built inside an rdd.Func", ErrNotPortable, n)
	}
	out := InvocationSpec{Func: inv.fn.index}
	for i, a := range inv.args {
		var buf bytes.Buffer
		v := reflect.New(inv.fn.fn.Type().In(i))
		v.Elem().Set(reflect.ValueOf(a))
		if err := gob.NewEncoder(&buf).EncodeValue(v); err != nil {
			return InvocationSpec{}, fmt.Errorf("%w: argument %d of the Func at %s: %v", ErrNotPortable, i, inv.fn.site, err)
		}
		out.Args = append(out.Args, buf.Bytes())
	}
	return out, nil
}

// rebuild calls the Func of spec with its decoded arguments and returns the
// dataset it builds, as a remote executor would. Map tasks of any shuffle in
// its lineage can then run from the shuffle dependency alone; result tasks
// need the typed dataset, which the caller recovers by type assertion.
func rebuild(sp InvocationSpec) (Dataset, error) {
	funcsMu.Lock()
	if sp.Func < 0 || sp.Func >= len(funcs) {
		funcsMu.Unlock()
		return nil, fmt.Errorf("%w: no Func %d in this binary", ErrNotPortable, sp.Func)
	}
	fv := funcs[sp.Func]
	funcsMu.Unlock()
	ft := fv.fn.Type()
	if len(sp.Args) != ft.NumIn() {
		return nil, fmt.Errorf("%w: Func %d takes %d arguments, got %d", ErrNotPortable, sp.Func, ft.NumIn(), len(sp.Args))
	}
	args := make([]reflect.Value, len(sp.Args))
	for i, b := range sp.Args {
		v := reflect.New(ft.In(i))
		if err := gob.NewDecoder(bytes.NewReader(b)).DecodeValue(v); err != nil {
			return nil, fmt.Errorf("%w: argument %d: %v", ErrNotPortable, i, err)
		}
		args[i] = v.Elem()
	}
	return fv.invoke(args).Interface().(Dataset), nil
}

// byLocal finds the node with local index local in the lineage of root
// (built by one invocation).
func byLocal(root *node, local int) *node {
	seen := map[*node]bool{}
	var walk func(n *node) *node
	walk = func(n *node) *node {
		if seen[n] {
			return nil
		}
		seen[n] = true
		if n.inv == root.inv && n.local == local {
			return n
		}
		for _, d := range n.deps {
			if f := walk(d.parent); f != nil {
				return f
			}
		}
		return nil
	}
	return walk(root)
}
