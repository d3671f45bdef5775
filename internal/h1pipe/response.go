package h1pipe

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// bufferBeforeChunking is net/http's response buffer: a handler that
// writes more before returning gets a chunked response.
const bufferBeforeChunking = 2048

var bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferBeforeChunking) }}

// response is the http.ResponseWriter of a request served here. It
// follows net/http's HTTP/1.1 server for a handler that neither flushes
// nor hijacks: the same layering (a 2 KiB buffer in front of a chunk
// writer that writes the header on its first write), the same header
// rules, appended to the connection's output.
type response struct {
	c         *conn
	keepAlive bool

	header       http.Header // the handler's
	snap         http.Header // the header as of WriteHeader, once cloned (net/http's cw.header)
	calledHeader bool
	wroteHeader  bool
	status       int
	handlerDone  bool

	contentLength int64 // declared by the handler, or -1
	written       int64

	bw *bufio.Writer
	cw chunkWriter

	closeAfter bool
}

func (w *response) Header() http.Header {
	if w.snap == nil && w.wroteHeader && !w.cw.wroteHeader {
		w.snap = w.header.Clone()
	}
	w.calledHeader = true
	return w.header
}

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.c.out = appendStatusLine(w.c.out, code)
		_ = w.header.WriteSubset(appender{&w.c.out}, map[string]bool{"Content-Length": true, "Transfer-Encoding": true})
		w.c.out = append(w.c.out, crlf...)
		return
	}
	w.wroteHeader = true
	w.status = code
	if w.calledHeader && w.snap == nil {
		w.snap = w.header.Clone()
	}
	w.contentLength = -1
	if cl := w.header.Get("Content-Length"); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.header.Del("Content-Length")
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.bw == nil {
		w.cw.res = w
		w.bw = bufPool.Get().(*bufio.Writer)
		w.bw.Reset(&w.cw)
	}
	return w.bw.Write(p)
}

// finish is net/http's finishRequest for this response.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.cw.res = w
	if w.bw != nil {
		_ = w.bw.Flush()
		w.bw.Reset(nil)
		bufPool.Put(w.bw)
		w.bw = nil
	}
	w.cw.close()
	if w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		w.closeAfter = true // did not write what it declared
	}
}

// chunkWriter writes the header on its first write (or at close), then
// the body, chunked when the header says so.
type chunkWriter struct {
	res         *response
	reqBody     *body
	wroteHeader bool
	chunking    bool
	trailers    []string // declared in a Trailer header
	clen        [20]byte
}

func (cw *chunkWriter) Write(p []byte) (int, error) {
	if !cw.wroteHeader {
		cw.writeHeader(p)
	}
	out := &cw.res.c.out
	if cw.chunking {
		*out = strconv.AppendInt(*out, int64(len(p)), 16)
		*out = append(*out, crlf...)
	}
	*out = append(*out, p...)
	if cw.chunking {
		*out = append(*out, crlf...)
	}
	return len(p), nil
}

func (cw *chunkWriter) close() {
	if !cw.wroteHeader {
		cw.writeHeader(nil)
	}
	if !cw.chunking {
		return
	}
	out := &cw.res.c.out
	*out = append(*out, "0\r\n"...)
	if t := cw.finalTrailers(); t != nil {
		_ = t.Write(appender{out})
	}
	*out = append(*out, crlf...)
}

