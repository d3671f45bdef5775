package rdd

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mesoproject/meso/rdd/internal/task"
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
	index  int
	fn     reflect.Value
	site   string
	action bool // registered with Register: a function actions take, not a dataset builder
}

// funcPtrs finds a Register'ed function by its code pointer.
var funcPtrs = map[uintptr]*funcValue{} // guarded by funcsMu

// duringInit reports whether the caller runs while packages are being
// initialised (before main starts): the only time the registry may grow,
// so that every process of a binary registers the same functions in the
// same order.
func duringInit() bool {
	pcs := make([]uintptr, 256)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "runtime.doInit") {
			return true
		}
		if !more {
			return false
		}
	}
}

func register(fv reflect.Value, site string, action bool) *funcValue {
	v := &funcValue{fn: fv, site: site, action: action}
	funcsMu.Lock()
	defer funcsMu.Unlock()
	v.index = len(funcs)
	funcs = append(funcs, v)
	if action {
		if old := funcPtrs[fv.Pointer()]; old != nil {
			panic(fmt.Sprintf("rdd.Register at %s: the function registered at %s again (closures of one function literal cannot be told apart)", site, old.site))
		}
		funcPtrs[fv.Pointer()] = v
	}
	return v
}

// Register registers fn, a function an action takes (Reduce's f, Fold's
// and Aggregate's functions, Foreach's f, ForeachPartition's f,
// TakeOrdered's and Top's cmp, NewAccumulator's merge), and returns it
// unchanged. Cluster executors run a registered function over each
// partition and send back only the partial result; an action given a
// function that is not registered fails in cluster mode (and in local mode
// with CheckPortable) with an error naming its call site.
//
// Like Func, call Register only to initialise package-level variables: it
// panics after main has started. fn must not depend on state set after
// initialisation (flags, variables main assigns): an executor sees its own
// process's values.
func Register[F any](fn F) F {
	fv := reflect.ValueOf(fn)
	if fv.Kind() != reflect.Func || fv.IsNil() {
		panic(fmt.Sprintf("rdd.Register: want a function, got %T", fn))
	}
	site := callSite()
	if !duringInit() {
		panic(fmt.Sprintf("rdd.Register at %s: called after main started; register functions only in package-level variable initialisers", site))
	}
	register(fv, site, true)
	return fn
}

