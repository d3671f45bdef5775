package scheduler

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// TestHugeHeartbeatInterval: an interval whose silence limit is beyond a
// Duration saturates; it used to wrap to a negative limit, so the client
// dropped every subscription at once as "heartbeat lost".
func TestHugeHeartbeatInterval(t *testing.T) {
	c := New(Config{})
	for _, secs := range []float64{1e300, math.Inf(1), math.MaxInt64 / 1e9, 2e9} {
		if d := c.silenceLimit(secs); d != math.MaxInt64 {
			t.Errorf("silenceLimit(%g) = %v, want the longest Duration", secs, d)
		}
	}
	if d := c.silenceLimit(math.NaN()); d != 75*time.Second {
		t.Errorf("silenceLimit(NaN) = %v, want the default 75s", d)
	}
}

// FuzzSilenceLimit: the silence limit is never negative, is HeartbeatMisses
// intervals (saturating), and grows with the interval.
func FuzzSilenceLimit(f *testing.F) {
	for _, s := range []float64{0, -1, 15, 0.5, 1e-12, 1e9, 1e300, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64} {
		f.Add(s, uint8(5))
	}
	f.Fuzz(func(t *testing.T, secs float64, misses uint8) {
		c := New(Config{HeartbeatMisses: int(misses)})
		d := c.silenceLimit(secs)
		if d < 0 {
			t.Fatalf("silenceLimit(%g) = %v with %d misses: negative", secs, d, misses)
		}
		iv := secs
		if !(iv > 0) {
			iv = defaultHeartbeat.Seconds()
		}
		want := float64(c.cfg.HeartbeatMisses) * iv * 1e9
		if want >= math.MaxInt64 {
			if d != math.MaxInt64 {
				t.Fatalf("silenceLimit(%g) = %v, want the longest Duration", secs, d)
			}
		} else if diff := math.Abs(float64(d) - want); diff > 1+want*1e-12 {
			t.Fatalf("silenceLimit(%g) = %v with %d misses, want %gns", secs, d, c.cfg.HeartbeatMisses, want)
		}
		if secs > 0 && c.silenceLimit(secs*2) < d {
			t.Fatalf("silenceLimit(%g) = %v > silenceLimit(%g) = %v", secs, d, secs*2, c.silenceLimit(secs*2))
		}
	})
}

// streamSeeds are event streams: SUBSCRIBED then events, and broken ones.
func streamSeeds(f *testing.F, c codec.Codec) [][]byte {
	sub := func(hb float64) *schedulerpb.Event {
		return &schedulerpb.Event{Type: schedulerpb.Event_SUBSCRIBED.Enum(), Subscribed: &schedulerpb.Event_Subscribed{
			FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")}, HeartbeatIntervalSeconds: proto.Float64(hb)}}
	}
	ev := func(t schedulerpb.Event_Type) *schedulerpb.Event { return &schedulerpb.Event{Type: t.Enum()} }
	errEv := &schedulerpb.Event{Type: schedulerpb.Event_ERROR.Enum(), Error: &schedulerpb.Event_Error{Message: proto.String("no")}}
	var out [][]byte
	for _, evs := range [][]*schedulerpb.Event{
		{sub(15), ev(schedulerpb.Event_HEARTBEAT), ev(schedulerpb.Event_HEARTBEAT)},
		{sub(1e300), ev(schedulerpb.Event_HEARTBEAT)},
		{sub(math.Inf(1))},
		{sub(-3), errEv, ev(schedulerpb.Event_HEARTBEAT)},
		{ev(schedulerpb.Event_HEARTBEAT), sub(0)},
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
	return append(out, []byte("3\n{}"), []byte("99\n{"), []byte("x\n"), nil)
}

// FuzzEventStream feeds arbitrary bytes as a subscription's event stream:
// the client delivers exactly the records that decode, in order, up to and
// including an ERROR, and ends the session with a matching error; it never
// declares the heartbeat lost when the interval it was given is long.
func FuzzEventStream(f *testing.F) {
	codecs := []codec.Codec{codec.Protobuf, codec.JSON}
	for i, c := range codecs {
		for _, s := range streamSeeds(f, c) {
			f.Add(uint8(i), s)
		}
	}
	var body atomic.Pointer[[]byte]
	var ctype atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype.Load().(string))
		w.Header().Set(streamIDHeader, "s1")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		dec := codecs[int(which)%len(codecs)]
		body.Store(&data)
		ctype.Store(dec.MediaType())
		c := New(Config{Master: srv.URL, Framework: &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("n")},
			EventBuffer: len(data) + 1})
		if c.cfgErr != nil {
			t.Fatal(c.cfgErr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := c.session(ctx, c.masters[0])
		var got []*schedulerpb.Event
		for len(c.events) > 0 {
			got = append(got, <-c.events)
		}

		// What the stream holds: the records that decode, up to an ERROR.
		var want []*schedulerpb.Event
		wantErr := errStreamEnded
		rd := recordio.NewReader(bytes.NewReader(data), c.cfg.MaxEventSize)
		for {
			rec, rerr := rd.ReadRecord()
			if rerr != nil {
				if rerr != io.EOF {
					wantErr = nil // a framing error: any error but the clean end
				}
				break
			}
			ev := &schedulerpb.Event{}
			if dec.Unmarshal(rec, ev) != nil {
				wantErr = nil
				break
			}
			want = append(want, ev)
			if ev.GetType() == schedulerpb.Event_ERROR {
				wantErr = ErrRejected
				break
			}
		}

		if errors.Is(err, ErrHeartbeatLost) {
			// Allowed only when a SUBSCRIBED in what was delivered asked for
			// an interval short enough to run out during the test.
			short := false
			for _, ev := range got {
				if ev.GetType() == schedulerpb.Event_SUBSCRIBED && c.silenceLimit(ev.GetSubscribed().GetHeartbeatIntervalSeconds()) < 30*time.Second {
					short = true
				}
			}
			if !short {
				t.Fatalf("heartbeat lost with long intervals after %d events of %q", len(got), data)
			}
			want = want[:min(len(want), len(got))]
		} else {
			switch {
			case err == nil:
				t.Fatalf("session ended without an error on %q", data)
			case wantErr != nil && !errors.Is(err, wantErr):
				t.Fatalf("session on %q ended with %v, want %v", data, err, wantErr)
			case wantErr == nil && (errors.Is(err, errStreamEnded) || errors.Is(err, ErrRejected)):
				t.Fatalf("session on a broken stream %q ended with %v", data, err)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("delivered %d events of %q, want %d (err %v)", len(got), data, len(want), err)
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("event %d = %v, want %v", i, got[i], want[i])
			}
		}
	})
}
