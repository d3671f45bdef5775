package rdd_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mesoproject/meso/rdd"
)

// textLines reads path's lines, upper-cased when upper.
var textLines = rdd.Func(func(path string, minParts int, upper bool) *rdd.RDD[string] {
	lines := rdd.TextFile(path, minParts)
	if upper {
		return rdd.Map(lines, strings.ToUpper)
	}
	return lines
})

// linesOf is the reference: the lines of a file's content, "\n" or "\r\n"
// ended, the last one possibly without an end.
func linesOf(content string) []string {
	if content == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// Random files (empty lines, CRLF, long lines, no final newline, empty
// files) read with many split counts give exactly the lines plain Go finds,
// in order: no line is lost, doubled or cut at a split boundary.
func TestTextFileMatchesPlainGo(t *testing.T) {
	s := startSession(t, rdd.Config{})
	rng := rand.New(rand.NewPCG(3, 9))
	for round := range 12 {
		dir := t.TempDir()
		var want []string
		for f := range 1 + rng.IntN(4) {
			var b strings.Builder
			for range rng.IntN(60) {
				switch rng.IntN(6) {
				case 0: // empty line
				case 1:
					b.WriteString(strings.Repeat("L", 70_000+rng.IntN(10))) // longer than the read buffer
				default:
					b.WriteString(strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(40)))
				}
				if rng.IntN(3) == 0 {
					b.WriteString("\r")
				}
				b.WriteString("\n")
			}
			if rng.IntN(2) == 0 {
				b.WriteString("tail without newline")
			}
			content := b.String()
			want = append(want, linesOf(content)...)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt", f)), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, parts := range []int{1, 2, 3, 5, 17, 200} {
			got := collect(t, s, textLines(dir, parts, false))
			same(t, fmt.Sprintf("round %d, %d parts", round, parts), got, want)
		}
	}
}

// Split boundaries exactly at line starts, inside a line, and between the
// "\r" and "\n" of a line end.
func TestTextFileSplitBoundaries(t *testing.T) {
	s := startSession(t, rdd.Config{})
	dir := t.TempDir()
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %03d\r\n", i) // 10 bytes: splits of 100 bytes start lines, 50 start inside
	}
	path := filepath.Join(dir, "even.txt")
	os.WriteFile(path, []byte(b.String()), 0o644)
	want := linesOf(b.String())
	for _, parts := range []int{1, 4, 10, 20, 100, 111, 1000} {
		same(t, fmt.Sprintf("%d parts", parts), collect(t, s, textLines(path, parts, false)), want)
	}
}

// Empty inputs: an empty file, an empty gzip file and an empty directory
// are empty datasets; a missing file fails every job that needs it.
func TestTextFileEmptyAndMissing(t *testing.T) {
	s := startSession(t, rdd.Config{})
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "empty.gz"), nil, 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Close() // a valid gzip stream of nothing
	os.WriteFile(filepath.Join(dir, "nothing.gz"), gz.Bytes(), 0o644)
	for _, p := range []string{dir, filepath.Join(dir, "empty.gz"), filepath.Join(dir, "*.txt"), t.TempDir()} {
		n, err := rdd.Count(ctx, s, textLines(p, 3, false))
		if err != nil || n != 0 {
			t.Fatalf("%s: %d lines, %v", p, n, err)
		}
	}
	missing := textLines(filepath.Join(dir, "missing.txt"), 2, true)
	for attempt := range 2 { // the second job must fail too, not see an empty dataset
		if _, err := rdd.Collect(ctx, s, missing); err == nil || !strings.Contains(err.Error(), "missing.txt") {
			t.Fatalf("job %d on a missing file: %v", attempt, err)
		}
	}
	if _, err := rdd.Count(ctx, s, textLines(filepath.Join(dir, "*.csv"), 1, false)); err == nil {
		t.Fatal("a glob matching nothing: no error")
	}
}
