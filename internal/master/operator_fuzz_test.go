package master

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
)

// FuzzOperatorAPI posts arbitrary bodies, in both media types, to
// POST /api/v1: every answer is 200, 4xx or 501 with a message, or 503
// (a subscription whose client is gone), never a panic or another 5xx.
func FuzzOperatorAPI(f *testing.F) {
	for _, c := range codecs {
		for _, m := range []*masterpb.Call{
			{Type: masterpb.Call_GET_STATE.Enum()},
			{Type: masterpb.Call_SUBSCRIBE.Enum()},
			{Type: masterpb.Call_GET_METRICS.Enum(), GetMetrics: &masterpb.Call_GetMetrics{Timeout: &mesospb.DurationInfo{Nanoseconds: proto.Int64(1)}}},
			{Type: masterpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &masterpb.Call_SetLoggingLevel{Level: proto.Uint32(1),
				Duration: &mesospb.DurationInfo{Nanoseconds: proto.Int64(1)}}},
			{Type: masterpb.Call_TEARDOWN.Enum(), Teardown: &masterpb.Call_Teardown{FrameworkId: &mesospb.FrameworkID{Value: proto.String("f")}}},
			{Type: masterpb.Call_RESERVE_RESOURCES.Enum()},
			updateSchedule(window(1, 2, machine("h", "10.0.0.1")), window(3, 0, machine("g", ""))),
			startMaint(machine("h", "10.0.0.1")),
			stopMaint(machine("h", "10.0.0.1")),
			{Type: masterpb.Call_GET_MAINTENANCE_STATUS.Enum()},
			drainCall("a", 1, true),
		} {
			b, err := c.Marshal(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, c == codec.JSON)
		}
	}
	f.Add([]byte(`{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":4294967295,"duration":{"nanoseconds":-1}}}`), true)
	f.Add([]byte(`{"type":99}`), true)
	f.Add([]byte("\x08\x63"), false)
	h := fuzzMaster(f)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		ct := codec.MediaTypeProtobuf
		if json {
			ct = codec.MediaTypeJSON
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a subscription ends at once
		req := httptest.NewRequest(http.MethodPost, "/api/v1", strings.NewReader(string(body))).WithContext(ctx)
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch code := rec.Code; {
		case code == http.StatusOK || code == http.StatusServiceUnavailable:
		case code >= 400 && code < 500 || code == http.StatusNotImplemented:
			if strings.TrimSpace(rec.Body.String()) == "" {
				t.Fatalf("%d without a message", code)
			}
		default:
			t.Fatalf("status %d: %s", code, rec.Body.String())
		}
	})
}
