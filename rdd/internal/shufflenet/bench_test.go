package shufflenet

import (
	"context"
	"testing"
)

// BenchmarkFetch reads every block of a 200-map x 50-reducer shuffle
// (about 100 MB) once per iteration: from the local Store directly, and
// over loopback HTTP from 3 servers. Run with
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
	b.Run("local", func(b *testing.B) {
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
