package shuffle

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"sync/atomic"
)

var tmpSeq atomic.Int64

// segment is one reducer's bytes inside a spill file.
type segment struct{ off, n int64 }

type spillFile struct {
	f    *os.File
	segs []segment // by reducer
}

// Writer buffers one map task's encoded records per reducer and commits them
// as a map output. Not safe for concurrent use.
type Writer struct {
	store   *Store
	shuffle int
	mapID   int
	bufs    [][]byte
	size    int64
	budget  int64
	spills  []spillFile
	spilled int64 // bytes written to spill files
	done    bool
}

// NewWriter starts the output of map task mapID of a shuffle with reducers
// partitions. budget bounds the bytes buffered in memory (at least 1 KiB is
// used).
func (s *Store) NewWriter(shuffle, mapID, reducers int, budget int64) *Writer {
	bufs, _ := s.bufPool.Get().([][]byte)
	if cap(bufs) < reducers {
		bufs = make([][]byte, reducers)
	}
	bufs = bufs[:reducers]
	return &Writer{store: s, shuffle: shuffle, mapID: mapID, bufs: bufs, budget: max(budget, 1024)}
}

// Buf returns reducer r's buffer, to append encoded records to; give it back
// with Put.
func (w *Writer) Buf(r int) []byte { return w.bufs[r] }

// Put stores reducer r's buffer, grown by added bytes, and spills when the
// buffers exceed the budget.
func (w *Writer) Put(r int, b []byte, added int) error {
	w.bufs[r] = b
	w.size += int64(added)
	if w.size > w.budget {
		return w.spill()
	}
	return nil
}

// SpilledBytes reports the bytes this writer has spilled so far.
func (w *Writer) SpilledBytes() int64 { return w.spilled }

func (w *Writer) tmpName(kind string) string {
	return w.store.base(w.shuffle, w.mapID) + "." + kind + ".tmp" + strconv.FormatInt(tmpSeq.Add(1), 10)
}

func (w *Writer) spill() error {
	f, err := os.Create(w.tmpName("spill"))
	if err != nil {
		return fmt.Errorf("shuffle: spill: %w", err)
	}
	os.Remove(f.Name()) // unlinked: the file lives while it is open
	sf := spillFile{f: f, segs: make([]segment, len(w.bufs))}
	bw := bufio.NewWriterSize(w.store.sink(f), 1<<16)
	var off int64
	for r, b := range w.bufs {
		if _, err := bw.Write(b); err != nil {
			f.Close()
			return fmt.Errorf("shuffle: spill: %w", err)
		}
		sf.segs[r] = segment{off, int64(len(b))}
		off += int64(len(b))
		w.bufs[r] = b[:0]
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("shuffle: spill: %w", err)
	}
	w.spills = append(w.spills, sf)
	w.spilled += off
	w.size = 0
	return nil
}

// Commit writes the map output and returns the size of each reducer's block.
func (w *Writer) Commit() (sizes []int64, err error) {
	defer w.Abort()
	tmp := w.tmpName("out")
	sizes, err = w.writeData(tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	s := w.store
	s.forget([2]int{w.shuffle, w.mapID})
	err = os.Rename(tmp, s.Path(w.shuffle, w.mapID))
	s.changed() // after the rename: a peer's check from now on sees the new file
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("shuffle: commit: %w", err)
	}
	return sizes, nil
}

// writeData writes the blocks, then the index, then the footer.
func (w *Writer) writeData(name string) ([]int64, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("shuffle: commit: %w", err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(w.store.sink(f), 1<<16)
	sizes := make([]int64, len(w.bufs))
	index := make([]byte, 0, len(w.bufs)*indexEntrySize)
	var off int64
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(bw, crc)
	for r, b := range w.bufs {
		crc.Reset()
		var n int64
		for _, sp := range w.spills {
			seg := sp.segs[r]
			if err := copySegment(out, sp.f, seg.off, seg.n); err != nil {
				return nil, fmt.Errorf("shuffle: commit: %w", err)
			}
			n += seg.n
		}
		if _, err := out.Write(b); err != nil {
			return nil, fmt.Errorf("shuffle: commit: %w", err)
		}
		n += int64(len(b))
		sizes[r] = n
		index = binary.LittleEndian.AppendUint64(index, uint64(off))
		index = binary.LittleEndian.AppendUint64(index, uint64(n))
		index = binary.LittleEndian.AppendUint32(index, crc.Sum32())
		off += n
	}
	index = binary.LittleEndian.AppendUint64(index, uint64(len(w.bufs)))
	index = binary.LittleEndian.AppendUint32(index, footerMagic)
	if _, err := bw.Write(index); err != nil {
		return nil, fmt.Errorf("shuffle: commit: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("shuffle: commit: %w", err)
	}
	return sizes, f.Close()
}

// Abort releases the writer's spill files; it is safe after Commit.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	for _, sp := range w.spills {
		sp.f.Close()
	}
	// Keep the buffers' capacity for the next map task, within reason.
	var kept int
	for i, b := range w.bufs {
		if kept += cap(b); kept > 64<<20 {
			w.bufs[i] = nil
		} else {
			w.bufs[i] = b[:0]
		}
	}
	w.store.bufPool.Put(w.bufs)
	w.spills, w.bufs = nil, nil
}
