package rdd

import (
	"testing"

	"github.com/mesoproject/meso/rdd/internal/blocks"
)

type zeroShape struct {
	M      map[string][]int
	P      *int
	S      []string
	E      []int
	A      [2][]int
	I      any
	hidden []int
}

func TestFreshZeroCopiesDeeply(t *testing.T) {
	one := 1
	zero := zeroShape{M: map[string][]int{"a": {1}}, P: &one, S: nil, E: []int{}, A: [2][]int{{1}, nil},
		I: []int{5}, hidden: []int{9}}
	fresh := freshZero(zero)
	a, b := fresh(), fresh()
	a.M["a"][0], *a.P, a.A[0][0], a.I.([]int)[0] = 7, 7, 7, 7
	a.M["b"] = nil
	if b.M["a"][0] != 1 || *b.P != 1 || b.A[0][0] != 1 || b.I.([]int)[0] != 5 || len(b.M) != 1 ||
		zero.M["a"][0] != 1 || one != 1 {
		t.Fatalf("copies share memory: %+v %+v", a, b)
	}
	if b.S != nil || b.E == nil || b.A[1] != nil || &b.hidden[0] != &zero.hidden[0] {
		t.Fatalf("nil, empty or unexported fields not kept: %+v", b)
	}
	if f := freshZero(3); f() != 3 {
		t.Fatal("scalar zero")
	}
}

// The block manager's levels are StorageLevel's values (cache.go converts).
func TestStorageLevelsMatchBlocks(t *testing.T) {
	for _, l := range []StorageLevel{None, MemoryOnly, MemoryAndDisk, DiskOnly} {
		if want := [...]blocks.Level{blocks.None, blocks.MemoryOnly, blocks.MemoryAndDisk, blocks.DiskOnly}[l]; blocks.Level(l) != want {
			t.Fatalf("%v is block level %d, want %d", l, blocks.Level(l), want)
		}
	}
}
