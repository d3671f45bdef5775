package seeddemo

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// The checksum is the one earlier runs printed: each member digested as
// fmt.Fprint wrote it, negative numbers included.
func TestChecksumAsFprint(t *testing.T) {
	groups := Groups{
		{Key: 0, Value: []rdd.Pair[int, int64]{{Key: 1, Value: 0}, {Key: 99, Value: 98}}},
		{Key: -7, Value: []rdd.Pair[int, int64]{{Key: -700, Value: 1 << 40}}},
		{Key: 100000, Value: nil},
	}
	var want uint64
	for _, g := range groups {
		for _, m := range g.Value {
			h := fnv.New64a()
			fmt.Fprint(h, g.Key, m.Key, m.Value)
			want += h.Sum64()
		}
	}
	if got := Checksum(groups); got != want {
		t.Fatalf("Checksum %x, fmt.Fprint digests %x", got, want)
	}
}
