package rdd

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/mesoproject/meso/rdd/internal/job"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// RebuildError says that a Func called again with the same arguments (on
// an executor, or by CheckPortable's second call in local mode) built a
// different lineage than the driver's call: the Func is not deterministic
// (a Go map's iteration order, a clock, randomness, flag-set package state
// in what it builds; see docs/rdd.md), or an argument did not survive gob
// unchanged. It fails the job at once: retrying would rebuild the same
// difference.
type RebuildError struct {
	Func     string   // call site of the Func
	Stage    string   // the stage whose pipeline was rebuilt ("" in local mode)
	Executor string   // the executor that rebuilt it ("" in local mode)
	Inv      int64    // the driver's id of the invocation
	Driver   []string // the driver's datasets (fingerprintEntries)
	Rebuilt  []string // the rebuilt datasets
	// Lossy (local mode) names the first argument that gob's copy does
	// not reproduce bit for bit ("argument 0 ([]float64)"), the likely
	// cause of the difference; "" when every argument survived.
	Lossy string
}

func (e *RebuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: the Func at %s built a different lineage", ErrNotPortable, e.Func)
	if e.Executor != "" {
		fmt.Fprintf(&b, " on executor %s", e.Executor)
	} else {
		b.WriteString(" when called again")
	}
	if e.Stage != "" {
		fmt.Fprintf(&b, " (stage %s)", e.Stage)
	}
	fmt.Fprintf(&b, " from the same arguments: %s", e.Differs())
	const gobHint = "gob sends a float struct field holding -0 as +0 and no unexported field"
	if e.Lossy != "" {
		fmt.Fprintf(&b, "; %s does not survive gob encoding unchanged (%s): build such data inside the Func, "+
			"or pass values gob carries exactly", e.Lossy, gobHint)
		return b.String()
	}
	b.WriteString("; its body must build the same datasets from its arguments alone " +
		"(no Go map iteration order, clock, randomness or flag-set package state in what it builds; see docs/rdd.md), " +
		"and its arguments must survive gob encoding unchanged (" + gobHint + ")")
	return b.String()
}

// Differs describes the first dataset that differs.
func (e *RebuildError) Differs() string {
	for i := range max(len(e.Driver), len(e.Rebuilt)) {
		switch {
		case i >= len(e.Driver):
			return fmt.Sprintf("%d datasets on the driver, %d rebuilt; the first extra one is %s", len(e.Driver), len(e.Rebuilt), e.Rebuilt[i])
		case i >= len(e.Rebuilt):
			return fmt.Sprintf("%d datasets on the driver, %d rebuilt; the first missing one is %s", len(e.Driver), len(e.Rebuilt), e.Driver[i])
		case e.Driver[i] != e.Rebuilt[i]:
			return fmt.Sprintf("dataset %s on the driver, %s rebuilt", e.Driver[i], e.Rebuilt[i])
		}
	}
	if e.Driver == nil {
		return "the fingerprints differ"
	}
	return "the same datasets (the fingerprints differ)"
}

// Unwrap: a RebuildError is not portable, and not worth a retry.
func (e *RebuildError) Unwrap() []error { return []error{ErrNotPortable, job.ErrNoRetry} }

// explainRebuild fills a remote RebuildError with the driver's side, from
// the invocation that built the task's pipeline.
func (s *Session) explainRebuild(d *task.Desc, err error, executor string) {
	var re *RebuildError
	if !errors.As(err, &re) || re.Driver != nil {
		return
	}
	re.Executor = executor
	s.mu.Lock()
	jt := s.jobTasks[d.Job]
	s.mu.Unlock()
	if jt == nil {
		return
	}
	for _, n := range jt.nodes {
		claimMu.Lock()
		inv := n.inv
		claimMu.Unlock()
		if inv != nil && inv.id == re.Inv && inv.entries != nil {
			re.Driver = inv.entries()
			return
		}
	}
}

// lossyArgument names the first of a call's plain arguments (not a
// dataset, accumulator or broadcast) whose gob copy, decoded as rebuild
// decodes it, differs from the driver's value (sameBits), or returns "".
func lossyArgument(fv *funcValue, args []any, encoded [][]byte) string {
	ft := fv.fn.Type()
	for i, a := range args {
		t := ft.In(i)
		if _, shared := a.(sharedVar); shared || t.Implements(datasetType) || i >= len(encoded) {
			continue
		}
		v := reflect.New(t)
		if err := gob.NewDecoder(bytes.NewReader(encoded[i])).DecodeValue(v); err != nil {
			return fmt.Sprintf("argument %d (%s)", i, t)
		}
		orig := reflect.New(t).Elem()
		if a != nil {
			orig.Set(reflect.ValueOf(a))
		}
		if !sameBits(orig, v.Elem(), 0) {
			return fmt.Sprintf("argument %d (%s)", i, t)
		}
	}
	return ""
}

// sameBits reports whether a and b (of one type) hold the same values,
// floats compared by representation (-0 is not +0, a NaN equals itself)
// and unexported fields included. A nil slice or map equals an empty one
// (gob does not tell them apart, nor does a dataset built from them);
// functions and channels, which gob does not carry, compare equal.
func sameBits(a, b reflect.Value, depth int) bool {
	if depth > 64 { // a cycle, or data deeper than gob keeps in practice
		return true
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Complex64, reflect.Complex128:
		x, y := a.Complex(), b.Complex()
		return math.Float64bits(real(x)) == math.Float64bits(real(y)) && math.Float64bits(imag(x)) == math.Float64bits(imag(y))
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameBits(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			k := it.Key()
			if !k.Equal(k) { // a NaN key: no lookup finds it
				continue
			}
			w := b.MapIndex(k)
			if !w.IsValid() || !sameBits(it.Value(), w, depth+1) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Kind() == reflect.Interface && a.Elem().Type() != b.Elem().Type() {
			return false
		}
		return sameBits(a.Elem(), b.Elem(), depth+1)
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameBits(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	}
	return true
}