func (cw *chunkWriter) finalTrailers() http.Header {
	w := cw.res
	var t http.Header
	for k, vv := range w.header {
		if kk, found := strings.CutPrefix(k, http.TrailerPrefix); found {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range cw.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.header[k] {
			t.Add(k, v)
		}
	}
	return t
}

// writeHeader is net/http's chunkWriter.writeHeader for an HTTP/1.1 POST
// whose body was read whole, in the same order of decisions.
func (cw *chunkWriter) writeHeader(p []byte) {
	cw.wroteHeader = true
	w := cw.res
	w.keepAlive = !w.c.s.closing.Load() // net/http's doKeepAlives
	header := w.snap
	owned := header != nil
	if !owned {
		header = w.header
	}
	var exclude map[string]bool
	delHeader := func(key string) {
		if owned {
			header.Del(key)
			return
		}
		if _, ok := header[key]; !ok {
			return
		}
		if exclude == nil {
			exclude = map[string]bool{}
		}
		exclude[key] = true
	}
	var contentType, connection, transferEncoding string
	var contentLength []byte

	trailers := false
	for k := range w.snap {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			if exclude == nil {
				exclude = map[string]bool{}
			}
			exclude[k] = true
			trailers = true
		}
	}
	for _, v := range w.snap["Trailer"] {
		trailers = true
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				f = http.CanonicalHeaderKey(f)
				switch f {
				case "Transfer-Encoding", "Trailer", "Content-Length":
				default:
					cw.trailers = append(cw.trailers, f)
				}
			}
		}
	}
	te := header.Get("Transfer-Encoding")
	hasTE := te != ""

	if _, has := header["Content-Length"]; w.handlerDone && !trailers && !hasTE && bodyAllowedForStatus(w.status) && !has {
		w.contentLength = int64(len(p))
		contentLength = strconv.AppendInt(cw.clen[:0], int64(len(p)), 10)
	}
	hasCL := w.contentLength != -1
	if header.Get("Connection") == "close" || !w.keepAlive {
		w.closeAfter = true
	}
	// A body the handler closed before its end: what follows on the wire
	// is not known to be the next request.
	if b := cw.reqBody; b != nil && !w.closeAfter && (b.err != nil || b.closed && !b.sawEOF) {
		w.closeAfter = true
	}
	code := w.status
	if bodyAllowedForStatus(code) {
		_, haveType := header["Content-Type"]
		hasCE := len(header.Get("Content-Encoding")) > 0
		if !hasCE && !haveType && !hasTE && len(p) > 0 {
			contentType = http.DetectContentType(p)
		}
	} else {
		for _, k := range suppressedHeaders(code) {
			delHeader(k)
		}
	}
	var date []byte
	if _, ok := header["Date"]; !ok {
		date = w.c.date.now()
	}
	if hasCL && hasTE && te != "identity" {
		delHeader("Content-Length")
		hasCL = false
	}
	switch {
	case !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		delHeader("Transfer-Encoding")
	case hasCL:
		delHeader("Transfer-Encoding")
	case hasTE && te == "identity":
		cw.chunking = false
		w.closeAfter = true
		delHeader("Transfer-Encoding")
	default:
		cw.chunking = true
		transferEncoding = "chunked"
		if hasTE && te == "chunked" {
			delHeader("Transfer-Encoding")
		}
	}
	if cw.chunking {
		delHeader("Content-Length")
	}
	if w.closeAfter && (!w.keepAlive || !hasToken(w.snap.Get("Connection"), "close")) && !isProtocolSwitch(code, header) {
		delHeader("Connection")
		connection = "close"
	}

	out := &w.c.out
	*out = appendStatusLine(*out, code)
	// As net/http, the snapshot: nil when the handler never asked for
	// the header before WriteHeader, i.e. set none.
	_ = w.snap.WriteSubset(appender{out}, exclude)
	if date != nil {
		*out = append(*out, "Date: "...)
		*out = append(*out, date...)
		*out = append(*out, crlf...)
	}
	if contentLength != nil {
		*out = append(*out, "Content-Length: "...)
		*out = append(*out, contentLength...)
		*out = append(*out, crlf...)
	}
	for i, v := range []string{contentType, connection, transferEncoding} {
		if v != "" {
			*out = append(*out, [...]string{"Content-Type", "Connection", "Transfer-Encoding"}[i]...)
			*out = append(*out, ": "...)
			*out = append(*out, v...)
			*out = append(*out, crlf...)
		}
	}
	*out = append(*out, crlf...)
}

// appender is an io.Writer appending to a byte slice.
type appender struct{ b *[]byte }

func (a appender) Write(p []byte) (int, error) { *a.b = append(*a.b, p...); return len(p), nil }
func (a appender) WriteString(s string) (int, error) {
	*a.b = append(*a.b, s...)
	return len(s), nil
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == 204, status == 304:
		return false
	}
	return true
}

func suppressedHeaders(status int) []string {
	switch {
	case status == 304:
		return []string{"Content-Type", "Content-Length", "Transfer-Encoding"}
	case !bodyAllowedForStatus(status):
		return []string{"Content-Length", "Transfer-Encoding"}
	}
	return nil
}

func isProtocolSwitch(code int, h http.Header) bool {
	return code == http.StatusSwitchingProtocols && h.Get("Upgrade") != "" && hasToken(h.Get("Connection"), "Upgrade")
}

func hasToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(f), token) {
			return true
		}
	}
	return false
}
