package subscribe

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

var answerSeeds = []string{
	"HTTP/1.1 202 Accepted\r\nDate: Tue, 08 Dec 2026 03:41:20 GMT\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\nbad call\r\n\r\n",
	"HTTP/1.1 307 Temporary Redirect\r\nLocation: //m2:5050/api/v1/scheduler\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 202\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nContent-Length:  0 \r\nX-A: a\r\nX-A: b\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nX: \x01\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\n X: y\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nab",
}

// FuzzReadBuffered checks that whatever readBuffered takes,
// http.ReadResponse and readWhole read the same way: the same answer, the
// same bytes consumed.
func FuzzReadBuffered(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	req, _ := http.NewRequest(http.MethodPost, "http://m:5050/api/v1/scheduler", nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		var in headerInterner
		for range 2 { // twice: the second answer with names interned
			br := bufio.NewReaderSize(bytes.NewReader(b), 16<<10)
			got, ok := readBuffered(br, req, &in)
			if !ok {
				return
			}
			consumed := len(b) - br.Buffered()
			compareAnswer(t, b, got, consumed, req)
			b = b[consumed:]
		}
	})
}

func compareAnswer(t *testing.T, b []byte, got *http.Response, consumed int, req *http.Request) {
	t.Helper()
	wbr := bufio.NewReaderSize(bytes.NewReader(b), 16<<10)
	want, err := readWhole(wbr, req)
	if err != nil {
		t.Fatalf("%q: taken, but net/http: %v", b, err)
	}
	if wc := len(b) - wbr.Buffered(); wc != consumed {
		t.Fatalf("%q: consumed %d, net/http %d", b, consumed, wc)
	}
	gb, _ := io.ReadAll(got.Body)
	wb, _ := io.ReadAll(want.Body)
	switch {
	case got.Status != want.Status || got.StatusCode != want.StatusCode || got.Proto != want.Proto ||
		got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor:
		t.Fatalf("%q: status %q %d %s, net/http %q %d %s", b, got.Status, got.StatusCode, got.Proto, want.Status, want.StatusCode, want.Proto)
	case !reflect.DeepEqual(got.Header, want.Header):
		t.Fatalf("%q: header %v, net/http %v", b, got.Header, want.Header)
	case got.ContentLength != want.ContentLength || got.Close != want.Close || !bytes.Equal(gb, wb):
		t.Fatalf("%q: length %d close %v body %q, net/http %d %v %q", b, got.ContentLength, got.Close, gb,
			want.ContentLength, want.Close, wb)
	case len(got.TransferEncoding) != 0 || len(want.TransferEncoding) != 0 || want.Uncompressed || len(want.Trailer) != 0 || got.Request != want.Request:
		t.Fatalf("%q: net/http transfer encoding %v, uncompressed %v, trailer %v", b, want.TransferEncoding, want.Uncompressed, want.Trailer)
	}
}

// TestReadBufferedTakesCallAnswers checks that the answers the master
// gives calls take the fast path, and that the others do not.
func TestReadBufferedTakesCallAnswers(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://m:5050/api/v1/scheduler", nil)
	for i, s := range answerSeeds {
		var in headerInterner
		br := bufio.NewReaderSize(strings.NewReader(s), 16<<10)
		got, ok := readBuffered(br, req, &in)
		want := i < 6
		if ok != want {
			t.Fatalf("%q: taken %v, want %v", s, ok, want)
		}
		if ok {
			compareAnswer(t, []byte(s), got, len(s)-br.Buffered(), req)
		}
	}
}
