package master

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// rawConn is a client connection to the master speaking raw HTTP/1.1.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	in bytes.Buffer // every byte read
	r  *bufio.Reader
}

func dialRaw(t *testing.T, base string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc}
	c.r = bufio.NewReader(io.TeeReader(nc, &c.in))
	return c
}

// viaNetHTTP returns a connection the master's net/http serves: its first
// request (GET /health) is not a scheduler call, so the connection is
// handed to net/http for good.
func viaNetHTTP(t *testing.T, base string) *rawConn {
	c := dialRaw(t, base)
	c.exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 1)
	return c
}

// exchange writes req and returns the raw bytes of the next n responses
// (nil once the connection is closed), Date values blanked.
func (c *rawConn) exchange(req string, n int) []byte {
	c.t.Helper()
	c.in.Reset()
	if _, err := c.nc.Write([]byte(req)); err != nil {
		c.t.Logf("writing: %v (the master may close early)", err)
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range n {
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			if c.in.Len() == 0 {
				return nil
			}
			c.t.Fatalf("reading an answer to %q: %v (read %q)", req, err, c.in.Bytes())
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			c.t.Fatal(err)
		}
		resp.Body.Close()
	}
	raw := c.in.Bytes()[:c.in.Len()-c.r.Buffered()]
	return dateLine.ReplaceAll(bytes.Clone(raw), []byte("Date: -\r\n"))
}

var dateLine = regexp.MustCompile(`Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`)

// exchangeMay writes req and reads an answer if one comes: 431 it must be.
func (c *rawConn) exchangeMay(req string) {
	_, _ = c.nc.Write([]byte(req))
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(c.r, nil); err == nil && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		c.t.Fatalf("an oversized head: %s", resp.Status)
	}
}

// closed reports whether the master closed the connection within wait
// (with nothing more sent).
func (c *rawConn) closed(wait time.Duration) bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c.r) // what is left of an answer, then the end
	if err == nil {
		return true // EOF
	}
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func rawPost(path string, headers []string, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: master\r\n", path)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.String()
}

