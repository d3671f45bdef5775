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
	// After the rename: an open or a peer's check from now on sees the
	// new file, one that raced the rename opens again.
	s.replace([2]int{w.shuffle, w.mapID})
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
	var sizes []int64
	if len(w.spills) == 0 {
		sizes, err = w.writeBuffers(w.store.sink(f))
	} else {
		sizes, err = w.writeMerged(w.store.sink(f))
	}
	if err != nil {
		return nil, fmt.Errorf("shuffle: commit: %w", err)
	}
	return sizes, f.Close()
}

// writeBuffers writes a map output that nothing was spilled of: the
// index is computed from the reducers' buffers, then the buffers and the
// index go to out as they are (on a file, one writev per IOV_MAX
// buffers), without a copy into a write buffer.
func (w *Writer) writeBuffers(out io.Writer) ([]int64, error) {
	sizes := make([]int64, len(w.bufs))
	index := make([]byte, 0, len(w.bufs)*indexEntrySize+footerSize)
	iov := make([][]byte, 0, len(w.bufs)+1)
	var off int64
	for r, b := range w.bufs {
		n := int64(len(b))
		sizes[r] = n
		index = appendIndexEntry(index, off, n, crc32.Checksum(b, castagnoli))
		off += n
		if n > 0 {
			iov = append(iov, b)
		}
	}
	index = appendFooter(index, len(w.bufs))
	return sizes, writeAll(out, append(iov, index))
}

// writeMerged writes a map output with spills: each reducer's segments
// of the spill files, then its buffer, through a write buffer.
func (w *Writer) writeMerged(dst io.Writer) ([]int64, error) {
	bw := bufio.NewWriterSize(dst, 1<<16)
	sizes := make([]int64, len(w.bufs))
	index := make([]byte, 0, len(w.bufs)*indexEntrySize+footerSize)
	var off int64
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(bw, crc)
	for r, b := range w.bufs {
		crc.Reset()
		var n int64
		for _, sp := range w.spills {
			seg := sp.segs[r]
			if err := copySegment(out, sp.f, seg.off, seg.n); err != nil {
				return nil, err
			}
			n += seg.n
		}
		if _, err := out.Write(b); err != nil {
			return nil, err
		}
		n += int64(len(b))
		sizes[r] = n
		index = appendIndexEntry(index, off, n, crc.Sum32())
		off += n
	}
	if _, err := bw.Write(appendFooter(index, len(w.bufs))); err != nil {
		return nil, err
	}
	return sizes, bw.Flush()
}

func appendIndexEntry(index []byte, off, n int64, sum uint32) []byte {
	index = binary.LittleEndian.AppendUint64(index, uint64(off))
	index = binary.LittleEndian.AppendUint64(index, uint64(n))
	return binary.LittleEndian.AppendUint32(index, sum)
}

func appendFooter(index []byte, reducers int) []byte {
	index = binary.LittleEndian.AppendUint64(index, uint64(reducers))
	return binary.LittleEndian.AppendUint32(index, footerMagic)
}

// writeAll writes bufs to out in order: gathered (writeFile) when out is
// a file, one Write each otherwise (a test's faulty writer).
func writeAll(out io.Writer, bufs [][]byte) error {
	if f, ok := out.(*os.File); ok {
		return writeFile(f, bufs)
	}
	for _, b := range bufs {
		if _, err := out.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// advance drops the first n bytes of bufs (a short gathered write's).
func advance(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
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
