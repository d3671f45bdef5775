package rdd

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mesoproject/meso/rdd/internal/blocks"
	"github.com/mesoproject/meso/rdd/internal/task"
	"github.com/mesoproject/meso/rdd/internal/ui"
)

// TestCacheBookForgets shows the driver's cache-location book shrinks back
// to nothing: Unpersist's (and the cleaner's) forget drops a dataset's
// partitions, an executor's loss drops what it held, and a new partition
// past maxCacheLocs is not recorded.
func TestCacheBookForgets(t *testing.T) {
	b := newCacheBook()
	b.add("e1", []task.CachedBlock{{Node: 1, Part: 0}, {Node: 1, Part: 1}, {Node: 2, Part: 0}})
	b.add("e2", []task.CachedBlock{{Node: 2, Part: 0}, {Node: 3, Part: 0}})
	if n := b.size(); n != 4 {
		t.Fatalf("book holds %d partitions, want 4", n)
	}
	b.forget(1)
	if n := b.size(); n != 2 {
		t.Fatalf("after forgetting dataset 1 the book holds %d partitions, want 2", n)
	}
	b.lose("e2")
	if h := b.holders(blocks.Key{Node: 2, Part: 0}); len(h) != 1 || h[0] != "e1" {
		t.Fatalf("holders of 2/0 after e2's loss: %v, want [e1]", h)
	}
	b.lose("e1")
	if n := b.size(); n != 0 {
		t.Fatalf("after every executor's loss the book holds %d partitions, want 0", n)
	}

	full := make([]task.CachedBlock, maxCacheLocs)
	for i := range full {
		full[i] = task.CachedBlock{Node: 7, Part: i}
	}
	if !b.add("e1", full) {
		t.Fatal("filling the book to its bound reported a partition not recorded")
	}
	if b.add("e1", []task.CachedBlock{{Node: 8, Part: 0}}) {
		t.Fatal("a partition past the bound was recorded")
	}
	if !b.add("e2", []task.CachedBlock{{Node: 7, Part: 0}}) {
		t.Fatal("a new holder of a recorded partition was refused")
	}
	if n := b.size(); n != maxCacheLocs {
		t.Fatalf("book holds %d partitions, want its bound %d", n, maxCacheLocs)
	}
	b.forget(7)
	if n := b.size(); n != 0 {
		t.Fatalf("after forgetting dataset 7 the book holds %d partitions, want 0", n)
	}
}

// TestStoragePageShowsExecutorCache shows the UI's storage page lists the
// partitions executors cache, from the driver's cache locations, with the
// executors holding them.
func TestStoragePageShowsExecutorCache(t *testing.T) {
	b := newCacheBook()
	b.add("e1", []task.CachedBlock{{Node: 5, Part: 0}, {Node: 5, Part: 1}})
	b.add("e2", []task.CachedBlock{{Node: 5, Part: 2}})
	live := ui.NewLive(func() []ui.Cached { return bookCached(b.summary()) })
	rec := httptest.NewRecorder()
	live.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/storage/", nil))
	body := rec.Body.String()
	for _, w := range []string{`data-dataset="5"`, `<td class="num">3</td>`, `<span class="executor">e1</span>, <span class="executor">e2</span>`} {
		if !strings.Contains(body, w) {
			t.Errorf("no %q on the storage page:\n%s", w, body)
		}
	}
}
