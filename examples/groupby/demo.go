package main

import "github.com/mesoproject/meso/rdd"

// Demo is the seed talk's job: n integers in parts partitions, zipped with
// their index, grouped by value/100 and cached.
var Demo = rdd.Func(func(n, parts int) *rdd.RDD[rdd.Pair[int, []rdd.Pair[int, int64]]] {
	nums := rdd.Range(1, n+1, parts) // like sc.parallelize(1 to n, parts)
	withIdx := rdd.ZipWithIndex(nums)
	return rdd.GroupBy(withIdx, func(p rdd.Pair[int, int64]) int { return p.Key / 100 }).Cache()
})