// registered returns the registry entry of an action's function, or an
// error wrapping ErrNotPortable naming the action's call site.
func registered(fn any, what, site string) (*funcValue, error) {
	fv := reflect.ValueOf(fn)
	if fv.Kind() == reflect.Func && !fv.IsNil() {
		funcsMu.Lock()
		v := funcPtrs[fv.Pointer()]
		funcsMu.Unlock()
		if v != nil && v.fn.Type() == fv.Type() {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: the function %s at %s is not registered with rdd.Register, so executors cannot run it", ErrNotPortable, what, site)
}

// registeredAs returns registry entry i as an F (on an executor).
func registeredAs[F any](i int) (F, error) {
	funcsMu.Lock()
	defer funcsMu.Unlock()
	if i >= 0 && i < len(funcs) && funcs[i].action {
		if f, ok := funcs[i].fn.Interface().(F); ok {
			return f, nil
		}
	}
	var zero F
	return zero, fmt.Errorf("%w: registered function %d is not a %s in this binary", ErrNotPortable, i, reflect.TypeFor[F]())
}

// invocation records one call of a Func: enough to rebuild the identical
// lineage in another process running the same binary.
//
// Which datasets belong to a call is decided when the call returns, from the
// dataset it returns: every dataset reachable from it that was built during
// the call (its id is in (start, end]; ids rise with construction) belongs
// to it, with a local index given by a depth-first walk of the returned
// lineage (parents in order, then the dataset). That index depends only on
// the shape of the lineage, so the same Func with the same arguments gives
// every dataset the same index in every process, whichever goroutines built
// them. A reachable dataset built before the call (a package-level dataset,
// one captured from the caller) cannot be rebuilt from the call: it is
// recorded as foreign and makes the call not portable. Datasets derived
// from the result after the call returned belong to no call.
type invocation struct {
	id      int64 // unique in the process (task.Invocation.ID, NodeRef.Inv)
	fn      *funcValue
	args    []any
	handles map[*node]bool // the datasets among args (driver dataset handles)
	start   int64          // last dataset id before the call
	end     int64          // last dataset id when the call returned
	nodes   int            // datasets claimed
	foreign *node          // a dataset reachable from the result but built before the call

	encodeOnce sync.Once // encodes the arguments once, at the first job
	encoded    task.Invocation
	encodeErr  error

	root    *node                           // the dataset the call returned
	entries func() []string                 // fingerprintEntries of root's lineage, computed once
	checked func() (task.Invocation, error) // CheckPortable: rebuilt once and compared
}

// fingerprint digests the datasets of root's invocation (see
// fingerprintEntries). Two processes building the same lineage from the
// same arguments get the same fingerprint; a Func body that builds its
// inputs from a Go map's iteration order does not.
func fingerprint(root *node) string { return digestEntries(fingerprintEntries(root)) }

func digestEntries(entries []string) string {
	h := sha256.New()
	for _, e := range entries {
		h.Write([]byte(e))
		h.Write([]byte(";"))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// fingerprintEntries describes the datasets of root's invocation in local
// index order, one entry each: operation, call site, parents (local index,
// or the dataset's index in its own invocation when it is a handle
// argument) and a digest of what sources read (Range's bounds,
// Parallelize's data, TextFile's path). A rebuild that differs is explained
// by the first entry that differs (RebuildError).
func fingerprintEntries(root *node) []string {
	claimMu.Lock()
	inv := root.inv
	byIndex := map[int]*node{}
	var walk func(n *node)
	walk = func(n *node) {
		if n.inv != inv || byIndex[n.local] == n {
			return
		}
		byIndex[n.local] = n
		for _, d := range n.deps {
			walk(d.parent)
		}
	}
	walk(root)
	claimMu.Unlock()
	out := make([]string, 0, len(byIndex))
	for i := range len(byIndex) {
		n := byIndex[i]
		if n == nil {
			out = append(out, fmt.Sprintf("%d: missing", i))
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d: %s at %s (", i, n.op, n.site)
		for j, d := range n.deps {
			if j > 0 {
				b.WriteString(", ")
			}
			r := ref(d.parent)
			switch {
			case r.Inv != 0 && r.Inv != inv.id:
				fmt.Fprintf(&b, "argument dataset %d", r.Local)
			default:
				fmt.Fprintf(&b, "%d", r.Local)
			}
			if d.shuffle != nil {
				b.WriteString(" shuffled")
			}
		}
		b.WriteString(")")
		if n.content != nil {
			h := sha256.New()
			n.content(h)
			fmt.Fprintf(&b, " content %s", hex.EncodeToString(h.Sum(nil)[:6]))
		}
		out = append(out, b.String())
	}
	return out
}

// fingerprintOf returns the fingerprint of the invocation that built n
// ("" when none), computed once per invocation.
func fingerprintOf(n *node) string {
	claimMu.Lock()
	inv := n.inv
	claimMu.Unlock()
	if inv == nil || inv.entries == nil {
		return ""
	}
	return digestEntries(inv.entries())
}

// checkRebuild is CheckPortable's rebuild: it calls the Func of n's
// invocation again, as an executor would, and compares fingerprints (once
// per invocation).
func checkRebuild(n *node) error {
	claimMu.Lock()
	inv := n.inv
	claimMu.Unlock()
	if inv == nil || inv.checked == nil {
		return nil
	}
	_, err := inv.checked()
	return err
}

// claimMu guards node.inv and node.local, written when an invocation
// returns and read by spec and byLocal.
var claimMu sync.Mutex

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
// The datasets of a call are those reachable from the dataset it returns and
// built while it ran, on any goroutine; the body may call other Funcs (their
// datasets become part of the outer call's lineage) and may run at the same
// time as other calls. A call whose result depends on a dataset built before
// it (a package-level dataset, one reached through a captured variable) runs
// in local mode but is not portable: a remote executor could not rebuild
// that dataset from the call's arguments. Datasets derived from the result
// after the call belong to no call; see docs/rdd.md for how cluster mode
// runs them.
func Func[F any](fn F) F {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	if ft.Kind() != reflect.Func || ft.NumOut() != 1 || !ft.Out(0).Implements(datasetType) || ft.IsVariadic() {
		panic(fmt.Sprintf("rdd.Func: want a non-variadic func returning one *rdd.RDD[T], got %s", ft))
	}
	site := callSite()
	if !duringInit() {
		panic(fmt.Sprintf("rdd.Func at %s: called after main started; call rdd.Func only in package-level variable initialisers, so that every process registers the same Funcs in the same order", site))
	}
	v := register(fv, site, false)
	wrapper := reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		return []reflect.Value{v.invoke(args)}
	})
	return wrapper.Interface().(F)
}

// invSeq numbers invocations, like nodeSeq datasets.
var invSeq atomic.Int64

func (v *funcValue) invoke(args []reflect.Value) reflect.Value {
	inv := &invocation{id: invSeq.Add(1), fn: v, handles: map[*node]bool{}}
	for _, a := range args {
		inv.args = append(inv.args, a.Interface())
		if h := handleNode(a); h != nil {
			inv.handles[h] = true
		}
	}
	inv.start = nodeSeq.Load()
	out := v.fn.Call(args)[0]
	inv.end = nodeSeq.Load()
	if !out.IsNil() {
		inv.root = out.Interface().(Dataset).lineage()
		inv.claim(inv.root)
		inv.entries = sync.OnceValue(func() []string { return fingerprintEntries(inv.root) })
		inv.checked = sync.OnceValues(func() (task.Invocation, error) {
			sp, err := spec(inv.root)
			if err != nil {
				return sp, err
			}
			ds, err := rebuild(sp, nil, nil, inv)
			if err != nil {
				return sp, err
			}
			if got, want := fingerprintEntries(ds.lineage()), inv.entries(); !slices.Equal(got, want) {
				return sp, &RebuildError{Func: v.site, Driver: want, Rebuilt: got, Lossy: lossyArgument(v, inv.args, sp.Args)}
			}
			return sp, nil
		})
	}
	return out
}

// claim gives the datasets of the call their invocation and local indexes
// (see invocation). A nested call claimed its datasets first; the outer call
// takes them over.
func (inv *invocation) claim(root *node) {
	claimMu.Lock()
	defer claimMu.Unlock()
	seen := map[*node]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		if inv.handles[n] {
			return // a dataset passed as an argument: rebuilt from its handle
		}
		if int64(n.id) <= inv.start {
			// Built before the call, like all its ancestors (a dataset is
			// built after its parents).
			if inv.foreign == nil {
				inv.foreign = n
			}
			return
		}
		for _, d := range n.deps {
			walk(d.parent)
		}
		if int64(n.id) <= inv.end {
			n.inv, n.local = inv, inv.nodes
			inv.nodes++
		}
	}
	walk(root)
}

// ErrNotPortable is wrapped by errors about datasets or arguments that a
// remote executor could not rebuild.
var ErrNotPortable = errors.New("rdd: not portable")

// spec returns the portable form of the invocation that built n (the Func
// and its gob-encoded arguments), encoded once per invocation.
func spec(n *node) (task.Invocation, error) {
	claimMu.Lock()
	inv := n.inv
	claimMu.Unlock()
	if inv == nil {
		return task.Invocation{}, fmt.Errorf("%w: %s was not built inside an rdd.Func, or was not reachable from the dataset its Func returned", ErrNotPortable, n)
	}
	if inv.foreign != nil {
		return task.Invocation{}, fmt.Errorf("%w: the Func at %s uses %s, built before the Func was called", ErrNotPortable, inv.fn.site, inv.foreign)
	}
	inv.encodeOnce.Do(func() { inv.encoded, inv.encodeErr = inv.encode() })
	return inv.encoded, inv.encodeErr
}

func (inv *invocation) encode() (task.Invocation, error) {
	out := task.Invocation{ID: inv.id, Func: inv.fn.index}
	for i, a := range inv.args {
		if h := handleNode(reflect.ValueOf(a)); h != nil {
			b, err := encodeHandle(h)
			if err != nil {
				return task.Invocation{}, fmt.Errorf("%w: argument %d of the Func at %s: %v", ErrNotPortable, i, inv.fn.site, err)
			}
			out.Args = append(out.Args, b)
			continue
		}
		if acc, ok := a.(accumulatorArg); ok && !reflect.ValueOf(a).IsNil() {
			b, err := acc.wire()
			if err != nil {
				return task.Invocation{}, fmt.Errorf("%w: argument %d of the Func at %s: %v", ErrNotPortable, i, inv.fn.site, err)
			}
			out.Args = append(out.Args, b)
			continue
		}
		var buf bytes.Buffer
		v := reflect.New(inv.fn.fn.Type().In(i))
		v.Elem().Set(reflect.ValueOf(a))
		if err := gob.NewEncoder(&buf).EncodeValue(v); err != nil {
			return task.Invocation{}, fmt.Errorf("%w: argument %d of the Func at %s: %v", ErrNotPortable, i, inv.fn.site, err)
		}
		out.Args = append(out.Args, buf.Bytes())
	}
	return out, nil
}

// sharedVars returns the ids of the accumulators and broadcast variables
// among the arguments of the invocation that built n.
func sharedVars(n *node) (accums, broadcasts []int64) {
	claimMu.Lock()
	inv := n.inv
	claimMu.Unlock()
	if inv == nil {
		return nil, nil
	}
	for _, a := range inv.args {
		if v, ok := a.(sharedVar); ok {
			if id, acc := v.sharedID(); acc {
				accums = append(accums, id)
			} else {
				broadcasts = append(broadcasts, id)
			}
		}
	}
	return accums, broadcasts
}

// rebuild calls the Func of spec with its decoded arguments and returns the
// dataset it builds, as a remote executor would. Map tasks of any shuffle in
// its lineage can then run from the shuffle dependency alone; result tasks
// need the typed dataset, which the caller recovers by type assertion.
// broadcast, when not nil, gives the encoded value of the broadcast
// variables among the arguments (an executor fetches them from the driver).
//
// handle, when not nil, turns a dataset argument's handle into the dataset
// (an executor rebuilds the handle's own invocation, or fetches driver
// data); nil keeps the arguments of the driver's call orig (CheckPortable's
// second call).
func rebuild(sp task.Invocation, broadcast func(id int64) ([]byte, error), handle func(h handleArg, t reflect.Type) (reflect.Value, error), orig *invocation) (Dataset, error) {
	funcsMu.Lock()
	if sp.Func < 0 || sp.Func >= len(funcs) {
		funcsMu.Unlock()
		return nil, fmt.Errorf("%w: no Func %d in this binary", ErrNotPortable, sp.Func)
	}
	fv := funcs[sp.Func]
	funcsMu.Unlock()
	if fv.action {
		return nil, fmt.Errorf("%w: registry entry %d (%s) is not a Func", ErrNotPortable, sp.Func, fv.site)
	}
	ft := fv.fn.Type()
	if len(sp.Args) != ft.NumIn() {
		return nil, fmt.Errorf("%w: Func %d takes %d arguments, got %d", ErrNotPortable, sp.Func, ft.NumIn(), len(sp.Args))
	}
	args := make([]reflect.Value, len(sp.Args))
	for i, b := range sp.Args {
		if t := ft.In(i); t.Implements(datasetType) {
			if handle == nil && orig != nil && i < len(orig.args) {
				args[i] = reflect.ValueOf(orig.args[i])
				continue
			}
			h, err := gobDecode[handleArg](b)
			if err == nil && handle == nil {
				err = errors.New("no way to rebuild a dataset argument here")
			}
			if err == nil {
				args[i], err = handle(h, t)
			}
			if err != nil {
				return nil, fmt.Errorf("rdd: argument %d (a dataset) of the Func at %s: %w", i, fv.site, err)
			}
			continue
		}
		if t := ft.In(i); t.Kind() == reflect.Pointer && t.Implements(reflect.TypeFor[accumulatorArg]()) {
			v := reflect.New(t.Elem())
			if err := v.Interface().(accumulatorArg).restore(b); err != nil {
				return nil, fmt.Errorf("%w: argument %d: %v", ErrNotPortable, i, err)
			}
			args[i] = v
			continue
		}
		v := reflect.New(ft.In(i))
		if err := gob.NewDecoder(bytes.NewReader(b)).DecodeValue(v); err != nil {
			return nil, fmt.Errorf("%w: argument %d: %v", ErrNotPortable, i, err)
		}
		args[i] = v.Elem()
		if b, ok := args[i].Interface().(broadcastValue); ok && broadcast != nil {
			id, _ := b.sharedID()
			enc, err := broadcast(id)
			if err == nil {
				err = b.setEncoded(enc)
			}
			if err != nil {
				return nil, fmt.Errorf("rdd: argument %d (broadcast %d) of the Func at %s: %w", i, id, fv.site, err)
			}
		}
	}
	return fv.invoke(args).Interface().(Dataset), nil
}

// byLocal finds the node with local index local in the lineage of root
// (built by one invocation).
func byLocal(root *node, local int) *node {
	claimMu.Lock()
	defer claimMu.Unlock()
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
