package rdd_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/rdd"
)

var (
	// labelled pairs each of [0, n) (4 partitions) with "v".
	labelled = rdd.Func(func(n int) *rdd.RDD[rdd.Pair[int, string]] {
		return rdd.Map(rdd.Range(0, n, 4), func(v int) rdd.Pair[int, string] { return rdd.KV(v, "v") })
	})
	// persistedValues formats [0, n) (8 partitions), counting each record
	// computed into calls, persisted at level.
	persistedValues = rdd.Func(func(n int, level rdd.StorageLevel, calls *rdd.Accumulator[int64]) *rdd.RDD[string] {
		return rdd.MapPartitionsWithContext(rdd.Range(0, n, 8), func(tc *rdd.TaskContext, in iter.Seq[int]) iter.Seq[string] {
			return func(yield func(string) bool) {
				for v := range in {
					calls.Add(tc, 1)
					if !yield(fmt.Sprintf("value-%06d", v)) {
						return
					}
				}
			}
		}).Persist(level)
	})
	// onDisk is [0, n) (5 partitions) as strings, cached on disk.
	onDisk = rdd.Func(func(n int) *rdd.RDD[string] {
		return rdd.Map(rdd.Range(0, n, 5), func(v int) string { return fmt.Sprint(v) }).Persist(rdd.DiskOnly)
	})
)

func TestTextFileSplitsNeverBreakLines(t *testing.T) {
	s := startSession(t, rdd.Config{})
	dir := t.TempDir()
	var want []string
	for f := range 3 {
		var b strings.Builder
		for i := range 500 + f*37 {
			line := fmt.Sprintf("file%d line %d %s", f, i, strings.Repeat("x", i%53))
			want = append(want, line)
			b.WriteString(line)
			if i%7 == 0 {
				b.WriteString("\r") // CRLF line ends are trimmed too
			}
			b.WriteString("\n")
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("in-%d.txt", f)), []byte(b.String()), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "_SUCCESS"), []byte("ignored"), 0o644)
	os.WriteFile(filepath.Join(dir, "no-final-newline.txt"), []byte("a\nb"), 0o644)
	want = append(want, "a", "b")
	for _, parts := range []int{1, 2, 7, 64, 1000} {
		r := textLines(dir, parts, false)
		same(t, fmt.Sprintf("directory, %d parts", parts), collect(t, s, r), want)
		if parts > 1 && r.NumPartitions() < min(parts, 8) {
			t.Fatalf("asked for %d partitions, got %d", parts, r.NumPartitions())
		}
	}
	same(t, "glob", collect(t, s, textLines(filepath.Join(dir, "in-1*"), 3, false)), want[500:1037])
	same(t, "one file", collect(t, s, textLines(filepath.Join(dir, "no-final-newline.txt"), 4, false)), []string{"a", "b"})
	if _, err := rdd.Collect(context.Background(), s, textLines(filepath.Join(dir, "missing"), 1, false)); err == nil {
		t.Fatal("missing input: no error")
	}
}

func TestSaveAsTextFileCommitsAtomically(t *testing.T) {
	t.Run("local", func(t *testing.T) { saveAsTextFileCommitsAtomically(t, startSession(t, rdd.Config{})) })
	t.Run("cluster", func(t *testing.T) { saveAsTextFileCommitsAtomically(t, rdd.StartInProcessCluster(t, rdd.Config{}, 2)) })
}

