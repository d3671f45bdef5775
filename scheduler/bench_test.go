package scheduler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// BenchmarkEventStream measures how fast Run decodes and delivers events
// from a loopback master: one OFFERS event of 10 offers per iteration.
func BenchmarkEventStream(b *testing.B) {
	for _, cdc := range []codec.Codec{codec.Protobuf, codec.JSON} {
		b.Run(cdc.MediaType(), func(b *testing.B) {
			ids := make([]string, 10)
			for i := range ids {
				ids[i] = "offer-" + strconv.Itoa(i)
			}
			offers := offersEvent("fw-1", ids...)
			data, _ := cdc.Marshal(offers)
			n := b.N
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", cdc.MediaType())
				w.Header().Set(streamIDHeader, "s")
				w.WriteHeader(http.StatusOK)
				rw := recordio.NewWriter(w)
				if rw.WriteMessage(cdc, subscribedEvent("fw-1", 15)) != nil {
					return
				}
				for range n {
					if rw.WriteRecord(data) != nil {
						return
					}
				}
				<-r.Context().Done()
			}))
			defer srv.Close()
			c := New(Config{Master: srv.Listener.Addr().String(), Framework: framework(), Codec: cdc})
			ctx, cancel := context.WithCancel(context.Background())
			done := runClient(ctx, c)
			if ev := <-c.Events(); ev.GetType() != schedulerpb.Event_SUBSCRIBED {
				b.Fatalf("first event %v", ev.GetType())
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range n {
				<-c.Events()
			}
			b.StopTimer()
			cancel()
			<-done
		})
	}
}
