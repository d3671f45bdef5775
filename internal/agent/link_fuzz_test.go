package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/resources"
)

// TestHugePingInterval: a ping interval whose silence limit is beyond a
// Duration saturates; it used to wrap to a negative limit, so the agent
// ended every session at once with "no ping from the master".
func TestHugePingInterval(t *testing.T) {
	for _, secs := range []float64{1e300, math.Inf(1), 2e9} {
		if d := pingSilence(DefaultMasterPingTimeouts, secs); d != math.MaxInt64 {
			t.Errorf("pingSilence(%g) = %v, want the longest Duration", secs, d)
		}
	}
	for _, secs := range []float64{0, -1, math.NaN()} {
		if d := pingSilence(DefaultMasterPingTimeouts, secs); d != 75*time.Second {
			t.Errorf("pingSilence(%g) = %v, want the default 75s", secs, d)
		}
	}
	if d := pingSilence(3, 0.5); d != 1500*time.Millisecond {
		t.Errorf("pingSilence(3, 0.5) = %v", d)
	}
}

// linkSeeds are link streams: REGISTERED then events, and broken ones.
func linkSeeds(f *testing.F, c codec.Codec) [][]byte {
	reg := func(iv float64) *linkpb.MasterEvent {
		return &linkpb.MasterEvent{Type: linkpb.MasterEvent_REGISTERED.Enum(), Registered: &linkpb.MasterEvent_Registered{
			AgentId: &mesospb.AgentID{Value: proto.String("a1")}, LinkId: proto.String("l1"),
			MasterInfo:          &mesospb.MasterInfo{Id: proto.String("m1"), Ip: proto.Uint32(0x7f000001), Port: proto.Uint32(5050)},
			PingIntervalSeconds: proto.Float64(iv)}}
	}
	ping := &linkpb.MasterEvent{Type: linkpb.MasterEvent_PING.Enum(), Ping: &linkpb.MasterEvent_Ping{Seq: proto.Uint64(1)}}
	run := &linkpb.MasterEvent{Type: linkpb.MasterEvent_RUN_TASK.Enum(), RunTask: &linkpb.MasterEvent_RunTask{
		Framework: frameworkInfo("f1"), Task: commandTask("t1", "true")}}
	kill := &linkpb.MasterEvent{Type: linkpb.MasterEvent_KILL_TASK.Enum(), KillTask: &linkpb.MasterEvent_KillTask{
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}, TaskId: &mesospb.TaskID{Value: proto.String("t1")}}}
	shut := &linkpb.MasterEvent{Type: linkpb.MasterEvent_SHUTDOWN_AGENT.Enum(), ShutdownAgent: &linkpb.MasterEvent_ShutdownAgent{}}
	noPayload := &linkpb.MasterEvent{Type: linkpb.MasterEvent_ACKNOWLEDGE.Enum()}
	v2 := reg(15) // a master that takes BATCH (link version 2)
	v2.Registered.LinkVersion = proto.Uint32(2)
	var out [][]byte
	for _, evs := range [][]*linkpb.MasterEvent{
		{reg(15), ping, run, kill, ping},
		{v2, ping, ping, run, ping, kill},
		{reg(1e300), ping},
		{reg(math.Inf(1))},
		{reg(-1), noPayload, shut, ping},
		{ping, reg(15)},
	} {
		var buf bytes.Buffer
		w := recordio.NewWriter(&buf)
		for _, e := range evs {
			if err := w.WriteMessage(c, e); err != nil {
				break // JSON has no infinity
			}
		}
		out = append(out, buf.Bytes())
	}
	return append(out, []byte("2\n{}"), []byte("5\n\x08\x01"), []byte("x\n"), nil)
}

// FuzzLinkStream feeds arbitrary bytes as the master's answer to REGISTER,
// the agent's side of the link: the session registers exactly when the
// first record is a well-formed REGISTERED, asks to register again exactly
// on a SHUTDOWN_AGENT after it, otherwise ends when the stream does, and
// never blames a silent master when the ping interval it was given is long.
func FuzzLinkStream(f *testing.F) {
	codecs := []codec.Codec{codec.Protobuf, codec.JSON}
	for i, c := range codecs {
		for _, s := range linkSeeds(f, c) {
			f.Add(uint8(i), s)
		}
	}
	var body atomic.Pointer[[]byte]
	var ctype atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ctype.Load().(string))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)

	a, err := New(Config{
		Master: srv.Listener.Addr().String(), WorkDir: f.TempDir(), Launcher: "/bin/true",
		Containerizer: newFakeContainerizer(), Detected: &resources.Detected{CPUs: 1},
	})
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	runCtx, stop := context.WithCancel(context.Background())
	f.Cleanup(stop)
	if err := a.start(runCtx, ln); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		dec := codecs[int(which)%len(codecs)]
		body.Store(&data)
		ctype.Store(dec.MediaType())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		registered, err := a.session(ctx, a.masterURLs[0])
		if ctx.Err() != nil {
			t.Fatalf("session on %q did not end with the stream", data)
		}
		a.mu.Lock()
		link := a.link
		a.closeStreamsLocked() // as SHUTDOWN_AGENT: the next input starts clean
		a.outbox = nil
		a.dispatchLocked(a.core.Reset())
		a.link = linkState{}
		a.mu.Unlock()

		// What the stream holds.
		var first *linkpb.MasterEvent
		relink := false
		rd := recordio.NewReader(bytes.NewReader(data), recordio.DefaultMaxRecordSize)
		for i := 0; ; i++ {
			ev := &linkpb.MasterEvent{}
			if rd.ReadMessage(dec, ev) != nil {
				break
			}
			if i == 0 {
				if ev.GetType() != linkpb.MasterEvent_REGISTERED || ev.GetRegistered() == nil {
					break
				}
				first = ev
			}
			if ev.GetType() == linkpb.MasterEvent_SHUTDOWN_AGENT {
				relink = true
				break
			}
		}

		if registered != (first != nil) {
			t.Fatalf("registered = %v on %q (err %v), want %v", registered, data, err, first != nil)
		}
		if err == nil {
			t.Fatalf("session on %q ended without an error", data)
		}
		if strings.Contains(err.Error(), "no ping from the master") {
			if first == nil || pingSilence(a.cfg.MasterPingTimeouts, first.GetRegistered().GetPingIntervalSeconds()) >= 30*time.Second {
				t.Fatalf("session on %q blamed a silent master: %v", data, err)
			}
			return
		}
		if errors.Is(err, errRelink) != relink {
			t.Fatalf("session on %q ended with %v; SHUTDOWN_AGENT after REGISTERED: %v", data, err, relink)
		}
		if first != nil && link.id != first.GetRegistered().GetLinkId() {
			t.Fatalf("link id %q after REGISTERED with %q", link.id, first.GetRegistered().GetLinkId())
		}
	})
}
