package fetcher

import (
	"errors"
	"slices"
	"testing"
)

// download simulates a completed download of size bytes through the table.
func download(t *testing.T, tb *lruTable, key string, size int64) (*cacheEntry, []string) {
	t.Helper()
	e, created := tb.acquire(key, key)
	if !created {
		t.Fatalf("%s: expected a new entry", key)
	}
	victims, ok := tb.reserve(e, size)
	if !ok {
		t.Fatalf("%s: reserve(%d) refused with %d/%d used", key, size, tb.used, tb.capacity)
	}
	tb.complete(e)
	var keys []string
	for _, v := range victims {
		keys = append(keys, v.key)
	}
	return e, keys
}

func TestLRUTableEvictsLeastRecentlyUsed(t *testing.T) {
	tb := newLRUTable(300)
	a, _ := download(t, tb, "a", 100)
	tb.release(a)
	b, _ := download(t, tb, "b", 100)
	tb.release(b)
	c, _ := download(t, tb, "c", 100)
	tb.release(c)
	// Touch a: b becomes the least recently used.
	if e, created := tb.acquire("a", "a"); created || e != a {
		t.Fatal("a should be a hit")
	}
	tb.release(a)
	d, victims := download(t, tb, "d", 150)
	tb.release(d)
	if !slices.Equal(victims, []string{"b", "c"}) {
		t.Fatalf("evicted %v, want [b c]", victims)
	}
	if tb.used != 250 {
		t.Fatalf("used %d, want 250", tb.used)
	}
	if _, ok := tb.entries["b"]; ok {
		t.Fatal("b still in the table")
	}
}

func TestLRUTableNeverEvictsEntriesInUse(t *testing.T) {
	tb := newLRUTable(200)
	a, _ := download(t, tb, "a", 100) // still referenced: in use
	b, _ := download(t, tb, "b", 100)
	tb.release(b)

	// c needs 150: only b (100) is evictable, so c is not cacheable and
	// nothing is evicted.
	c, created := tb.acquire("c", "c")
	if !created {
		t.Fatal("c should be new")
	}
	if victims, ok := tb.reserve(c, 150); ok || len(victims) != 0 {
		t.Fatalf("reserve succeeded (%v) by evicting an entry in use", victims)
	}
	if tb.used != 200 || tb.entries["a"] != a || tb.entries["b"] != b {
		t.Fatal("a refused reservation changed the table")
	}
	tb.fail(c, errNotCacheable)
	if _, ok := tb.entries["c"]; ok || !errors.Is(c.failed, errNotCacheable) {
		t.Fatal("a failed entry must leave the table")
	}

	// c needs 100: b goes, a stays.
	c, _ = tb.acquire("c", "c")
	victims, ok := tb.reserve(c, 100)
	if !ok || len(victims) != 1 || victims[0] != b {
		t.Fatalf("reserve = %v, %v; want b evicted", victims, ok)
	}
}

func TestLRUTableNeverEvictsPendingDownloads(t *testing.T) {
	tb := newLRUTable(100)
	a, _ := tb.acquire("a", "a")
	if _, ok := tb.reserve(a, 60); !ok {
		t.Fatal("reserve a")
	}
	tb.release(a) // even unreferenced, an entry still downloading is not evictable
	b, _ := tb.acquire("b", "b")
	if _, ok := tb.reserve(b, 60); ok {
		t.Fatal("evicted an entry that is still downloading")
	}
}

func TestLRUTableRefusesOversizeAndUnknown(t *testing.T) {
	tb := newLRUTable(100)
	e, _ := tb.acquire("big", "big")
	if _, ok := tb.reserve(e, 101); ok {
		t.Fatal("an entry larger than the cache was reserved")
	}
	if _, ok := tb.reserve(e, -1); ok {
		t.Fatal("an entry of unknown size was reserved")
	}
	if _, ok := tb.reserve(e, 100); !ok {
		t.Fatal("an entry the size of the cache should fit")
	}
}

func TestLRUTableFailReleasesSpace(t *testing.T) {
	tb := newLRUTable(100)
	e, _ := tb.acquire("a", "a")
	tb.reserve(e, 80)
	tb.fail(e, errors.New("boom"))
	if tb.used != 0 {
		t.Fatalf("used %d after failure, want 0", tb.used)
	}
	if e2, created := tb.acquire("a", "a"); !created || e2 == e {
		t.Fatal("after a failure the key starts afresh")
	}
}

func TestCacheFileNames(t *testing.T) {
	cases := map[string]string{
		"app.tgz": "c7-app.tgz",
		"a-very-long-file-name-for-a-spark-distribution-3.5.1-bin-hadoop3.tgz": "c7-a-very-long-fil_on-3.5.1-bin-hadoop3.tgz",
	}
	for base, want := range cases {
		got := cacheFileName(7, base)
		if got != want {
			t.Errorf("cacheFileName(7, %q) = %q, want %q", base, got, want)
		}
		if !isCacheFileName(got) || kindOf(got) != kindOf(base) {
			t.Errorf("%q is not recognised as a cache file of the same kind", got)
		}
	}
	for _, n := range []string{"c-x", "cat", "notes", "c12"} {
		if isCacheFileName(n) {
			t.Errorf("%q taken for a cache file", n)
		}
	}
}