func saveAsTextFileCommitsAtomically(t *testing.T, s *rdd.Session) {
	ctx := context.Background()
	base := t.TempDir()
	out := filepath.Join(base, "out")
	r := labelled(1000)
	if err := rdd.SaveAsTextFile(ctx, s, r, out); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(out, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	same(t, "output files", names, []string{"_SUCCESS", "part-00000", "part-00001", "part-00002", "part-00003"})
	back := collect(t, s, textLines(out, 2, false))
	if len(back) != 1000 || back[0] != "{0 v}" || back[999] != "{999 v}" {
		t.Fatalf("read back %d lines: %v ...", len(back), back[:min(3, len(back))])
	}
	if err := rdd.SaveAsTextFile(ctx, s, r, out); !errors.Is(err, rdd.ErrOutputExists) {
		t.Fatalf("existing output: %v", err)
	}
	// A job that fails after some partitions were written leaves nothing.
	failing := panicAt(1000, 900) // in the last of 5 partitions
	out2 := filepath.Join(base, "out2")
	if err := rdd.SaveAsTextFile(ctx, s, failing, out2); !errors.Is(err, rdd.ErrJobFailed) {
		t.Fatalf("failing job: %v", err)
	}
	left, _ := os.ReadDir(base)
	if len(left) != 1 || left[0].Name() != "out" {
		t.Fatalf("failed job left files: %v", left)
	}
}

func TestPersistLevels(t *testing.T) {
	ctx := context.Background()
	for _, level := range []rdd.StorageLevel{rdd.MemoryOnly, rdd.MemoryAndDisk, rdd.DiskOnly} {
		t.Run(level.String(), func(t *testing.T) {
			// Storage memory for about two of the eight partitions.
			s := startSession(t, rdd.Config{StorageMemory: 2 * 1000 * 40})
			calls := rdd.Counter(s, "computed")
			r := persistedValues(8000, level, calls)
			for range 3 {
				got := collect(t, s, r)
				if len(got) != 8000 || got[7999] != "value-007999" {
					t.Fatalf("got %d elements", len(got))
				}
			}
			computed := calls.Value()
			switch level {
			case rdd.MemoryOnly: // evicted partitions are recomputed
				if computed <= 8000 || computed >= 3*8000 {
					t.Fatalf("computed %d records", computed)
				}
			default: // kept on disk: computed once
				if computed != 8000 {
					t.Fatalf("computed %d records, want 8000", computed)
				}
			}
			rdd.Unpersist(s, r)
			collect(t, s, r)
			if calls.Value() != computed+8000 {
				t.Fatalf("after Unpersist: computed %d more", calls.Value()-computed)
			}
			_ = ctx
		})
	}
}

var lineageOf = rdd.Func(func(n int, words []string) *rdd.RDD[rdd.Pair[string, int]] {
	ws := rdd.Parallelize(words, n)
	ones := rdd.Map(ws, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	return rdd.ReduceByKey(ones, func(a, b int) int { return a + b }, 2)
})

// Invoking a Func twice builds the same lineage shape; datasets built
// outside a Func are still usable locally.
func TestFuncInvocations(t *testing.T) {
	s := startSession(t, rdd.Config{})
	a, b := lineageOf(3, []string{"x", "y", "x"}), lineageOf(3, []string{"x", "y", "x"})
	if a.ID() == b.ID() {
		t.Fatal("two invocations share datasets")
	}
	if !strings.HasPrefix(a.String(), fmt.Sprintf("RDD %d (reduceByKey at io_test.go:", a.ID())) {
		t.Fatalf("call site: %s", a)
	}
	got := sortedBy(collect(t, s, a), func(x, y rdd.Pair[string, int]) int { return strings.Compare(x.Key, y.Key) })
	same(t, "word count", got, []rdd.Pair[string, int]{{"x", 2}, {"y", 1}})
	defer func() {
		if recover() == nil {
			t.Fatal("rdd.Func accepted a function that returns no dataset")
		}
	}()
	rdd.Func(func(int) int { return 0 })
}

func TestEventLogAndProgress(t *testing.T) {
	var progress bytes.Buffer
	dir := t.TempDir()
	s := startSession(t, rdd.Config{EventLogDir: dir, ShowConsoleProgress: true, Progress: &progress})
	got := collect(t, s, demo(10_000, 10))
	checkDemo(t, 10_000, got)
	path := s.EventLogPath()
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rdd.EventKind]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e rdd.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("bad event line %q: %v", line, err)
		}
		counts[e.Kind]++
		if e.Kind == rdd.TaskEnd && (e.Metrics == nil || e.Metrics.Duration <= 0) {
			t.Fatalf("task end without metrics: %s", line)
		}
	}
	// One job (zipWithIndex of a range counts nothing), its map and
	// reduce stages.
	want := map[rdd.EventKind]int{rdd.AppStart: 1, rdd.JobStart: 1, rdd.JobEnd: 1, rdd.StageSubmitted: 2, rdd.StageCompleted: 2,
		rdd.TaskStart: 20, rdd.TaskEnd: 20}
	for k, n := range want {
		if counts[k] != n {
			t.Fatalf("%d %s events, want %d (all: %v)", counts[k], k, n, counts)
		}
	}
	if !strings.Contains(progress.String(), "[Stage 1:") || !strings.Contains(progress.String(), "/ 10]") {
		t.Fatalf("progress line: %q", progress.String())
	}
}

