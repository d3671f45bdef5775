package fetcher

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
)

// BenchmarkFetch50MB fetches a 50 MB file over loopback HTTP: directly
// (no cache), through the cache on a miss (download into the cache, then
// copy into the sandbox), and on a hit (copy from the cache only).
func BenchmarkFetch50MB(b *testing.B) {
	const size = 50 << 20
	data := make([]byte, size)
	rand.Read(data)
	srv := newFileServer(b, false)
	u := srv.put("/blob.bin", data)
	tmp := b.TempDir()
	n := 0
	freshDir := func(kind string) string {
		n++
		dir := filepath.Join(tmp, kind+strconv.Itoa(n))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		return dir
	}
	run := func(b *testing.B, f func() *Fetcher, value *mesospb.CommandInfo_URI) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			fetcher := f()
			dir := freshDir("sandbox")
			b.StartTimer()
			if err := fetcher.Fetch(context.Background(), []*mesospb.CommandInfo_URI{value}, dir, ""); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.RemoveAll(dir)
			b.StartTimer()
		}
	}
	b.Run("direct", func(b *testing.B) {
		f := newFetcher(b, Config{})
		run(b, func() *Fetcher { return f }, uri(u))
	})
	b.Run("cache-miss", func(b *testing.B) {
		run(b, func() *Fetcher {
			return newFetcher(b, Config{CacheDir: freshDir("cache")})
		}, uri(u, cached))
	})
	b.Run("cache-hit", func(b *testing.B) {
		f := newFetcher(b, Config{CacheDir: freshDir("cache")})
		if err := f.Fetch(context.Background(), []*mesospb.CommandInfo_URI{uri(u, cached)}, freshDir("warm"), ""); err != nil {
			b.Fatal(err)
		}
		before := srv.count("/blob.bin")
		run(b, func() *Fetcher { return f }, uri(u, cached))
		if srv.count("/blob.bin") != before {
			b.Fatal("a cache hit downloaded")
		}
	})
}
