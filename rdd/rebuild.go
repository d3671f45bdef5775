package rdd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mesoproject/meso/rdd/internal/job"
	"github.com/mesoproject/meso/rdd/internal/task"
)

// RebuildError says that a Func called again with the same arguments (on
// an executor, or by CheckPortable's second call in local mode) built a
// different lineage than the driver's call: the Func is not deterministic
// (a Go map's iteration order, a clock, randomness, flag-set package state
// in what it builds; see docs/rdd.md). It fails the job at once: retrying
// would rebuild the same difference.
type RebuildError struct {
	Func     string   // call site of the Func
	Stage    string   // the stage whose pipeline was rebuilt ("" in local mode)
	Executor string   // the executor that rebuilt it ("" in local mode)
	Inv      int64    // the driver's id of the invocation
	Driver   []string // the driver's datasets (fingerprintEntries)
	Rebuilt  []string // the rebuilt datasets
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
	b.WriteString("; its body must build the same datasets from its arguments alone " +
		"(no Go map iteration order, clock, randomness or flag-set package state in what it builds; see docs/rdd.md)")
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
