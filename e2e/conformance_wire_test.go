package e2e

// Helpers of the conformance tests (conformance_*_test.go): a client that
// speaks the Mesos v1 HTTP API with nothing but net/http, a RecordIO reader
// written from the format's grammar, event streams that keep what a test has
// not consumed yet, JSON shape assertions and the request fixtures in
// testdata/conformance.
//
// These tests deliberately avoid the scheduler and executor packages and
// api/codec and api/recordio: they play a third-party framework or executor
// written against the public documentation. Protobuf bodies are made with
// the Go protobuf runtime, which is what such a client would use too.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const (
	mtJSON     = "application/json"
	mtProtobuf = "application/x-protobuf"
	streamHdr  = "Mesos-Stream-Id"
	// wireWait bounds every wait for an event in these tests.
	wireWait = 20 * time.Second
)

// fixture reads testdata/conformance/<name> and replaces every {{KEY}} with
// vars[KEY]; a placeholder left without a value fails the test.
func fixture(t testing.TB, name string, vars map[string]string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "conformance", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	if m := regexp.MustCompile(`\{\{[A-Z_]+\}\}`).FindString(s); m != "" {
		t.Fatalf("fixture %s: no value for %s", name, m)
	}
	return []byte(s)
}

// toProtobuf turns a JSON fixture into the protobuf encoding of m, the way
// a client using the Go protobuf runtime would build the same call.
func toProtobuf(t testing.TB, jsonBody []byte, m proto.Message) []byte {
	t.Helper()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(jsonBody, m); err != nil {
		t.Fatalf("fixture does not fit %T: %v\n%s", m, err, jsonBody)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wireReply is an answered request.
type wireReply struct {
	status int
	header http.Header
	body   string
}

// post sends one request with exactly the given headers (pairs of name and
// value) and reads the whole answer.
func post(t testing.TB, client *http.Client, url string, body []byte, headers ...string) wireReply {
	t.Helper()
	resp := open(t, client, http.MethodPost, url, body, headers...)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading the answer: %v", url, err)
	}
	return wireReply{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// open sends a request and returns the response with its body unread.
func open(t testing.TB, client *http.Client, method, url string, body []byte, headers ...string) *http.Response {
	t.Helper()
	if len(headers)%2 != 0 {
		t.Fatal("open: headers must come in name/value pairs")
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// wantStatus checks an answer's status; 4xx answers must say why in the
// body, 202 answers must have none.
func (r wireReply) wantStatus(t testing.TB, what string, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d (body %q)", what, r.status, status, r.body)
		return
	}
	switch {
	case status >= 400 && strings.TrimSpace(r.body) == "":
		t.Errorf("%s: %d without a message in the body", what, status)
	case status == http.StatusAccepted && r.body != "":
		t.Errorf("%s: 202 with a body %q", what, r.body)
	}
}

// recordReader reads RecordIO: records = *record; record = record-size LF
// record-data; record-size = 1*DIGIT (an unsigned 64-bit decimal, never 0
// for an event). Unlike the lenient reader of the documentation's
// pseudo-code it rejects empty size lines: a conforming server never sends
// them.
type recordReader struct {
	r   *bufio.Reader
	max uint64
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{r: bufio.NewReader(r), max: 64 << 20}
}

func (rr *recordReader) next() ([]byte, error) {
	line, err := rr.r.ReadString('\n')
	if err != nil {
		if err == io.EOF && line == "" {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("recordio: reading a record size: %w (got %q)", err, line)
	}
	digits := strings.TrimSuffix(line, "\n")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("recordio: record size %q is not 1*DIGIT", digits)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("recordio: record size %q: %w", digits, err)
	}
	if n == 0 || n > rr.max {
		return nil, fmt.Errorf("recordio: record size %d out of range", n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(rr.r, data); err != nil {
		return nil, fmt.Errorf("recordio: reading %d bytes of a record: %w", n, err)
	}
	return data, nil
}

// wireEvent is one event of a stream: its raw record and, for JSON streams,
// the record decoded with numbers kept as json.Number.
type wireEvent struct {
	raw []byte
	js  map[string]any // nil on protobuf streams
	typ string
	pb  proto.Message
	seq int // position in the stream, from 0
}

// eventStream reads the records of a streaming answer in the background
// and hands them out on demand. Events a test does not ask for stay
// available to later requests, in order.
type eventStream struct {
	t          testing.TB
	body       io.ReadCloser
	mediaType  string
	newMessage func() proto.Message
	typeOf     func(proto.Message) string

	recs chan []byte
	errc chan error // the reason the stream ended (io.EOF when cleanly)

	mu      sync.Mutex
	pending []*wireEvent
	decoded int
	ended   error
}

func newEventStream(t testing.TB, body io.ReadCloser, mediaType string,
	newMessage func() proto.Message, typeOf func(proto.Message) string) *eventStream {
	s := &eventStream{t: t, body: body, mediaType: mediaType, newMessage: newMessage, typeOf: typeOf,
		recs: make(chan []byte, 1024), errc: make(chan error, 1)}
	go func() {
		rr := newRecordReader(body)
		for {
			rec, err := rr.next()
			if err != nil {
				s.errc <- err
				close(s.recs)
				return
			}
			s.recs <- rec
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *eventStream) close() { s.body.Close() }

// decode turns a record into an event, failing the test when it does not
// decode as the stream's media type or misses a proto2 required field.
func (s *eventStream) decode(rec []byte) *wireEvent {
	s.t.Helper()
	ev := &wireEvent{raw: rec, pb: s.newMessage(), seq: s.decoded}
	s.decoded++
	if s.mediaType == mtJSON {
		dec := json.NewDecoder(bytes.NewReader(rec))
		dec.UseNumber()
		if err := dec.Decode(&ev.js); err != nil {
			s.t.Fatalf("event is not a JSON object: %v\n%s", err, rec)
		}
		if err := protojson.Unmarshal(rec, ev.pb); err != nil {
			s.t.Fatalf("JSON event does not decode as %T: %v\n%s", ev.pb, err, rec)
		}
		checkSnakeCase(s.t, "event", ev.js)
	} else if err := proto.Unmarshal(rec, ev.pb); err != nil {
		s.t.Fatalf("protobuf event does not decode as %T (required fields are enforced): %v", ev.pb, err)
	}
	ev.typ = s.typeOf(ev.pb)
	return ev
}

// take waits for the first unconsumed event of type typ for which match
// (nil: any) holds, and consumes it.
func (s *eventStream) take(typ string, match func(*wireEvent) bool) *wireEvent {
	s.t.Helper()
	deadline := time.NewTimer(wireWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i, ev := range s.pending {
			if ev.typ == typ && (match == nil || match(ev)) {
				s.pending = append(s.pending[:i:i], s.pending[i+1:]...)
				s.mu.Unlock()
				return ev
			}
		}
		ended := s.ended
		s.mu.Unlock()
		if ended != nil {
			s.t.Fatalf("stream ended (%v) without a %s event; unconsumed:%s", ended, typ, s.describePending())
		}
		if !s.pull(deadline.C) {
			s.t.Fatalf("no %s event within %s; unconsumed:%s", typ, wireWait, s.describePending())
		}
	}
}

// waitEnd waits until the server ends the stream and returns why (io.EOF
// for a clean end). Events read meanwhile stay available.
func (s *eventStream) waitEnd() error {
	s.t.Helper()
	deadline := time.NewTimer(wireWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ended := s.ended
		s.mu.Unlock()
		if ended != nil {
			return ended
		}
		if !s.pull(deadline.C) {
			s.t.Fatalf("the stream did not end within %s", wireWait)
		}
	}
}

// pull decodes one more record into pending, or notes the end of the
// stream; false when the deadline passed first.
func (s *eventStream) pull(deadline <-chan time.Time) bool {
	s.t.Helper()
	select {
	case rec, ok := <-s.recs:
		if !ok {
			err := <-s.errc
			s.mu.Lock()
			s.ended = err
			s.mu.Unlock()
			return true
		}
		ev := s.decode(rec)
		s.mu.Lock()
		s.pending = append(s.pending, ev)
		s.mu.Unlock()
		return true
	case <-deadline:
		return false
	}
}

func (s *eventStream) describePending() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, ev := range s.pending {
		if s.mediaType == mtJSON {
			fmt.Fprintf(&b, "\n  %s", ev.raw)
		} else {
			fmt.Fprintf(&b, "\n  %s", ev.typ)
		}
	}
	return b.String()
}

// wantStreamHeaders checks the answer that opens an event stream: 200, a
// Content-Type that is exactly the negotiated media type, chunked transfer
// coding and no Content-Length.
func wantStreamHeaders(t testing.TB, resp *http.Response, mediaType string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("stream answer %s, want 200 OK: %s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != mediaType {
		t.Errorf("stream Content-Type %q, want exactly %q", ct, mediaType)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("stream Transfer-Encoding %v, want chunked", resp.TransferEncoding)
	}
	if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
		t.Errorf("stream has a Content-Length (%d)", resp.ContentLength)
	}
}

// checkSnakeCase fails for a JSON object key that is not a proto field name
// in snake_case (Mesos never writes lowerCamelCase keys).
func checkSnakeCase(t testing.TB, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.ToLower(k) != k || strings.ContainsAny(k, "- ") {
				t.Errorf("%s: key %q is not a snake_case proto field name", path, k)
			}
			checkSnakeCase(t, path+"."+k, e)
		}
	case []any:
		for i, e := range x {
			checkSnakeCase(t, fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

// jpath walks a decoded JSON value along a dotted path; "name[3]" indexes
// an array. ok is false when a step is missing.
func jpath(v any, path string) (any, bool) {
	for _, step := range strings.Split(path, ".") {
		name, index := step, -1
		if i := strings.IndexByte(step, '['); i >= 0 && strings.HasSuffix(step, "]") {
			n, err := strconv.Atoi(step[i+1 : len(step)-1])
			if err != nil {
				return nil, false
			}
			name, index = step[:i], n
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[name]; !ok {
			return nil, false
		}
		if index >= 0 {
			arr, ok := v.([]any)
			if !ok || index >= len(arr) {
				return nil, false
			}
			v = arr[index]
		}
	}
	return v, true
}

// jstr returns the string at path, failing the test when it is missing or
// not a JSON string.
func jstr(t testing.TB, v any, path string) string {
	t.Helper()
	x, ok := jpath(v, path)
	s, isStr := x.(string)
	if !ok || !isStr {
		t.Errorf("%s: want a JSON string, got %#v (present %v)", path, x, ok)
	}
	return s
}

// jnum returns the number at path, failing when it is missing or not a
// JSON number (a 64-bit integer written as a string would fail here).
func jnum(t testing.TB, v any, path string) float64 {
	t.Helper()
	x, ok := jpath(v, path)
	n, isNum := x.(json.Number)
	if !ok || !isNum {
		t.Errorf("%s: want a JSON number, got %#v (present %v)", path, x, ok)
		return 0
	}
	f, err := n.Float64()
	if err != nil {
		t.Errorf("%s: %v", path, err)
	}
	return f
}

// jint is jnum for integer fields: the number must have no fraction.
func jint(t testing.TB, v any, path string) int64 {
	t.Helper()
	x, _ := jpath(v, path)
	if n, ok := x.(json.Number); ok {
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			t.Errorf("%s: want an integer, got %s", path, n)
		}
		return i
	}
	jnum(t, v, path)
	return 0
}

// jid checks that path holds a Mesos id, {"value": "<non-empty string>"},
// and returns the value.
func jid(t testing.TB, v any, path string) string {
	t.Helper()
	x, ok := jpath(v, path)
	obj, isObj := x.(map[string]any)
	if !ok || !isObj {
		t.Errorf("%s: want an id object {\"value\": ...}, got %#v", path, x)
		return ""
	}
	if len(obj) != 1 {
		t.Errorf("%s: an id object has only \"value\", got %v", path, obj)
	}
	s := jstr(t, v, path+".value")
	if s == "" {
		t.Errorf("%s.value is empty", path)
	}
	return s
}

// jbytes decodes the base64 (standard alphabet, padded) bytes field at path.
func jbytes(t testing.TB, v any, path string) []byte {
	t.Helper()
	s := jstr(t, v, path)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Errorf("%s: %q is not padded standard base64: %v", path, s, err)
	}
	return b
}

// jabsent fails when path is present.
func jabsent(t testing.TB, v any, path string) {
	t.Helper()
	if x, ok := jpath(v, path); ok {
		t.Errorf("%s: want it absent, got %#v", path, x)
	}
}

// jlen returns the length of the array at path (0 when absent).
func jlen(t testing.TB, v any, path string) int {
	t.Helper()
	x, ok := jpath(v, path)
	if !ok {
		return 0
	}
	arr, isArr := x.([]any)
	if !isArr {
		t.Errorf("%s: want an array, got %#v", path, x)
	}
	return len(arr)
}

// newUUID returns 16 random-looking bytes, unique per call in a test
// binary, and their base64 form for JSON bodies.
func newUUID() ([]byte, string) {
	uuidMu.Lock()
	uuidSeq++
	n := uuidSeq
	uuidMu.Unlock()
	b := []byte(fmt.Sprintf("conform-%08x", n))
	return b, base64.StdEncoding.EncodeToString(b)
}

var (
	uuidMu  sync.Mutex
	uuidSeq = time.Now().UnixNano() & 0xffff
)
