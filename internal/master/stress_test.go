package master

import (
	"fmt"
	"testing"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// TestConcurrentFrameworks has many frameworks subscribe, decline offers
// and tear down at once while agents register (run with -race).
func TestConcurrentFrameworks(t *testing.T) {
	_, base := startMaster(t)
	for i := range 4 {
		registerAgent(t, base, codecs[i%2], fmt.Sprintf("host%d", i), "cpus:4;mem:1024")
	}
	// Parallel subtests run at once; the group returns when all are done.
	t.Run("group", func(t *testing.T) {
		for i := range 12 {
			t.Run(fmt.Sprintf("fw%d", i), func(t *testing.T) {
				t.Parallel()
				c := codecs[i%2]
				f := subscribe(t, base, c, fwInfo(fmt.Sprintf("fw%d", i)))
				for range 3 {
					if status, body := f.call(&schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum()}); status != 202 {
						t.Errorf("revive: %d %s", status, body)
						return
					}
				}
				decline := &schedulerpb.Call{Type: schedulerpb.Call_DECLINE.Enum(), Decline: &schedulerpb.Call_Decline{
					OfferIds: []*mesospb.OfferID{{Value: proto.String("not-an-offer")}},
					Filters:  &mesospb.Filters{RefuseSeconds: proto.Float64(0)}}}
				if status, body := f.call(decline); status != 202 {
					t.Errorf("decline: %d %s", status, body)
					return
				}
				if status, body := f.call(&schedulerpb.Call{Type: schedulerpb.Call_TEARDOWN.Enum()}); status != 202 {
					t.Errorf("teardown: %d %s", status, body)
					return
				}
				if err := f.events.ended(); !isEOF(err) {
					t.Errorf("stream after teardown: %v", err)
				}
			})
		}
	})
	var st struct {
		Frameworks          []any `json:"frameworks"`
		CompletedFrameworks []any `json:"completed_frameworks"`
	}
	getJSON(t, base+"/state", &st)
	if len(st.Frameworks) != 0 || len(st.CompletedFrameworks) != 12 {
		t.Fatalf("frameworks %d, completed %d", len(st.Frameworks), len(st.CompletedFrameworks))
	}
}
