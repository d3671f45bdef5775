package rdd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
