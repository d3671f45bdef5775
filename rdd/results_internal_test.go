package rdd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/rddpb"
)

func reportOf(values ...[]byte) *rddpb.ReportResultsRequest {
	req := &rddpb.ReportResultsRequest{ExecutorId: "e1", WantTasks: true}
	for i, v := range values {
		req.Results = append(req.Results, &rddpb.TaskResult{Id: &rddpb.TaskID{Partition: int64(i), Shuffle: -1}, Value: v,
			Metrics: &rddpb.Metrics{DurationNs: int64(1000 * i)}})
	}
	return req
}

func bodyBytes(t testing.TB, req *rddpb.ReportResultsRequest) []byte {
	b, err := newReportBody(req)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(b.reader())
	if err != nil || int64(len(out)) != b.n {
		t.Fatalf("body of %d bytes, said %d: %v", len(out), b.n, err)
	}
	return out
}

// A posted report reads back as it was sent: each value in a buffer of its
// own; a body cut short, with bytes left over, or whose sizes disagree is
// refused whole.
func TestReportBodyRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 10_000)
	want := reportOf([]byte("abc"), nil, big)
	body := bodyBytes(t, proto.Clone(want).(*rddpb.ReportResultsRequest))
	var bufs valueBufs
	got, err := readReport(bytes.NewReader(body), int64(len(body)), bufs.get)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got.GetResults() {
		r.ValueSize = 0 // the wire's bookkeeping
	}
	if !proto.Equal(got, want) {
		t.Fatalf("read %v\nwant %v", got, want)
	}
	for _, bad := range []struct {
		name string
		body []byte
		size int64
	}{
		{"empty", nil, 0},
		{"cut in the message", body[:10], 10},
		{"cut in a value", body[:len(body)-1], int64(len(body))},
		{"Content-Length short", body, int64(len(body) - 1)},
		{"bytes after the values", append(bytes.Clone(body), 'x'), int64(len(body) + 1)},
		{"message longer than the body", []byte{0, 0, 1, 0, 1, 2}, 6},
		{"not a message", []byte{0, 0, 0, 2, 0xff, 0xff}, 6},
	} {
		if _, err := readReport(bytes.NewReader(bad.body), bad.size, bufs.get); !errors.Is(err, errBadReport) {
			t.Errorf("%s: %v, want errBadReport", bad.name, err)
		}
	}
}

// Whatever arrives at /results, readReport returns an error or a report
// whose values fill the body exactly, and never allocates beyond the body.
func FuzzReadReport(f *testing.F) {
	f.Add(bodyBytes(f, reportOf([]byte("abc"), nil, []byte("defgh"))))
	f.Add(bodyBytes(f, reportOf()))
	f.Add([]byte{0, 0, 0, 4, 0x12, 0x02, 0x68, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		allocated := 0
		alloc := func(n int) []byte { allocated += n; return make([]byte, n) }
		req, err := readReport(bytes.NewReader(body), int64(len(body)), alloc)
		if err != nil {
			if !errors.Is(err, errBadReport) {
				t.Fatalf("error %v does not wrap errBadReport", err)
			}
			return
		}
		if allocated > len(body) {
			t.Fatalf("allocated %d bytes for a body of %d", allocated, len(body))
		}
		n := 0
		for _, r := range req.GetResults() {
			if int64(len(r.GetValue())) != r.GetValueSize() {
				t.Fatalf("value of %d bytes, size %d", len(r.GetValue()), r.GetValueSize())
			}
			n += len(r.GetValue())
		}
		if n > len(body) {
			t.Fatalf("values of %d bytes from a body of %d", n, len(body))
		}
	})
}

// An executor's report that does not reach the driver (the connection
// breaks) is sent again, whole, until it does; one the driver refuses
// (4xx) is not.
func TestReportRetried(t *testing.T) {
	var attempts, cut atomic.Int32
	cut.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		if cut.Add(-1) >= 0 { // break the connection mid-report
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if r.Header.Get("X-Meso-Shuffle-Token") != "tok" {
			http.Error(w, "bad application token", http.StatusUnauthorized)
			return
		}
		req, err := readReport(r.Body, r.ContentLength, func(n int) []byte { return make([]byte, n) })
		if err != nil || len(req.GetResults()) != 1 || string(req.GetResults()[0].GetValue()) != "records" {
			http.Error(w, fmt.Sprint("bad report: ", req, err), http.StatusBadRequest)
			return
		}
		b, _ := proto.Marshal(&rddpb.ReportResultsResponse{Tasks: []*rddpb.Task{{Pipeline: 7}}})
		w.Write(b)
	}))
	defer srv.Close()
	e := &executor{driverURL: srv.URL, results: resultsClient("tok", 1), log: slog.New(slog.DiscardHandler)}
	out, err := e.report(t.Context(), reportOf([]byte("records")))
	if err != nil || len(out.GetTasks()) != 1 || out.GetTasks()[0].GetPipeline() != 7 {
		t.Fatalf("report: %v, %v", out, err)
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3 (two cut off)", n)
	}
	attempts.Store(0)
	e.results = resultsClient("wrong", 1)
	_, err = e.report(t.Context(), reportOf([]byte("records")))
	if re := (*errReport)(nil); !errors.As(err, &re) || attempts.Load() != 1 {
		t.Fatalf("refused report: %v after %d attempts, want errReport after 1", err, attempts.Load())
	}
}

