package shufflenet

import (
	"context"
	"os"
	"testing"
)

// BenchmarkFetch reads every block of a 200-map x 50-reducer shuffle
// (about 100 MB) once per iteration, three ways in the same run:
// local-store (the Store's memory-mapped files, CRC checked: what a
// reducer does with its own executor's outputs), local-files (the same
// map output files read with os.ReadFile, no CRC: the file system's
// speed), host-local (a Fetcher with HostLocal reading the 3 servers'
// directories, as an executor on their host) and loopback (a Fetcher's
// batches over HTTP from 3 servers).
// Run with
//
//	go test -run '^$' -bench Fetch -benchtime 3x ./rdd/internal/shufflenet
func BenchmarkFetch(b *testing.B) {
	nodes := []*node{startNode(b, ServerConfig{}, nil), startNode(b, ServerConfig{}, nil), startNode(b, ServerConfig{}, nil)}
	c := newCluster(b, nodes, 1, 200, 50, 6700) // blocks of 6.7-13.4 KB
	var total int64
	for _, s := range c.sizes {
		for _, n := range s {
			total += n
		}
	}
	b.Run("local-store", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			for r := range c.reducers {
				for _, w := range c.wants(r) {
					data, release, err := c.nodes[c.owner[w.Map]].store.Fetch(blockID(c.shuffle, w))
					if err != nil || int64(len(data)) != w.Size {
						b.Fatal(err)
					}
					release()
				}
			}
		}
	})
	b.Run("local-files", func(b *testing.B) {
		var files []string
		for m, owner := range c.owner {
			files = append(files, c.nodes[owner].store.Path(c.shuffle, m))
		}
		var read int64
		b.SetBytes(total)
		for b.Loop() {
			read = 0
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					b.Fatal(err)
				}
				read += int64(len(data))
			}
		}
		if read < total {
			b.Fatalf("read %d bytes of %d", read, total)
		}
	})
	b.Run("host-local", func(b *testing.B) { // the same three servers' files read as an executor on their host does
		var anns []Announcement
		for _, n := range nodes {
			a, err := WriteMarker(n.store.Dir(), "h")
			if err != nil {
				b.Fatal(err)
			}
			anns = append(anns, a)
		}
		for i, n := range nodes {
			n.srv.cfg.Announce = &anns[i]
			n.srv.announce = announceHandler(&anns[i])
		}
		f := NewFetcher(Config{HostLocal: true})
		defer f.Close()
		b.SetBytes(total)
		for b.Loop() {
			for r := range c.reducers {
				err := f.Fetch(context.Background(), c.shuffle, c.wants(r), func(bl Block) error {
					if bl.From != HostLocal {
						b.Fatalf("block from %v", bl.From)
					}
					bl.Release()
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("loopback", func(b *testing.B) {
		b.SetBytes(total)
		f := NewFetcher(Config{})
		for b.Loop() {
			for r := range c.reducers {
				err := f.Fetch(context.Background(), c.shuffle, c.wants(r), func(bl Block) error { bl.Release(); return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
