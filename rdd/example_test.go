package rdd_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/mesoproject/meso/rdd"
)

// wordCount is registered once, at package level, so that any process of
// this binary can rebuild its lineage.
var wordCount = rdd.Func(func(lines []string) *rdd.RDD[rdd.Pair[string, int]] {
	words := rdd.FlatMap(rdd.Parallelize(lines, 2), strings.Fields)
	ones := rdd.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	return rdd.ReduceByKey(ones, func(a, b int) int { return a + b }, 2)
})

func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	s, err := rdd.Start(rdd.Config{Master: "local[2]", LocalDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	counts, err := rdd.Collect(context.Background(), s, wordCount([]string{"to be or", "not to be"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	slices.SortFunc(counts, func(a, b rdd.Pair[string, int]) int { return strings.Compare(a.Key, b.Key) })
	fmt.Println(counts)
	// Output: [{be 2} {not 1} {or 1} {to 2}]
}

func ExampleSortByKey() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	s, _ := rdd.Start(rdd.Config{LocalDir: dir})
	defer s.Close()
	scores := rdd.Parallelize([]rdd.Pair[int, string]{{3, "c"}, {1, "a"}, {2, "b"}, {5, "e"}, {4, "d"}}, 3)
	top, _ := rdd.Take(context.Background(), s, rdd.SortByKey(scores, false, 2), 3)
	fmt.Println(top)
	// Output: [{5 e} {4 d} {3 c}]
}

func ExampleZipWithIndex() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	s, _ := rdd.Start(rdd.Config{LocalDir: dir})
	defer s.Close()
	letters := rdd.Parallelize([]string{"a", "b", "c", "d"}, 3)
	indexed, _ := rdd.Collect(context.Background(), s, rdd.ZipWithIndex(letters))
	fmt.Println(indexed)
	// Output: [{a 0} {b 1} {c 2} {d 3}]
}
