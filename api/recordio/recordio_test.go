package recordio_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/recordio"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// readAll reads records until an error and returns copies of them.
func readAll(r *recordio.Reader) ([]string, error) {
	var recs []string
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return recs, err
		}
		recs = append(recs, string(rec))
	}
}

func TestReaderStreams(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
		err  error // io.EOF for a clean end
	}{
		{name: "empty stream", in: "", err: io.EOF},
		{name: "one record", in: "5\nhello", want: []string{"hello"}, err: io.EOF},
		{name: "two records", in: "5\nhello6\nworld!", want: []string{"hello", "world!"}, err: io.EOF},
		{name: "zero length", in: "0\n3\nabc0\n", want: []string{"", "abc", ""}, err: io.EOF},
		{name: "leading zeros", in: "003\nabc", want: []string{"abc"}, err: io.EOF},
		{name: "newline inside data", in: "3\n\n\n\n", want: []string{"\n\n\n"}, err: io.EOF},
		{name: "at the limit", in: "4\nabcd", max: 4, want: []string{"abcd"}, err: io.EOF},
		{name: "over the limit", in: "5\nabcde", max: 4, err: recordio.ErrRecordTooLarge},
		{name: "huge prefix", in: "18446744073709551615\n", err: recordio.ErrRecordTooLarge},
		{name: "overflow", in: "18446744073709551616\n", err: recordio.ErrMalformedPrefix},
		{name: "twenty nines", in: "99999999999999999999\n", err: recordio.ErrMalformedPrefix},
		{name: "too many digits", in: "000000000000000000001\nx", err: recordio.ErrMalformedPrefix},
		{name: "empty prefix", in: "\nabc", err: recordio.ErrMalformedPrefix},
		{name: "plus sign", in: "+3\nabc", err: recordio.ErrMalformedPrefix},
		{name: "minus sign", in: "-3\nabc", err: recordio.ErrMalformedPrefix},
		{name: "space", in: " 3\nabc", err: recordio.ErrMalformedPrefix},
		{name: "carriage return", in: "3\r\nabc", err: recordio.ErrMalformedPrefix},
		{name: "letters", in: "abc\n", err: recordio.ErrMalformedPrefix},
		{name: "error after good record", in: "1\nax\n", want: []string{"a"}, err: recordio.ErrMalformedPrefix},
		{name: "truncated prefix", in: "12", err: io.ErrUnexpectedEOF},
		{name: "truncated data", in: "5\nhel", err: io.ErrUnexpectedEOF},
		{name: "prefix without data", in: "5\n", err: io.ErrUnexpectedEOF},
		{name: "truncated second record", in: "1\na2\nb", want: []string{"a"}, err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One-byte reads exercise every boundary.
			r := recordio.NewReader(iotest.OneByteReader(strings.NewReader(tt.in)), tt.max)
			got, err := readAll(r)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Fatalf("records = %q, want %q", got, tt.want)
			}
			// Errors are sticky.
			if _, err2 := r.ReadRecord(); !errors.Is(err2, tt.err) {
				t.Fatalf("second error = %v, want %v", err2, tt.err)
			}
		})
	}
}

func TestReaderErrorMessages(t *testing.T) {
	for in, want := range map[string]string{
		"+3\nabc":                 "recordio: malformed length prefix: unexpected byte '+'",
		"\nabc":                   "recordio: malformed length prefix: empty",
		"70000000\n":              "recordio: record too large: 70000000 bytes, limit 67108864",
		"000000000000000000001\n": "recordio: malformed length prefix: more than 20 digits",
	} {
		_, err := recordio.NewReader(strings.NewReader(in), 0).ReadRecord()
		if err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestReaderHugePrefixDoesNotAllocate(t *testing.T) {
	in := "18446744073709551615\n"
	allocs := testing.AllocsPerRun(20, func() {
		r := recordio.NewReader(strings.NewReader(in), 0)
		if _, err := r.ReadRecord(); !errors.Is(err, recordio.ErrRecordTooLarge) {
			t.Fatal(err)
		}
	})
	// The bufio.Reader, the Reader, the strings.Reader and the error:
	// nothing proportional to the announced length.
	if allocs > 10 {
		t.Fatalf("%v allocations", allocs)
	}
}

// A record larger than the first allocation step, announced but cut short,
// fails without the reader having allocated all of it; a complete one reads
// back intact through small reads.
func TestReaderLargeRecord(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+7)
	framed := recordio.Encode(data)
	r := recordio.NewReader(iotest.HalfReader(bytes.NewReader(framed)), 0)
	got, err := r.ReadRecord()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("large record: err %v, equal %v", err, bytes.Equal(got, data))
	}
	r = recordio.NewReader(bytes.NewReader(framed[:len(framed)/2]), 0)
	if _, err := r.ReadRecord(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated large record: %v", err)
	}
}