func TestConfigSet(t *testing.T) {
	var c rdd.Config
	for k, v := range map[string]string{
		"spark.master": "local[3]", "spark.task.maxFailures": "8", "spark.shuffle.memory": "16m",
		"spark.default.parallelism": "12", "spark.shuffle.spill": "true", "spark.storage.memory": "2g",
	} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if c.Master != "local[3]" || c.TaskMaxFailures != 8 || c.ShuffleMemory != 16<<20 || c.DefaultParallelism != 12 ||
		c.StorageMemory != 2<<30 {
		t.Fatalf("%+v", c)
	}
	// spark.locality.wait: Spark's time syntax (plain number: ms), 0 is
	// "no waiting".
	for v, want := range map[string]time.Duration{"5s": 5 * time.Second, "250": 250 * time.Millisecond, "0": -1} {
		if err := c.Set("spark.locality.wait", v); err != nil || c.LocalityWait != want {
			t.Fatalf("spark.locality.wait=%s: %v, %v; want %v", v, c.LocalityWait, err, want)
		}
	}
	// spark.rdd.taskPrefetch (ours): 0 is none (the field's 0 is the default).
	for v, want := range map[string]int{"3": 3, "1": 1, "0": -1} {
		if err := c.Set("spark.rdd.taskPrefetch", v); err != nil || c.TaskPrefetch != want {
			t.Fatalf("spark.rdd.taskPrefetch=%s: %v, %v; want %v", v, c.TaskPrefetch, err, want)
		}
	}
	for _, bad := range [][2]string{{"spark.nope", "1"}, {"spark.task.maxFailures", "x"}, {"spark.shuffle.memory", "-1"},
		{"spark.locality.wait", "-3s"}, {"spark.locality.wait", "soon"}, {"spark.rdd.taskPrefetch", "-1"}, {"spark.rdd.taskPrefetch", "x"}} {
		if err := c.Set(bad[0], bad[1]); !errors.Is(err, rdd.ErrConfig) {
			t.Fatalf("Set(%q, %q): %v", bad[0], bad[1], err)
		}
	}
	for _, m := range []string{"yarn", "local[0]", "local[x]"} {
		if _, err := rdd.Start(rdd.Config{Master: m, LocalDir: t.TempDir()}); !errors.Is(err, rdd.ErrConfig) {
			t.Fatalf("master %q: %v", m, err)
		}
	}
	s := startSession(t, rdd.Config{Master: "local[3]", DefaultParallelism: 5})
	r := intsOf([]int{1, 2, 3}, 0)
	if got := collect(t, s, r); !slices.Equal(got, []int{1, 2, 3}) || r.NumPartitions() != 5 {
		t.Fatalf("default parallelism: %v in %d partitions", got, r.NumPartitions())
	}
}

// Disk-cached blocks deleted behind the cache's back are recomputed from
// lineage.
func TestLostDiskBlocksAreRecomputed(t *testing.T) {
	s := startSession(t, rdd.Config{})
	r := onDisk(5000)
	first := collect(t, s, r)
	if n := rdd.DeleteCachedBlocks(s); n != 5 {
		t.Fatalf("deleted %d blocks", n)
	}
	same(t, "after losing the blocks", collect(t, s, r), first)
	if st := s.Stats(); st.CacheMisses != 10 || st.TasksFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
	same(t, "from the rebuilt cache", collect(t, s, r), first)
	if st := s.Stats(); st.CacheHits != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTextFileGzip(t *testing.T) {
	s := startSession(t, rdd.Config{})
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	var want []string
	for i := range 3000 {
		want = append(want, fmt.Sprintf("line %d", i))
		fmt.Fprintf(zw, "line %d\r\n", i)
	}
	zw.Close()
	os.WriteFile(filepath.Join(dir, "a.txt.gz"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("plain\n"), 0o644)
	r := textLines(dir, 8, false)
	same(t, "gzip + plain", collect(t, s, r), append(want, "plain"))
	os.WriteFile(filepath.Join(dir, "c.gz"), []byte("not gzip"), 0o644)
	if _, err := rdd.Collect(context.Background(), s, textLines(filepath.Join(dir, "c.gz"), 1, false)); err == nil ||
		!strings.Contains(err.Error(), "c.gz") {
		t.Fatalf("bad gzip: %v", err)
	}
}
