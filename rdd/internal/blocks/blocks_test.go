package blocks

import (
	"sync"
	"testing"
)

// A reader of an in-memory block and the eviction that moves it to disk run
// at once: the reader gets the whole partition from memory or from disk,
// and -race sees no unsynchronised access to the block.
func TestBlockReadDuringEviction(t *testing.T) {
	bm := New(t.TempDir(), 100)
	encode := func(d any) []byte { return []byte{byte(len(d.([]int)))} }
	hot := Key{1, 0}
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
			data, enc, b, err := bm.Get(hot)
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
		if err := bm.Put(hot, MemoryAndDisk, []int{1, 2, 3}, 60, encode); err != nil {
			t.Fatal(err)
		}
		// Another dataset's block needs the room: hot moves to disk.
		if err := bm.Put(Key{2, i}, MemoryOnly, []int{4}, 60, encode); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