func TestReaderReusesBuffer(t *testing.T) {
	r := recordio.NewReader(strings.NewReader("3\nabc3\nxyz"), 0)
	a, _ := r.ReadRecord()
	b, _ := r.ReadRecord()
	if &a[0] != &b[0] || string(a) != "xyz" {
		t.Fatalf("second record did not reuse the first one's buffer: %q %q", a, b)
	}
}

func TestReaderReadErrorPassesThrough(t *testing.T) {
	boom := errors.New("boom")
	r := recordio.NewReader(io.MultiReader(strings.NewReader("5\nab"), iotest.ErrReader(boom)), 0)
	if _, err := r.ReadRecord(); !errors.Is(err, boom) {
		t.Fatalf("error = %v, want %v", err, boom)
	}
}

func TestWriterFraming(t *testing.T) {
	var buf bytes.Buffer
	w := recordio.NewWriter(&buf)
	for _, rec := range []string{"hello", "", "world!"} {
		if err := w.WriteRecord([]byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := buf.String(), "5\nhello0\n6\nworld!"; got != want {
		t.Fatalf("stream %q, want %q", got, want)
	}
	if got := string(recordio.Encode([]byte("abc"))); got != "3\nabc" {
		t.Fatalf("Encode = %q", got)
	}
}

func TestWriterFlushesHTTP(t *testing.T) {
	rec := httptest.NewRecorder()
	w := recordio.NewWriter(rec)
	if err := w.WriteRecord([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed || rec.Body.String() != "1\nx" {
		t.Fatalf("flushed %v, body %q", rec.Flushed, rec.Body.String())
	}
}

func TestWriterFlushesBufio(t *testing.T) {
	var out bytes.Buffer
	w := recordio.NewWriter(bufio.NewWriter(&out))
	if err := w.WriteRecord([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "3\nabc" {
		t.Fatalf("after one record the underlying writer holds %q", out.String())
	}
}

// Append leaves records in the caller's buffer until Flush: a batch of
// records is one flush, not one per record.
func TestWriterAppendFlushesOnce(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := recordio.NewWriter(bw)
	for _, rec := range []string{"a", "bc", ""} {
		if err := w.Append([]byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	if out.Len() != 0 {
		t.Fatalf("Append flushed: the underlying writer holds %q", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "1\na2\nbc0\n"; got != want {
		t.Fatalf("after Flush the stream is %q, want %q", got, want)
	}
	if err := recordio.NewWriter(&out).Flush(); err != nil {
		t.Fatalf("Flush on a writer that cannot flush: %v", err)
	}
}

func TestWriterError(t *testing.T) {
	boom := errors.New("boom")
	w := recordio.NewWriter(errWriter{boom})
	if err := w.WriteRecord([]byte("x")); !errors.Is(err, boom) {
		t.Fatalf("error = %v", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func namePart(name string) *descriptorpb.UninterpretedOption_NamePart {
	return &descriptorpb.UninterpretedOption_NamePart{NamePart: proto.String(name), IsExtension: proto.Bool(false)}
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		t.Run(c.MediaType(), func(t *testing.T) {
			var buf bytes.Buffer
			w := recordio.NewWriter(&buf)
			names := []string{"a", "b/c", ""}
			for _, n := range names {
				if err := w.WriteMessage(c, namePart(n)); err != nil {
					t.Fatal(err)
				}
			}
			// A message missing a required field is refused, and nothing
			// reaches the stream.
			before := buf.Len()
			if err := w.WriteMessage(c, &descriptorpb.UninterpretedOption_NamePart{}); !errors.Is(err, codec.ErrMissingRequired) {
				t.Fatalf("incomplete message: %v", err)
			}
			if buf.Len() != before {
				t.Fatal("a failed message wrote bytes")
			}
			r := recordio.NewReader(&buf, 0)
			for _, n := range names {
				var got descriptorpb.UninterpretedOption_NamePart
				if err := r.ReadMessage(c, &got); err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(&got, namePart(n)) {
					t.Fatalf("got %v, want %v", &got, namePart(n))
				}
			}
			var m descriptorpb.UninterpretedOption_NamePart
			if err := r.ReadMessage(c, &m); err != io.EOF {
				t.Fatalf("at the end: %v", err)
			}
		})
	}
}

func TestReadMessageDecodeErrorDoesNotEndStream(t *testing.T) {
	var buf bytes.Buffer
	w := recordio.NewWriter(&buf)
	_ = w.WriteRecord([]byte(`{"name_part":"a"}`)) // is_extension missing
	_ = w.WriteMessage(codec.JSON, namePart("b"))
	r := recordio.NewReader(&buf, 0)
	var m descriptorpb.UninterpretedOption_NamePart
	if err := r.ReadMessage(codec.JSON, &m); !errors.Is(err, codec.ErrMissingRequired) {
		t.Fatalf("first: %v", err)
	}
	if err := r.ReadMessage(codec.JSON, &m); err != nil || m.GetNamePart() != "b" {
		t.Fatalf("second: %v %v", err, &m)
	}
}
