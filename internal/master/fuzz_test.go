package master

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// fuzzMaster is a master whose loop runs, for handler-level tests that call
// its routes directly (no listener).
func fuzzMaster(t testing.TB) http.Handler {
	m, err := New(Config{Version: "fuzz", MaxCallBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.setup(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5050}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go m.loop.run(ctx)
	t.Cleanup(func() {
		cancel()
		<-m.loop.done
	})
	return m.routes()
}

// FuzzCallDecoding posts arbitrary bodies, in both media types, to the
// scheduler and link endpoints: every answer is a 2xx the call allows or a
// 4xx with a message, never a panic or a 5xx.
func FuzzCallDecoding(f *testing.F) {
	for _, c := range codecs {
		for _, m := range []proto.Message{
			&schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: fwInfo("f")}},
			&schedulerpb.Call{Type: schedulerpb.Call_DECLINE.Enum(), FrameworkId: &mesospb.FrameworkID{Value: proto.String("x")},
				Decline: &schedulerpb.Call_Decline{OfferIds: []*mesospb.OfferID{{Value: proto.String("o")}}}},
			&schedulerpb.Call{Type: schedulerpb.Call_ACKNOWLEDGE.Enum(), FrameworkId: &mesospb.FrameworkID{Value: proto.String("x")}},
			&linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), LinkId: proto.String("l"), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}},
			&linkpb.AgentCall{Type: linkpb.AgentCall_BATCH.Enum(), LinkId: proto.String("l"), Batch: &linkpb.AgentCall_Batch{
				Calls: []*linkpb.AgentCall{{Type: linkpb.AgentCall_PONG.Enum(), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(2)}},
					{Type: linkpb.AgentCall_BATCH.Enum()}}}},
			&linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
				AgentInfo: &mesospb.AgentInfo{Hostname: proto.String("h")}}},
		} {
			b, err := c.Marshal(m)
			if err != nil {
				f.Fatal(err)
			}
			_, isLink := m.(*linkpb.AgentCall)
			f.Add(b, c == codec.JSON, isLink, !isLink)
		}
	}
	f.Add([]byte(`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":null}]}}`), true, false, true)
	f.Add([]byte("\x08\x01\x12\x00"), false, false, false)
	f.Add([]byte(`null`), true, true, false)
	h := fuzzMaster(f)
	f.Fuzz(func(t *testing.T, body []byte, json, link, withStream bool) {
		ct := codec.MediaTypeProtobuf
		if json {
			ct = codec.MediaTypeJSON
		}
		path := "/api/v1/scheduler"
		if link {
			path = "/internal/v1/link"
		}
		// A canceled context makes a subscription end at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body))).WithContext(ctx)
		req.Header.Set("Content-Type", ct)
		if withStream {
			req.Header.Set(StreamIDHeader, "fuzz")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch code := rec.Code; {
		case code == http.StatusOK || code == http.StatusAccepted || code == http.StatusServiceUnavailable:
		case code >= 400 && code < 500:
			if strings.TrimSpace(rec.Body.String()) == "" {
				t.Fatalf("%d without a message", code)
			}
		default:
			t.Fatalf("status %d: %s", code, rec.Body.String())
		}
	})
}

func TestOutboxOverflowCloses(t *testing.T) {
	ob := newOutbox()
	ev := &schedulerpb.Event{Type: schedulerpb.Event_HEARTBEAT.Enum()}
	for range maxQueued {
		if !ob.push(ev) {
			t.Fatal("closed before the limit")
		}
	}
	if ob.push(ev) {
		t.Fatal("overflow not reported")
	}
	if !ob.push(ev) {
		t.Fatal("a push to a closed outbox must not report again")
	}
	msgs, closed := ob.take()
	if !closed || len(msgs) != maxQueued+1 {
		t.Fatalf("closed %v, %d queued", closed, len(msgs))
	}
}