// countingConn counts the writes on a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// A report's body leaves the executor gathered (reportConn): after the
// headers, one write per buffer at most on a connection that cannot
// gather (this test's), one writev on a TCP connection; through net/http's
// own copy, 32 KiB a write (a 320 KB value: 12 writes).
func TestReportBodyWrittenGathered(t *testing.T) {
	var writes atomic.Int32
	dial := dialResults
	dialResults = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}
	defer func() { dialResults = dial }()
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320 KB: one of the demo's partitions
	for _, values := range [][][]byte{{big}, {big, []byte("x"), nil, big[:70_000]}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, err := readReport(r.Body, r.ContentLength, func(n int) []byte { return make([]byte, n) })
			if err == nil && len(req.GetResults()) != len(values) {
				err = fmt.Errorf("%d results", len(req.GetResults()))
			}
			for i, res := range req.GetResults() {
				if err == nil && !bytes.Equal(res.GetValue(), values[i]) {
					err = fmt.Errorf("value %d: %d bytes, want %d as sent", i, len(res.GetValue()), len(values[i]))
				}
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Write(nil)
		}))
		e := &executor{driverURL: srv.URL, results: resultsClient("tok", 1), log: slog.New(slog.DiscardHandler)}
		for i := range 3 {
			writes.Store(0)
			if _, err := e.report(t.Context(), reportOf(values...)); err != nil {
				t.Fatal(err)
			}
			if n, most := writes.Load(), int32(2+len(values)); n > most {
				t.Fatalf("%d values, report %d: %d writes, want at most %d", len(values), i, n, most)
			}
		}
		srv.Close()
	}
}

// bufConn is a connection that only takes writes.
type bufConn struct {
	net.Conn
	out bytes.Buffer
}

func (c *bufConn) Write(b []byte) (int, error) { return c.out.Write(b) }

// A body reportConn is handed that is not a whole report's is copied as
// net/http limits it.
func TestReportConnCopiesOtherBodies(t *testing.T) {
	body, err := newReportBody(reportOf([]byte("records"), []byte("more")))
	if err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(body.reader())
	for _, src := range []io.Reader{
		&io.LimitedReader{R: body.reader(), N: body.n - 3}, // shorter than the report
		&io.LimitedReader{R: bytes.NewReader(all), N: body.n},
		bytes.NewReader(all),
	} {
		want := all
		if lr, ok := src.(*io.LimitedReader); ok {
			want = all[:lr.N]
		}
		c := &bufConn{}
		n, err := reportConn{c}.ReadFrom(src)
		if err != nil || n != int64(len(want)) || !bytes.Equal(c.out.Bytes(), want) {
			t.Fatalf("%T: wrote %d bytes (%v), want %d as read", src, n, err, len(want))
		}
	}
	c := &bufConn{}
	lr := &io.LimitedReader{R: body.reader(), N: body.n}
	if n, err := (reportConn{c}).ReadFrom(lr); err != nil || n != body.n || lr.N != 0 || !bytes.Equal(c.out.Bytes(), all) {
		t.Fatalf("whole report: wrote %d bytes (%v), %d left, want %d as read", n, err, lr.N, body.n)
	}
}

// BenchmarkReport posts reports of one 320 KB value (one of the demo's
// collected partitions) to a handler that reads them as the driver does;
// ns/op is per report, the executor's post and the driver's read.
// Run: go test -run '^$' -bench Report ./rdd
func BenchmarkReport(b *testing.B) {
	value := bytes.Repeat([]byte("0123456789abcdef"), 20_000)
	buf := make([]byte, len(value))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := readReport(r.Body, r.ContentLength, func(int) []byte { return buf }); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	e := &executor{driverURL: srv.URL, results: resultsClient("tok", 1), log: slog.New(slog.DiscardHandler)}
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := e.report(b.Context(), reportOf(value)); err != nil {
			b.Fatal(err)
		}
	}
}
