package rdd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/rddpb"
)

// Result reports (api/proto/meso/rdd/v1/rdd.proto, "Result reports"): an
// executor posts its results to the driver's /results over plain HTTP/1.1,
// the report's message first and the results' values raw after it, so the
// driver reads a collect's records from the socket straight into the
// buffer it decodes. Over the Connect RPC the same bytes went through
// HTTP/2 frames, the stream's buffers, Connect's message buffer and
// protobuf's copy of the bytes field: about a third of the demo driver's
// CPU (docs/BENCHMARKS.md).

const (
	resultsPath        = "/results"
	resultsContentType = "application/x-meso-rdd-results"
	// maxReportHead bounds a report's message (metrics, errors,
	// accumulator updates; not the values).
	maxReportHead = 64 << 20
)

// errBadReport is wrapped by the error of a posted report that does not
// parse.
var errBadReport = errors.New("rdd: bad result report")

// reportBody is a posted report's body: the length of the message, the
// message (values moved out, value_size set), then the values. It writes
// the values from the results' own buffers, without copying them into one.
type reportBody struct {
	head   []byte // length and message
	values [][]byte
	n      int64
}

// newReportBody encodes req for posting; req's values are taken out of it.
func newReportBody(req *rddpb.ReportResultsRequest) (*reportBody, error) {
	b := &reportBody{}
	for _, r := range req.GetResults() {
		b.values = append(b.values, r.Value)
		r.ValueSize, r.Value = int64(len(r.Value)), nil
		b.n += r.ValueSize
	}
	msg, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	b.head = binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(msg)), uint32(len(msg)))
	b.head = append(b.head, msg...)
	b.n += int64(len(b.head))
	return b, nil
}

// reader returns the body from its start.
func (b *reportBody) reader() *reportReader {
	r := &reportReader{bufs: make(net.Buffers, 0, 1+len(b.values)), left: b.n}
	r.bufs = append(r.bufs, b.head)
	for _, v := range b.values {
		if len(v) > 0 {
			r.bufs = append(r.bufs, v)
		}
	}
	return r
}

// reportReader reads a report's body. On the results connection
// (reportConn) what is left of it is written with one gathered write
// instead of being copied through net/http's 32 KiB buffer: for the demo's
// 320 KB results, 2 writes (the headers, the body) instead of 12, and as
// many fewer wake-ups of the driver reading them.
type reportReader struct {
	bufs net.Buffers // what is left: the message, then the values
	left int64
}

func (r *reportReader) Read(p []byte) (int, error) {
	n, err := r.bufs.Read(p)
	r.left -= int64(n)
	return n, err
}

// Close makes the reader the request's body as it is: net/http reaches
// it through the request's wrapping, not through io.NopCloser's.
func (r *reportReader) Close() error { return nil }

// writeTo writes what is left of the body to w, gathered when w is a
// TCP connection.
func (r *reportReader) writeTo(w io.Writer) (int64, error) {
	n, err := r.bufs.WriteTo(w)
	r.left -= n
	return n, err
}

// reportConn is a results connection: a report's body that net/http
// copies to it goes out with one gathered write (reportReader).
type reportConn struct{ net.Conn }

// ReadFrom takes net/http's copy of a request body: the body, limited to
// the request's Content-Length. A report's body of exactly that length
// is written gathered; anything else is copied.
func (c reportConn) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if rr, ok := lr.R.(*reportReader); ok && rr.left == lr.N {
			n, err := rr.writeTo(c.Conn)
			lr.N -= n
			return n, err
		}
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, src)
}

// valueBufs holds the buffers of results the driver has decoded, for the
// values of the next reports: a collect's partitions are read into memory
// already mapped instead of fresh pages (whose faults showed in the
// driver's read syscalls). Values smaller than minPooledValue are
// allocated.
type valueBufs struct{ p sync.Pool }

const (
	minPooledValue = 32 << 10
	maxPooledValue = 16 << 20
)

// get returns a buffer of n bytes.
func (v *valueBufs) get(n int) []byte {
	if n < minPooledValue {
		return make([]byte, n)
	}
	if b, ok := v.p.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	// Room for a slightly larger value next time: a stage's partitions
	// are of about the same size.
	return make([]byte, n, n+n/8)
}

// put gives back a buffer get returned, once nothing refers to its bytes.
func (v *valueBufs) put(b []byte) {
	if cap(b) >= minPooledValue && cap(b) <= maxPooledValue {
		v.p.Put(&b)
	}
}

