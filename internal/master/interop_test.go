package master

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/scheduler"
	"google.golang.org/protobuf/proto"
)

// TestSchedulerClientInterop runs the public scheduler client against the
// master and a fake agent: subscribe, launch, status update, acknowledge,
// reconcile and teardown.
func TestSchedulerClientInterop(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			_, base := startMaster(t)
			agent := registerAgent(t, base, codec.Protobuf, "host1", "cpus:2;mem:256")
			info := fwInfo("interop")
			info.FailoverTimeout = proto.Float64(60)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			client := scheduler.New(scheduler.Config{Master: strings.TrimPrefix(base, "http://"), Framework: info, Codec: c,
				BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond})
			runDone := make(chan error, 1)
			go func() { runDone <- client.Run(ctx) }()
			next := func(typ schedulerpb.Event_Type) *schedulerpb.Event {
				t.Helper()
				deadline := time.After(waitFor)
				for {
					select {
					case ev := <-client.Events():
						if ev.GetType() == typ {
							return ev
						}
					case <-deadline:
						t.Fatalf("no %s event", typ)
					}
				}
			}
			sub := next(schedulerpb.Event_SUBSCRIBED)
			fwID := sub.GetSubscribed().GetFrameworkId().GetValue()
			offer := next(schedulerpb.Event_OFFERS).GetOffers().GetOffers()[0]
			task := &mesospb.TaskInfo{Name: proto.String("t"), TaskId: &mesospb.TaskID{Value: proto.String("t")},
				AgentId: offer.GetAgentId(), Resources: offer.GetResources(),
				Command: &mesospb.CommandInfo{Value: proto.String("sleep 1")}}
			if err := client.Launch(ctx, offer, task); err != nil {
				t.Fatal(err)
			}
			agent.nextOf(linkpb.MasterEvent_RUN_TASK)
			uuid := []byte("fedcba9876543210")
			if status, body := agent.send(&linkpb.AgentCall{Type: linkpb.AgentCall_STATUS_UPDATE.Enum(),
				StatusUpdate: &linkpb.AgentCall_StatusUpdate{FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)},
					Status: &mesospb.TaskStatus{TaskId: task.TaskId, State: mesospb.TaskState_TASK_RUNNING.Enum(),
						AgentId: offer.GetAgentId(), Uuid: uuid}}}); status != 202 {
				t.Fatalf("status update: %d %s", status, body)
			}
			up := next(schedulerpb.Event_UPDATE).GetUpdate().GetStatus()
			if err := client.Acknowledge(ctx, up); err != nil {
				t.Fatal(err)
			}
			agent.nextOf(linkpb.MasterEvent_ACKNOWLEDGE)

			if err := client.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			next(schedulerpb.Event_UPDATE)
			if err := client.Teardown(ctx); err != nil {
				t.Fatal(err)
			}
			agent.nextOf(linkpb.MasterEvent_SHUTDOWN_FRAMEWORK)
			select {
			case err := <-runDone:
				if err != nil {
					t.Fatalf("Run after teardown: %v", err)
				}
			case <-time.After(waitFor):
				t.Fatal("Run did not return after teardown")
			}
		})
	}
}
