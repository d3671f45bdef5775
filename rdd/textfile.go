package rdd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mesoproject/meso/rdd/internal/task"
)

// ErrOutputExists is returned by SaveAsTextFile when the output directory
// already exists.
var ErrOutputExists = errors.New("rdd: output directory exists")

// maxSplit bounds a split's size, like Hadoop's local block size.
const maxSplit = 32 << 20

// TextFile reads the lines of a file, of the files of a directory (except
// names starting with "_" or "."), or of the files matching a glob, in
// name order. Files are split into partitions by size, at least minParts of
// them when the data allows; a line is never split: it belongs to the
// partition where it starts. Files named *.gz are decompressed, one
// partition each (gzip cannot be split). Line ends ("\n" or "\r\n") are
// removed. The files are listed when the first job needs the partitions;
// an empty directory is an empty dataset, while a missing path or a glob
// matching nothing fails the job.
func TextFile(path string, minParts int) *RDD[string] {
	n := newNode("textFile")
	n.content = func(h io.Writer) { fmt.Fprintf(h, "%q %d", path, minParts) } // quoted: ("a1", 2) is not ("a", 12)
	n.resolve = func(env resolveEnv) resolution {
		splits, err := listSplits(path, positive(minParts, min(env.def.source, 2)))
		return resolution{parts: len(splits), splits: splits, err: err}
	}
	return newRDD(n, func(tc *TaskContext, p int, yield func(string) bool) {
		if err := readSplit(tc, tc.splits(n)[p], yield); err != nil {
			tc.fail(err)
		}
	})
}

func listFiles(path string) ([]string, error) {
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("rdd: textFile %q: %w", path, err)
		}
		var files []string
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
				files = append(files, f)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("rdd: textFile %q: no file matches", path)
		}
		return files, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("rdd: textFile: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("rdd: textFile: %w", err)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), "_") && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	return files, nil
}

func listSplits(path string, minParts int) ([]task.Split, error) {
	files, err := listFiles(path)
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	sizes := make([]int64, len(files))
	var total int64
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("rdd: textFile: %w", err)
		}
		sizes[i] = st.Size()
		total += sizes[i]
	}
	goal := max(total/int64(minParts), 1)
	size := min(goal, maxSplit)
	var splits []task.Split
	for i, f := range files {
		if sizes[i] == 0 || strings.HasSuffix(f, ".gz") {
			// Empty, or gzip (not splittable): one split for the whole file.
			splits = append(splits, task.Split{Path: f, Start: 0, End: sizes[i]})
			continue
		}
		for off := int64(0); off < sizes[i]; off += size {
			end := min(off+size, sizes[i])
			if sizes[i]-end < size/10 { // fold a small tail into this split
				end = sizes[i]
			}
			splits = append(splits, task.Split{Path: f, Start: off, End: end})
			if end == sizes[i] {
				break
			}
		}
	}
	return splits, nil // none for an empty directory: an empty dataset, as in Spark
}

// readSplit yields the lines that start in [start, end).
func readSplit(tc *TaskContext, sp task.Split, yield func(string) bool) error {
	f, err := os.Open(sp.Path)
	if err != nil {
		return fmt.Errorf("rdd: textFile: %w", err)
	}
	defer f.Close()
	if strings.HasSuffix(sp.Path, ".gz") {
		return readGzip(tc, sp.Path, f, yield)
	}
	pos := sp.Start
	if pos > 0 {
		pos-- // a line starting exactly at start is ours: skip through the newline before it
	}
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		return fmt.Errorf("rdd: textFile: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<16)
	if sp.Start > 0 {
		skipped, err := br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			pos += int64(len(skipped))
			skipped, err = br.ReadSlice('\n')
		}
		pos += int64(len(skipped))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rdd: textFile %s: %w", sp.Path, err)
		}
	}
	var long []byte
	for pos < sp.End && tc.alive() {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("rdd: textFile %s: %w", sp.Path, err)
		}
		if len(line) == 0 {
			return nil
		}
		pos += int64(len(line))
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !yield(string(line)) || err == io.EOF {
			return nil
		}
	}
	return nil
}

// readGzip yields every line of a gzip-compressed file.
func readGzip(tc *TaskContext, name string, f io.Reader, yield func(string) bool) error {
	zr, err := gzip.NewReader(f)
	if err == io.EOF {
		return nil // an empty file: no lines
	}
	if err != nil {
		return fmt.Errorf("rdd: textFile %s: %w", name, err)
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() && tc.alive() {
		if !yield(strings.TrimSuffix(sc.Text(), "\r")) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("rdd: textFile %s: %w", name, err)
	}
	return nil
}

// SaveAsTextFile writes a dataset as text, one element per line (strings as
// they are, other types with fmt's %v), into dir as part-00000, part-00001
// ... and an empty _SUCCESS file. dir must not exist. The output is
// committed atomically: tasks write into a staging directory beside dir,
// which is renamed to dir when the job succeeds and removed when it fails,
// so a failed job leaves no partial output.
func SaveAsTextFile[T any](ctx context.Context, s *Session, r *RDD[T], dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%w: %s", ErrOutputExists, dir)
	}
	var tag [6]byte
	rand.Read(tag[:])
	staging := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".staging-"+hex.EncodeToString(tag[:]))
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return fmt.Errorf("rdd: save: %w", err)
	}
	act := newAction(resultSave, callSite(), nil, []any{staging}, decodeNothing)
	err := foreachPartition(ctx, s, r, act, func(tc *TaskContext, in iter.Seq[T]) error {
		return writePart(tc, staging, in)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(staging, "_SUCCESS"), nil, 0o644)
	}
	if err == nil {
		err = os.Rename(staging, dir)
	}
	if err != nil {
		os.RemoveAll(staging)
		return fmt.Errorf("rdd: save %s: %w", dir, err)
	}
	return nil
}

// writePart writes one partition to an attempt file, then renames it to its
// part name (task commit; a retry produces the same content).
func writePart[T any](tc *TaskContext, dir string, in iter.Seq[T]) error {
	final := filepath.Join(dir, fmt.Sprintf("part-%05d", tc.partition))
	tmp := fmt.Sprintf("%s.attempt-%d", final, tc.attempt)
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	for v := range in {
		if s, ok := any(v).(string); ok {
			w.WriteString(s)
		} else {
			fmt.Fprint(w, v)
		}
		w.WriteByte('\n')
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && tc.err == nil {
		return os.Rename(tmp, final)
	}
	os.Remove(tmp)
	if err == nil {
		err = tc.err
	}
	return err
}
