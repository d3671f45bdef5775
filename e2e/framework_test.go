package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/user"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/scheduler"
)

// framework is a test scheduler driven step by step: it keeps the offers it
// is given, acknowledges every update, and lets the test wait for states.
type framework struct {
	t      testing.TB
	client *scheduler.Client
	cancel context.CancelFunc
	done   chan error
	once   sync.Once

	mu      sync.Mutex
	cond    *sync.Cond
	offers  map[string]*mesospb.Offer // outstanding, by offer id
	updates []*mesospb.TaskStatus     // every update, in order
	events  []*schedulerpb.Event      // every FAILURE / RESCIND / MESSAGE / UPDATE_OPERATION_STATUS event
	subs    int                       // SUBSCRIBED events seen
	seen    []*mesospb.Offer          // every offer ever received
}

type fwOptions struct {
	id              *mesospb.FrameworkID
	failoverTimeout float64
	partitionAware  bool
	codec           codec.Codec
	checkpoint      bool
	capabilities    []mesospb.FrameworkInfo_Capability_Type // declared in addition to the above
	role, principal string                                  // FrameworkInfo's (default "*", none)
	httpClient      *http.Client                            // to the master (default: plain HTTP)
}

func newFramework(t testing.TB, master string, o fwOptions) *framework {
	t.Helper()
	u, _ := user.Current()
	fi := &mesospb.FrameworkInfo{
		User: proto.String(u.Username),
		Name: proto.String("e2e-" + t.Name()),
		Id:   o.id,
	}
	if o.checkpoint {
		fi.Checkpoint = proto.Bool(true)
	}
	if o.role != "" {
		fi.Role = proto.String(o.role)
	}
	if o.principal != "" {
		fi.Principal = proto.String(o.principal)
	}
	if o.failoverTimeout > 0 {
		fi.FailoverTimeout = proto.Float64(o.failoverTimeout)
	}
	if o.partitionAware {
		fi.Capabilities = append(fi.Capabilities, &mesospb.FrameworkInfo_Capability{
			Type: mesospb.FrameworkInfo_Capability_PARTITION_AWARE.Enum()})
	}
	for _, c := range o.capabilities {
		fi.Capabilities = append(fi.Capabilities, &mesospb.FrameworkInfo_Capability{Type: c.Enum()})
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &framework{
		t:      t,
		client: scheduler.New(scheduler.Config{Master: master, Framework: fi, Codec: o.codec, HTTPClient: o.httpClient}),
		cancel: cancel,
		done:   make(chan error, 1),
		offers: map[string]*mesospb.Offer{},
	}
	f.cond = sync.NewCond(&f.mu)
	go func() { f.done <- f.client.Run(ctx) }()
	go f.loop(ctx)
	t.Cleanup(f.stop)
	return f
}

// stop ends the subscription without tearing the framework down (as a
// crash or a network cut would).
func (f *framework) stop() {
	f.once.Do(func() {
		f.cancel()
		<-f.done
	})
}

func (f *framework) loop(ctx context.Context) {
	for ev := range f.client.Events() {
		f.mu.Lock()
		switch ev.GetType() {
		case schedulerpb.Event_SUBSCRIBED:
			f.subs++
		case schedulerpb.Event_OFFERS:
			for _, o := range ev.GetOffers().GetOffers() {
				f.offers[o.GetId().GetValue()] = o
				f.seen = append(f.seen, o)
			}
		case schedulerpb.Event_RESCIND:
			delete(f.offers, ev.GetRescind().GetOfferId().GetValue())
			f.events = append(f.events, ev)
		case schedulerpb.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			f.updates = append(f.updates, st)
			if len(st.GetUuid()) > 0 {
				go f.client.Acknowledge(ctx, st)
			}
		case schedulerpb.Event_FAILURE, schedulerpb.Event_MESSAGE, schedulerpb.Event_UPDATE_OPERATION_STATUS:
			f.events = append(f.events, ev)
		}
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// waitFor blocks until cond (called with f.mu held) is true, or fails the
// test after timeout.
func (f *framework) waitFor(timeout time.Duration, what string, cond func() bool) {
	f.t.Helper()
	timer := time.AfterFunc(timeout, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	f.mu.Lock()
	defer f.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out after %s waiting for %s; updates: %v", timeout, what, f.updatesLocked())
		}
		f.cond.Wait()
	}
}

func (f *framework) updatesLocked() []string {
	var s []string
	for _, u := range f.updates {
		s = append(s, fmt.Sprintf("%s:%s(%s)", u.GetTaskId().GetValue(), u.GetState(), u.GetMessage()))
	}
	return s
}

// launch waits for an offer (from agentID, if not empty) that holds res and
// launches a command task in it.
func (f *framework) launch(taskID, command, res, agentID string) *mesospb.Offer {
	f.t.Helper()
	need := resources.MustParse(res)
	var offer *mesospb.Offer
	f.waitFor(30*time.Second, "an offer for "+taskID, func() bool {
		for id, o := range f.offers {
			have, err := resources.FromProto(o.GetResources())
			if err == nil && have.Contains(need) && (agentID == "" || o.GetAgentId().GetValue() == agentID) {
				offer = o
				delete(f.offers, id)
				return true
			}
		}
		return false
	})
	task := &mesospb.TaskInfo{
		Name:      proto.String(taskID),
		TaskId:    &mesospb.TaskID{Value: proto.String(taskID)},
		AgentId:   offer.GetAgentId(),
		Resources: need.ToProto("*", false),
		Command:   &mesospb.CommandInfo{Value: proto.String(command)},
	}
	if err := f.client.Launch(context.Background(), offer, task); err != nil {
		f.t.Fatalf("launch %s: %v", taskID, err)
	}
	return offer
}

// waitState waits for an update putting taskID in state and returns it.
func (f *framework) waitState(taskID string, state mesospb.TaskState, timeout time.Duration) *mesospb.TaskStatus {
	f.t.Helper()
	var got *mesospb.TaskStatus
	f.waitFor(timeout, fmt.Sprintf("%s to reach %s", taskID, state), func() bool {
		for _, u := range f.updates {
			if u.GetTaskId().GetValue() == taskID && u.GetState() == state {
				got = u
				return true
			}
		}
		return false
	})
	return got
}

func (f *framework) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs
}

// declineAll declines every outstanding offer with no filter, so their
// resources come straight back in the next allocation.
func (f *framework) declineAll() {
	f.t.Helper()
	f.mu.Lock()
	var ids []*mesospb.OfferID
	for _, o := range f.offers {
		ids = append(ids, o.GetId())
	}
	clear(f.offers)
	f.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := f.client.Decline(context.Background(), ids, &mesospb.Filters{RefuseSeconds: proto.Float64(0)}); err != nil {
		f.t.Fatal(err)
	}
}
