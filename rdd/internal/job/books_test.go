package job

import (
	"slices"
	"testing"
)

// TestBooksColumn: a reducer's column of a shuffle gives each map output's
// executor and its block size for the reducer, "" and -1 for a map output
// missing, lost, or registered without sizes, and all missing for an
// unknown shuffle.
func TestBooksColumn(t *testing.T) {
	b := NewBooks()
	b.Register(1, 4, 0, "e0", []int64{10, 11, 12})
	b.Register(1, 4, 2, "e1", []int64{20, 21, 22})
	b.Register(1, 4, 3, "e1", nil)
	execs, sizes := make([]string, 4), make([]int64, 4)
	b.Column(1, 1, execs, sizes)
	if !slices.Equal(execs, []string{"e0", "", "e1", "e1"}) || !slices.Equal(sizes, []int64{11, -1, 21, -1}) {
		t.Fatalf("reducer 1: %q %v", execs, sizes)
	}
	b.Unregister(1, 2)
	b.Column(1, 2, execs, sizes)
	if !slices.Equal(execs, []string{"e0", "", "", "e1"}) || sizes[0] != 12 || sizes[1] != -1 || sizes[3] != -1 {
		t.Fatalf("reducer 2 after losing map 2: %q %v", execs, sizes)
	}
	b.Column(1, 5, execs, sizes) // beyond the sizes' reducers
	if !slices.Equal(sizes, []int64{-1, -1, -1, -1}) {
		t.Fatalf("reducer 5: %v", sizes)
	}
	b.Column(9, 0, execs, sizes)
	if !slices.Equal(execs, []string{"", "", "", ""}) || !slices.Equal(sizes, []int64{-1, -1, -1, -1}) {
		t.Fatalf("unknown shuffle: %q %v", execs, sizes)
	}
}
