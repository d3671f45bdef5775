package rdd

import (
	"sync"
	"testing"
)

// A reader of an in-memory block and the eviction that moves it to disk run
// at once: the reader gets the whole partition from memory or from disk,
// and -race sees no unsynchronised access to the block.
func TestBlockReadDuringEviction(t *testing.T) {
	bm := newBlockManager(t.TempDir(), 100)
	encode := func(d any) []byte { return []byte{byte(len(d.([]int)))} }
	hot := blockKey{1, 0}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, enc, b, err := bm.get(hot)
			ok := b != nil
			if err != nil {
				t.Error(err)
				return
			}
			if ok && data == nil && len(enc) != 1 {
				t.Errorf("block neither in memory nor on disk: %v %v", data, enc)
				return
			}
			if ok && data != nil && len(data.([]int)) != 3 {
				t.Errorf("partial block %v", data)
				return
			}
		}
	}()
	for i := range 2000 {
		if err := bm.put(hot, MemoryAndDisk, []int{1, 2, 3}, 60, encode); err != nil {
			t.Fatal(err)
		}
		// Another dataset's block needs the room: hot moves to disk.
		if err := bm.put(blockKey{2, i}, MemoryOnly, []int{4}, 60, encode); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

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
