package shuffle

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// Sorter sorts records of type R within a memory budget: records are kept in
// memory until their estimated size exceeds the budget, then sorted and
// written to a temporary run file; Sorted merges the runs. Not safe for
// concurrent use.
type Sorter[R any] struct {
	dir     string
	budget  int64
	cmp     func(a, b R) int
	enc     func(dst []byte, r R) []byte
	dec     func(src []byte) (R, error)
	mem     []R
	size    int64
	runs    []*os.File
	spilled int64
	scratch []byte
}

// NewSorter returns a sorter that spills into dir. cmp orders records; enc
// and dec convert one record to and from bytes.
func NewSorter[R any](dir string, budget int64, cmp func(a, b R) int,
	enc func(dst []byte, r R) []byte, dec func(src []byte) (R, error)) *Sorter[R] {
	return &Sorter[R]{dir: dir, budget: max(budget, 1024), cmp: cmp, enc: enc, dec: dec}
}

// Add adds a record whose in-memory size is estimated at size bytes.
func (s *Sorter[R]) Add(r R, size int64) error {
	s.mem = append(s.mem, r)
	s.size += size
	if s.size > s.budget {
		return s.Spill()
	}
	return nil
}

// Spilled reports whether any run was written, and how many bytes.
func (s *Sorter[R]) Spilled() (bool, int64) { return len(s.runs) > 0, s.spilled }

// Len returns the number of records held in memory.
func (s *Sorter[R]) Len() int { return len(s.mem) }

// Spill writes the in-memory records as a sorted run.
func (s *Sorter[R]) Spill() error {
	if len(s.mem) == 0 {
		return nil
	}
	slices.SortStableFunc(s.mem, s.cmp)
	f, err := os.CreateTemp(s.dir, "run-*.tmp")
	if err != nil {
		return fmt.Errorf("shuffle: spill run: %w", err)
	}
	os.Remove(f.Name()) // unlinked: lives while open
	w := bufio.NewWriterSize(f, 1<<16)
	for _, r := range s.mem {
		s.scratch = s.enc(s.scratch[:0], r)
		var hdr [binary.MaxVarintLen64]byte
		n := binary.PutUvarint(hdr[:], uint64(len(s.scratch)))
		w.Write(hdr[:n])
		w.Write(s.scratch)
		s.spilled += int64(n + len(s.scratch))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("shuffle: spill run: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("shuffle: spill run: %w", err)
	}
	s.runs = append(s.runs, f)
	clear(s.mem)
	s.mem, s.size = s.mem[:0], 0
	return nil
}

// Close releases the run files.
func (s *Sorter[R]) Close() {
	for _, f := range s.runs {
		f.Close()
	}
	s.runs, s.mem = nil, nil
}

// Sorted calls yield for every record in order and then releases the sorter.
// It stops early, returning nil, when yield returns false.
func (s *Sorter[R]) Sorted(yield func(R) bool) error {
	defer s.Close()
	slices.SortStableFunc(s.mem, s.cmp)
	if len(s.runs) == 0 {
		for _, r := range s.mem {
			if !yield(r) {
				return nil
			}
		}
		return nil
	}
	h := &mergeHeap[R]{cmp: s.cmp}
	for i, f := range s.runs {
		src := &runReader[R]{r: bufio.NewReaderSize(f, 1<<16), dec: s.dec, order: i}
		if err := h.push(src); err != nil {
			return err
		}
	}
	if len(s.mem) > 0 {
		if err := h.push(&runReader[R]{mem: s.mem, order: len(s.runs)}); err != nil {
			return err
		}
	}
	for h.Len() > 0 {
		src := h.srcs[0]
		if !yield(src.cur) {
			return nil
		}
		ok, err := src.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

// runReader yields the records of one run, from a file or from memory.
type runReader[R any] struct {
	r     *bufio.Reader
	dec   func([]byte) (R, error)
	mem   []R
	buf   []byte
	cur   R
	order int
}

func (rr *runReader[R]) next() (bool, error) {
	if rr.r == nil {
		if len(rr.mem) == 0 {
			return false, nil
		}
		rr.cur, rr.mem = rr.mem[0], rr.mem[1:]
		return true, nil
	}
	n, err := binary.ReadUvarint(rr.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("shuffle: read run: %w", err)
	}
	if uint64(cap(rr.buf)) < n {
		rr.buf = make([]byte, n)
	}
	rr.buf = rr.buf[:n]
	if _, err := io.ReadFull(rr.r, rr.buf); err != nil {
		return false, fmt.Errorf("shuffle: read run: %w", err)
	}
	rr.cur, err = rr.dec(rr.buf)
	if err != nil {
		return false, fmt.Errorf("shuffle: read run: %w", err)
	}
	return true, nil
}

type mergeHeap[R any] struct {
	srcs []*runReader[R]
	cmp  func(a, b R) int
}

func (h *mergeHeap[R]) push(src *runReader[R]) error {
	ok, err := src.next()
	if err != nil || !ok {
		return err
	}
	heap.Push(h, src)
	return nil
}

func (h *mergeHeap[R]) Len() int { return len(h.srcs) }
func (h *mergeHeap[R]) Less(i, j int) bool {
	if c := h.cmp(h.srcs[i].cur, h.srcs[j].cur); c != 0 {
		return c < 0
	}
	return h.srcs[i].order < h.srcs[j].order
}
func (h *mergeHeap[R]) Swap(i, j int) { h.srcs[i], h.srcs[j] = h.srcs[j], h.srcs[i] }
func (h *mergeHeap[R]) Push(x any)    { h.srcs = append(h.srcs, x.(*runReader[R])) }
func (h *mergeHeap[R]) Pop() any {
	x := h.srcs[len(h.srcs)-1]
	h.srcs = h.srcs[:len(h.srcs)-1]
	return x
}