// readReport reads a posted report of size bytes (its Content-Length):
// the message, and each result's value into a buffer of its own (alloc),
// read from body directly. Nothing is allocated beyond what size says, and
// a body that ends early or says two different sizes is an error.
func readReport(body io.Reader, size int64, alloc func(int) []byte) (*rddpb.ReportResultsRequest, error) {
	if size < 4 {
		return nil, fmt.Errorf("%w: %d bytes (Content-Length required)", errBadReport, size)
	}
	var n [4]byte
	if _, err := io.ReadFull(body, n[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadReport, err)
	}
	hl := int64(binary.BigEndian.Uint32(n[:]))
	if hl > maxReportHead || 4+hl > size {
		return nil, fmt.Errorf("%w: a message of %d bytes in a body of %d", errBadReport, hl, size)
	}
	head := make([]byte, hl)
	if _, err := io.ReadFull(body, head); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadReport, err)
	}
	req := &rddpb.ReportResultsRequest{}
	if err := proto.Unmarshal(head, req); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadReport, err)
	}
	left := size - 4 - hl
	for _, r := range req.GetResults() {
		vs := r.GetValueSize()
		if vs < 0 || vs > left {
			return nil, fmt.Errorf("%w: a value of %d bytes with %d left in the body", errBadReport, vs, left)
		}
		left -= vs
	}
	if left != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the values", errBadReport, left)
	}
	for _, r := range req.GetResults() {
		if r.ValueSize == 0 {
			continue
		}
		r.Value = alloc(int(r.ValueSize))
		if _, err := io.ReadFull(body, r.Value); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadReport, err)
		}
	}
	return req, nil
}

// serveResults takes an executor's posted report (cluster.report).
func (c *cluster) serveResults(w http.ResponseWriter, r *http.Request) {
	req, err := readReport(r.Body, r.ContentLength, c.values.get)
	if err != nil {
		c.s.log.Warn("result report refused", "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, err := proto.Marshal(c.report(r.Context(), req))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/proto")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// resultsClient is what executors post their reports with: HTTP/1.1
// (plain, so that a report's values are written as they are), a
// connection kept per report that may be in flight, and a write buffer
// that sends a result in a few writes.
func resultsClient(token string, reports int) *http.Client {
	return &http.Client{Transport: withToken{token, &http.Transport{
		MaxIdleConnsPerHost: reports + 1, DisableCompression: true, WriteBufferSize: 64 << 10,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialResults(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return reportConn{c}, nil
		},
	}}}
}

// dialResults dials the results connections (a test counts their
// writes).
var dialResults = (&net.Dialer{}).DialContext

// errReport is the error of a report the driver refused (4xx): not
// retried.
type errReport struct{ status, msg string }

func (e *errReport) Error() string {
	return "driver refused the result report: " + e.status + ": " + e.msg
}

// report posts results to the driver, trying again (with the same body:
// the driver applies a task's result once) for up to driverTimeout while
// the driver cannot be reached.
func (e *executor) report(ctx context.Context, req *rddpb.ReportResultsRequest) (*rddpb.ReportResultsResponse, error) {
	body, err := newReportBody(req)
	if err != nil {
		return nil, fmt.Errorf("rdd: encoding a result report: %w", err)
	}
	var first time.Time
	for {
		out, err := e.post(ctx, body)
		var refused *errReport
		if err == nil || ctx.Err() != nil || errors.As(err, &refused) {
			return out, err
		}
		if first.IsZero() {
			first = time.Now()
		} else if time.Since(first) > driverTimeout {
			return nil, fmt.Errorf("rdd: driver unreachable for %v: %w", driverTimeout, err)
		}
		e.log.Warn("reporting a result, trying again", "err", err)
		select { // retry pacing, not a wait for an event
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// post sends one report.
func (e *executor) post(ctx context.Context, body *reportBody) (*rddpb.ReportResultsResponse, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, e.driverURL+resultsPath, body.reader())
	if err != nil {
		return nil, err
	}
	hr.ContentLength = body.n
	hr.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
	hr.Header.Set("Content-Type", resultsContentType)
	// The driver ignores a task's result it already has, so the transport
	// may resend a report on a connection found closed (nil: the header is
	// not sent).
	hr.Header["Idempotency-Key"] = nil
	resp, err := e.results.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReportHead))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return nil, &errReport{resp.Status, string(bytes.TrimSpace(b))}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	out := &rddpb.ReportResultsResponse{}
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("rdd: the driver's answer to a result report: %w", err)
	}
	return out, nil
}
