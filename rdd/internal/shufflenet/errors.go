package shufflenet

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// Why a map's blocks could not be fetched. A Failure's Err wraps one.
var (
	// ErrUnreachable: the executor did not answer, or cut the response,
	// on every attempt.
	ErrUnreachable = errors.New("shufflenet: executor unreachable")
	// ErrTimeout: the executor sent nothing for Config.Timeout.
	ErrTimeout = errors.New("shufflenet: fetch timed out")
	// ErrCorrupt: a block's CRC-32C or length did not match, or the
	// executor could not read its map output.
	ErrCorrupt = errors.New("shufflenet: corrupt block")
	// ErrMissing: the executor has no such map output.
	ErrMissing = errors.New("shufflenet: map output missing")
)

// ErrUnauthorized is returned (not as a FetchFailedError: recomputing map
// outputs does not help) when an executor refuses the application's token.
var ErrUnauthorized = errors.New("shufflenet: token refused")

// Failure says why one map output's blocks could not be fetched.
type Failure struct {
	Map  int
	Addr string // the executor asked (Config.LocalAddr: the local store)
	Err  error  // wraps ErrUnreachable, ErrTimeout, ErrCorrupt or ErrMissing
}

// FetchFailedError reports every map output of one shuffle that a Fetch
// could not read, one Failure per map, by map index. It wraps
// shuffle.ErrFetchFailed and each failure's cause.
type FetchFailedError struct {
	Shuffle  int
	Failures []Failure
}

func (e *FetchFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shufflenet: fetch failed: shuffle %d:", e.Shuffle)
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteByte(';')
		}
		if i == 8 {
			fmt.Fprintf(&b, " and %d more maps", len(e.Failures)-i)
			break
		}
		fmt.Fprintf(&b, " map %d from %q: %v", f.Map, f.Addr, f.Err)
	}
	return b.String()
}

// Unwrap returns shuffle.ErrFetchFailed and the failures' causes.
func (e *FetchFailedError) Unwrap() []error {
	errs := []error{shuffle.ErrFetchFailed}
	for _, f := range e.Failures {
		errs = append(errs, f.Err)
	}
	return errs
}

// Maps returns the failed map indexes, ascending.
func (e *FetchFailedError) Maps() []int {
	m := make([]int, len(e.Failures))
	for i, f := range e.Failures {
		m[i] = f.Map
	}
	return m
}

// failures collects the first failure of each map.
type failures map[int]Failure

func (fs failures) add(f Failure) {
	if _, ok := fs[f.Map]; !ok {
		fs[f.Map] = f
	}
}

func (fs failures) err(shuffleID int) error {
	if len(fs) == 0 {
		return nil
	}
	e := &FetchFailedError{Shuffle: shuffleID}
	for _, f := range fs {
		e.Failures = append(e.Failures, f)
	}
	slices.SortFunc(e.Failures, func(a, b Failure) int { return a.Map - b.Map })
	return e
}
