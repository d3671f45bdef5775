// Package seeddemo is the seed talk's demo job, shared by examples/groupby
// and `meso dev --example` (which runs it on the embedded cluster).
package seeddemo

import (
	"hash/fnv"
	"strconv"

	"github.com/mesoproject/meso/rdd"
)

// Demo is the seed talk's job: n integers in parts partitions, zipped with
// their index, grouped by value/100 and cached.
var Demo = rdd.Func(func(n, parts int) *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]] {
	nums := rdd.Range(1, n+1, parts) // like sc.parallelize(1 to n, parts)
	withIdx := rdd.ZipWithIndex(nums)
	return rdd.GroupBy(withIdx, func(p rdd.Pair[int, int64]) int { return p.Key / 100 }).Cache()
})

// Groups is what Demo computes: value/100 -> its (value, index) pairs.
type Groups = []rdd.Pair[int, []rdd.Pair[int, int64]]

// Checksum digests the groups independently of their order (and of the
// order of each group's members), to compare runs.
// Each member's digest is FNV-1a of "<group key> <value> <index>" in
// decimal (what fmt.Fprint of the three wrote, at a tenth of the cost).
func Checksum(groups Groups) uint64 {
	var sum uint64
	h := fnv.New64a()
	var buf []byte
	for _, g := range groups {
		for _, m := range g.Value {
			buf = strconv.AppendInt(buf[:0], int64(g.Key), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(m.Key), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, m.Value, 10)
			h.Reset()
			h.Write(buf)
			sum += h.Sum64()
		}
	}
	return sum
}