// The master answers scheduler calls on h1pipe's path byte for byte as
// net/http does, successes and refusals alike, one at a time and
// pipelined; what h1pipe hands to net/http (a SUBSCRIBE, chunked bodies,
// Connection: close, oversized heads, other methods) is answered too.
func TestFastCallsAnswerAsNetHTTP(t *testing.T) {
	m, base := startMaster(t, func(c *Config) { c.MaxCallBytes = 4 << 10 })
	f := subscribe(t, base, codec.Protobuf, fwInfo("fast"))
	pb := func(call *schedulerpb.Call) []byte {
		b, err := proto.Marshal(call)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fid := &mesospb.FrameworkID{Value: proto.String(f.id)}
	revive := pb(&schedulerpb.Call{FrameworkId: fid, Type: schedulerpb.Call_REVIVE.Enum()})
	ctPB := "Content-Type: application/x-protobuf"
	sid := StreamIDHeader + ": " + f.stream
	ack := pb(&schedulerpb.Call{FrameworkId: fid, Type: schedulerpb.Call_ACKNOWLEDGE.Enum(),
		Acknowledge: &schedulerpb.Call_Acknowledge{AgentId: &mesospb.AgentID{Value: proto.String("no-agent")},
			TaskId: &mesospb.TaskID{Value: proto.String("t")}, Uuid: make([]byte, 16)}})
	unknownFw := pb(&schedulerpb.Call{FrameworkId: &mesospb.FrameworkID{Value: proto.String("nope")}, Type: schedulerpb.Call_REVIVE.Enum()})
	subscribeCall := pb(&schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo("other")}})
	jsonRevive := []byte(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"REVIVE"}`, f.id))

	cases := []struct {
		name  string
		req   string
		fast  bool // h1pipe answers it (else net/http)
		close bool // the master closes the connection after
	}{
		{"202", rawPost("/api/v1/scheduler", []string{ctPB, sid}, revive), true, false},
		{"202 /master prefix", rawPost("/master/api/v1/scheduler", []string{ctPB, sid}, revive), true, false},
		{"202 acknowledge, Accept", rawPost("/api/v1/scheduler", []string{ctPB, sid, "Accept: application/x-protobuf"}, ack), true, false},
		{"202 JSON", rawPost("/api/v1/scheduler", []string{"Content-Type: application/json", sid}, jsonRevive), true, false},
		{"202 keep-alive", rawPost("/api/v1/scheduler", []string{ctPB, sid, "Connection: keep-alive"}, revive), true, false},
		{"400 no stream id", rawPost("/api/v1/scheduler", []string{ctPB}, revive), true, false},
		{"400 wrong stream id", rawPost("/api/v1/scheduler", []string{ctPB, StreamIDHeader + ": 1234"}, revive), true, false},
		{"400 no Content-Type", rawPost("/api/v1/scheduler", []string{sid}, revive), true, false},
		{"400 bad protobuf", rawPost("/api/v1/scheduler", []string{ctPB, sid}, []byte{0xff, 0xff, 0xff}), false, false},
		{"400 no type", rawPost("/api/v1/scheduler", []string{"Content-Type: application/json", sid}, []byte(`{}`)), true, false},
		{"400 no body", rawPost("/api/v1/scheduler", []string{ctPB, sid}, nil), true, false},
		{"404 unknown framework", rawPost("/api/v1/scheduler", []string{ctPB, sid}, unknownFw), true, false},
		{"406", rawPost("/api/v1/scheduler", []string{ctPB, sid, "Accept: text/html"}, revive), true, false},
		{"413", rawPost("/api/v1/scheduler", []string{ctPB, sid}, bytes.Repeat([]byte{'x'}, 5<<10)), true, false},
		{"415", rawPost("/api/v1/scheduler", []string{"Content-Type: text/plain", sid}, revive), true, false},
		{"400 SUBSCRIBE with stream id", rawPost("/api/v1/scheduler", []string{ctPB, sid}, subscribeCall), false, false},
		{"405 GET", "GET /api/v1/scheduler HTTP/1.1\r\nHost: master\r\n\r\n", false, false},
		{"chunked body", "POST /api/v1/scheduler HTTP/1.1\r\nHost: m\r\n" + ctPB + "\r\n" + sid + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(revive), revive), false, false},
		{"oversized head", rawPost("/api/v1/scheduler", []string{ctPB, sid, "X-Big: " + strings.Repeat("b", 10<<10)}, revive), false, false},
		{"400 no Host", "POST /api/v1/scheduler HTTP/1.1\r\n" + ctPB + "\r\n" + sid + fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n%s", len(revive), revive), false, true},
		{"Connection: close", rawPost("/api/v1/scheduler", []string{ctPB, sid, "Connection: close"}, revive), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fast, slow := dialRaw(t, base), viaNetHTTP(t, base)
			want := slow.exchange(tc.req, 1)
			before := m.fast.Load().Served()
			got := fast.exchange(tc.req, 1)
			if served := m.fast.Load().Served() - before; served != map[bool]int64{true: 1}[tc.fast] {
				t.Errorf("h1pipe answered %d, want fast=%v", served, tc.fast)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("answers differ\nh1pipe:   %q\nnet/http: %q", got, want)
			}
			if want == nil {
				t.Fatal("no answer")
			}
			wait := 100 * time.Millisecond
			if tc.close {
				wait = 5 * time.Second
			}
			if fc, sc := fast.closed(wait), slow.closed(wait); fc != tc.close || sc != tc.close {
				t.Fatalf("connection closed after: h1pipe %v, net/http %v; want %v", fc, sc, tc.close)
			}
		})
	}

	// A head over net/http's bound (64 KiB) goes to net/http, which cuts
	// it (431, or a reset while the rest is still being sent).
	before := m.fast.Load().Served()
	big := dialRaw(t, base)
	big.exchangeMay(rawPost("/api/v1/scheduler", []string{ctPB, sid, "X-Big: " + strings.Repeat("b", 80<<10)}, revive))
	if !big.closed(5*time.Second) || m.fast.Load().Served() != before {
		t.Fatal("an 80 KiB head: connection kept, or answered by h1pipe")
	}

	// Every case that keeps the connection, pipelined in one write: the
	// same bytes as net/http's, in order.
	var batch strings.Builder
	n := 0
	for range 3 {
		for _, tc := range cases {
			if !tc.close {
				batch.WriteString(tc.req)
				n++
			}
		}
	}
	want := viaNetHTTP(t, base).exchange(batch.String(), n)
	got := dialRaw(t, base).exchange(batch.String(), n)
	if !bytes.Equal(got, want) {
		t.Fatalf("pipelined answers differ\nh1pipe:   %q\nnet/http: %q", got, want)
	}

	// Authentication and authorization: 401 without credentials, 400 for
	// another framework's principal, 403 for a role the ACL refuses.
	_, abase := startMaster(t, withAuth(t), withACLs(t, `{"register_frameworks": [
	  {"principals": {"values": ["alice"]}, "roles": {"values": ["web"]}},
	  {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}]}`))
	alice := basic{"alice", "a-secret"}
	info := principalInfo("fw", "alice")
	info.Role = proto.String("web")
	af, status, body := subscribeAs(t, abase, info, alice)
	if af == nil {
		t.Fatalf("alice subscribing: %d %s", status, body)
	}
	afid := af.nextOf(schedulerpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId()
	changed := proto.Clone(info).(*mesospb.FrameworkInfo)
	changed.Id = afid
	changed.Role = proto.String("batch")
	update := pb(&schedulerpb.Call{Type: schedulerpb.Call_UPDATE_FRAMEWORK.Enum(), FrameworkId: afid,
		UpdateFramework: &schedulerpb.Call_UpdateFramework{FrameworkInfo: changed}})
	areviv := pb(&schedulerpb.Call{FrameworkId: afid, Type: schedulerpb.Call_REVIVE.Enum()})
	auth := func(user, pass string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	asid := StreamIDHeader + ": " + af.stream
	for _, tc := range []struct{ name, req string }{
		{"202 authenticated", rawPost("/api/v1/scheduler", []string{ctPB, asid, auth("alice", "a-secret")}, areviv)},
		{"401", rawPost("/api/v1/scheduler", []string{ctPB, asid}, areviv)},
		{"401 wrong secret", rawPost("/api/v1/scheduler", []string{ctPB, asid, auth("alice", "no")}, areviv)},
		{"400 another principal", rawPost("/api/v1/scheduler", []string{ctPB, asid, auth("eve", "e-secret")}, areviv)},
		{"403 role refused", rawPost("/api/v1/scheduler", []string{ctPB, asid, auth("alice", "a-secret")}, update)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := viaNetHTTP(t, abase).exchange(tc.req, 1)
			got := dialRaw(t, abase).exchange(tc.req, 1)
			if !bytes.Equal(got, want) || want == nil {
				t.Fatalf("answers differ\nh1pipe:   %q\nnet/http: %q", got, want)
			}
			if code := tc.name[:3]; !bytes.HasPrefix(got, []byte("HTTP/1.1 "+code)) {
				t.Fatalf("answer %q, want %s", got, code)
			}
		})
	}
}

// notSubscribe lets no SUBSCRIBE through, whatever its encoding.
func TestNotSubscribe(t *testing.T) {
	sub := &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo("x")}}
	pbSub, _ := proto.Marshal(sub)
	pbBare, _ := proto.Marshal(&schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum()})
	pbRevive, _ := proto.Marshal(&schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum()})
	pbH := http.Header{"Content-Type": {"application/x-protobuf"}}
	jsH := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for _, tc := range []struct {
		h    http.Header
		body string
		want bool
	}{
		{pbH, string(pbSub), false},
		{pbH, string(pbBare), false},
		{http.Header{"Content-Type": {"Application/X-Protobuf; q=1"}}, string(pbSub), false},
		{pbH, string(pbRevive), true},
		{pbH, "\xff", false},
		{jsH, `{"type":"SUBSCRIBE","subscribe":{}}`, false},
		{jsH, `{"type":"subscribe"}`, false},
		{jsH, `{"type": 1}`, false},
		{jsH, `{"type":"1"}`, false},
		{jsH, `{"type":"\u0053UBSCRIBE"}`, false},
		{jsH, `{"type":"REVIVE"}`, true},
		{http.Header{"Content-Type": {"text/plain"}}, `anything`, true},
	} {
		if got := notSubscribe("/api/v1/scheduler", tc.h, []byte(tc.body)); got != tc.want {
			t.Errorf("notSubscribe(%v, %q) = %v, want %v", tc.h, tc.body, got, tc.want)
		}
	}
}
