package recordio_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/mesoproject/meso/api/recordio"
)

// referenceParse is a naive reading of the format, to compare the Reader
// against: records until the first problem, and whether the stream ended
// cleanly.
func referenceParse(in []byte, max int) (recs [][]byte, clean bool) {
	for len(in) > 0 {
		nl := bytes.IndexByte(in, '\n')
		if nl < 0 {
			return recs, false
		}
		prefix := in[:nl]
		if len(prefix) == 0 || len(prefix) > 20 {
			return recs, false
		}
		for _, c := range prefix {
			if c < '0' || c > '9' {
				return recs, false
			}
		}
		n, err := strconv.ParseUint(string(prefix), 10, 64)
		if err != nil || n > uint64(max) || n > uint64(len(in)-nl-1) {
			return recs, false
		}
		recs = append(recs, in[nl+1:nl+1+int(n)])
		in = in[nl+1+int(n):]
	}
	return recs, true
}

func FuzzRecordIOReader(f *testing.F) {
	for _, s := range []string{
		"", "5\nhello", "5\nhello6\nworld!", "0\n", "003\nabc", "\n", "+1\na", "-1\na",
		"1\r\na", "12", "5\nhel", "99999999999999999999\n", "18446744073709551615\n",
		"000000000000000000001\nx", "65\n" + string(bytes.Repeat([]byte("x"), 65)),
	} {
		f.Add([]byte(s))
	}
	const max = 64
	f.Fuzz(func(t *testing.T, in []byte) {
		want, clean := referenceParse(in, max)
		r := recordio.NewReader(iotest.HalfReader(bytes.NewReader(in)), max)
		var got [][]byte
		var err error
		for {
			var rec []byte
			if rec, err = r.ReadRecord(); err != nil {
				break
			}
			got = append(got, bytes.Clone(rec))
		}
		if clean != (err == io.EOF) {
			t.Fatalf("reference clean=%v, reader error %v", clean, err)
		}
		if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) &&
			!errors.Is(err, recordio.ErrMalformedPrefix) && !errors.Is(err, recordio.ErrRecordTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d records, reference has %d", len(got), len(want))
		}
		// Re-framing what was read yields the same records.
		var buf bytes.Buffer
		w := recordio.NewWriter(&buf)
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("record %d = %q, reference %q", i, got[i], want[i])
			}
			if err := w.WriteRecord(got[i]); err != nil {
				t.Fatal(err)
			}
		}
		again, clean := referenceParse(buf.Bytes(), max)
		if !clean || len(again) != len(got) {
			t.Fatalf("re-framed stream does not parse back: %q", buf.Bytes())
		}
	})
}
