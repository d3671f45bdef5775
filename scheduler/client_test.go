package scheduler

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

var codecs = []codec.Codec{codec.Protobuf, codec.JSON}

// TestSubscribeAndCalls drives one subscription over loopback HTTP with each
// codec and checks the wire form of SUBSCRIBE, the order of events, and the
// headers and content of later calls.
func TestSubscribeAndCalls(t *testing.T) {
	for _, cdc := range codecs {
		t.Run(cdc.MediaType(), func(t *testing.T) {
			m := newFakeMaster(t)
			addr := m.serveHTTPTest()
			c := New(Config{Master: addr, Framework: framework(), Codec: cdc,
				SuppressedRoles: []string{"web"}})
			ctx, cancel := context.WithCancel(t.Context())
			done := runClient(ctx, c)

			sub := recv(t, m.subs, "SUBSCRIBE")
			if got := sub.header.Get("Content-Type"); got != cdc.MediaType() {
				t.Errorf("SUBSCRIBE Content-Type %q, want %q", got, cdc.MediaType())
			}
			if got := sub.header.Get("Accept"); got != cdc.MediaType() {
				t.Errorf("SUBSCRIBE Accept %q, want %q", got, cdc.MediaType())
			}
			info := sub.call.GetSubscribe().GetFrameworkInfo()
			if info.GetName() != "scheduler-test" || info.GetUser() != "tester" || info.Id != nil || sub.call.FrameworkId != nil {
				t.Errorf("first SUBSCRIBE = %v, want our FrameworkInfo without an id", sub.call)
			}
			if got := sub.call.GetSubscribe().GetSuppressedRoles(); len(got) != 1 || got[0] != "web" {
				t.Errorf("suppressed_roles = %v, want [web]", got)
			}

			// Before SUBSCRIBED there is no stream to call on.
			if err := c.Revive(ctx); !errors.Is(err, ErrNotSubscribed) {
				t.Errorf("call before SUBSCRIBED: %v, want ErrNotSubscribed", err)
			}

			sub.send(t, subscribedEvent("fw-1", 15))
			sub.send(t, offersEvent("fw-1", "o-1", "o-2"))
			sub.send(t, heartbeatEvent())
			recvEvent(t, c, schedulerpb.Event_SUBSCRIBED)
			offers := recvEvent(t, c, schedulerpb.Event_OFFERS).GetOffers().GetOffers()
			recvEvent(t, c, schedulerpb.Event_HEARTBEAT)
			if len(offers) != 2 || offers[1].GetId().GetValue() != "o-2" {
				t.Fatalf("offers = %v", offers)
			}
			if got := c.FrameworkID().GetValue(); got != "fw-1" {
				t.Errorf("FrameworkID() = %q, want fw-1", got)
			}
			if got, want := c.Leader(), "http://"+addr; got != want {
				t.Errorf("Leader() = %q, want %q", got, want)
			}

			filters := &mesospb.Filters{RefuseSeconds: proto.Float64(30)}
			if err := c.Decline(ctx, []*mesospb.OfferID{offers[0].GetId()}, filters); err != nil {
				t.Fatalf("Decline: %v", err)
			}
			got := recv(t, m.calls, "DECLINE")
			checkCallHeaders(t, got, cdc, sub.streamID)
			want := &schedulerpb.Call{
				FrameworkId: &mesospb.FrameworkID{Value: proto.String("fw-1")},
				Type:        schedulerpb.Call_DECLINE.Enum(),
				Decline:     &schedulerpb.Call_Decline{OfferIds: []*mesospb.OfferID{offers[0].GetId()}, Filters: filters},
			}
			if !proto.Equal(got.msg, want) {
				t.Errorf("DECLINE on the wire = %v, want %v", got.msg, want)
			}

			task := &mesospb.TaskInfo{
				Name:    proto.String("t"),
				TaskId:  &mesospb.TaskID{Value: proto.String("t-1")},
				Command: &mesospb.CommandInfo{Value: proto.String("true")},
			}
			if err := c.Launch(ctx, offers[1], task); err != nil {
				t.Fatalf("Launch: %v", err)
			}
			launch := recv(t, m.calls, "ACCEPT").msg
			op := launch.GetAccept().GetOperations()[0]
			if launch.GetType() != schedulerpb.Call_ACCEPT || op.GetType() != mesospb.Offer_Operation_LAUNCH ||
				op.GetLaunch().GetTaskInfos()[0].GetAgentId().GetValue() != "agent-1" ||
				launch.GetAccept().GetOfferIds()[0].GetValue() != "o-2" {
				t.Errorf("LAUNCH on the wire = %v", launch)
			}

			status := &mesospb.TaskStatus{
				TaskId:  task.TaskId,
				State:   mesospb.TaskState_TASK_RUNNING.Enum(),
				AgentId: &mesospb.AgentID{Value: proto.String("agent-1")},
				Uuid:    []byte("0123456789abcdef"),
			}
			if err := c.Acknowledge(ctx, status); err != nil {
				t.Fatalf("Acknowledge: %v", err)
			}
			ack := recv(t, m.calls, "ACKNOWLEDGE").msg.GetAcknowledge()
			if string(ack.GetUuid()) != "0123456789abcdef" || ack.GetTaskId().GetValue() != "t-1" {
				t.Errorf("ACKNOWLEDGE on the wire = %v", ack)
			}
			// An update without uuid needs no acknowledgement.
			status.Uuid = nil
			if err := c.Acknowledge(ctx, status); err != nil {
				t.Errorf("Acknowledge without uuid: %v", err)
			}

			m.queueCallAnswer(answer{status: http.StatusBadRequest, body: "Task 't-9' is unknown\n"})
			err := c.Kill(ctx, &mesospb.TaskID{Value: proto.String("t-9")}, nil)
			he, ok := errors.AsType[*HTTPError](err)
			if !ok || he.Status != http.StatusBadRequest || he.Body != "Task 't-9' is unknown" {
				t.Errorf("Kill answered 400: err = %#v, want *HTTPError{400, body}", err)
			}
			recv(t, m.calls, "KILL")

			cancel()
			if err := recv(t, done, "Run to return"); err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
			if _, ok := recvOK(t, c.Events(), "Events to close"); ok {
				t.Errorf("Events not closed after Run returned")
			}
		})
	}
}

func checkCallHeaders(t *testing.T, c *call, cdc codec.Codec, streamID string) {
	t.Helper()
	if got := c.header.Get("Content-Type"); got != cdc.MediaType() {
		t.Errorf("%s Content-Type %q, want %q", c.msg.GetType(), got, cdc.MediaType())
	}
	if got := c.header.Get(streamIDHeader); got != streamID {
		t.Errorf("%s %s %q, want %q", c.msg.GetType(), streamIDHeader, got, streamID)
	}
}

// TestRedirectToLeader: a non-leading master answers 307 with a
// scheme-relative Location; the client subscribes at the leader and sends
// its calls there, following a 307 on a call as well.
func TestRedirectToLeader(t *testing.T) {
	leader := newFakeMaster(t)
	leaderAddr := leader.serveHTTPTest()
	follower := newFakeMaster(t)
	followerAddr := follower.serveHTTPTest()
	follower.setRedirect("//" + leaderAddr + "/api/v1/scheduler")

	c := New(Config{Master: "http://" + followerAddr, Framework: framework()})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runClient(ctx, c)

	sub := recv(t, leader.subs, "SUBSCRIBE at the leader")
	sub.send(t, subscribedEvent("fw-1", 15))
	recvEvent(t, c, schedulerpb.Event_SUBSCRIBED)
	if got, want := c.Leader(), "http://"+leaderAddr; got != want {
		t.Errorf("Leader() = %q, want %q", got, want)
	}

	// The leader redirects a call to itself once (as a master does while
	// leadership moves); the client follows and the call lands.
	leader.queueCallAnswer(answer{status: http.StatusTemporaryRedirect, location: "//" + leaderAddr + "/api/v1/scheduler"})
	if err := c.Revive(ctx); err != nil {
		t.Fatalf("Revive: %v", err)
	}
	recv(t, leader.calls, "REVIVE (redirected)")
	recv(t, leader.calls, "REVIVE (followed)")

	cancel()
	if err := recv(t, done, "Run to return"); err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestResubscribeAfterDrop: when the master ends the stream, the client
// subscribes again with the framework id it was given, and calls use the
// new stream id.
func TestResubscribeAfterDrop(t *testing.T) {
	m := newFakeMaster(t)
	addr := m.serveHTTPTest()
	c := New(Config{Master: addr, Framework: framework(), BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runClient(ctx, c)

	first := recv(t, m.subs, "first SUBSCRIBE")
	first.send(t, subscribedEvent("fw-7", 15))
	recvEvent(t, c, schedulerpb.Event_SUBSCRIBED)
	m.queueSubscribeStatus(http.StatusServiceUnavailable) // the master will briefly have no leader
	close(first.events)                                   // and drops the stream
	second := recv(t, m.subs, "second SUBSCRIBE")
	if got := second.call.GetFrameworkId().GetValue(); got != "fw-7" {
		t.Errorf("resubscribe Call.framework_id = %q, want fw-7", got)
	}
	if got := second.call.GetSubscribe().GetFrameworkInfo().GetId().GetValue(); got != "fw-7" {
		t.Errorf("resubscribe FrameworkInfo.id = %q, want fw-7", got)
	}
	second.send(t, subscribedEvent("fw-7", 15))
	recvEvent(t, c, schedulerpb.Event_SUBSCRIBED)
	if err := c.Reconcile(ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	got := recv(t, m.calls, "RECONCILE")
	checkCallHeaders(t, got, codec.Protobuf, second.streamID)

	cancel()
	if err := recv(t, done, "Run to return"); err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestFailoverWithConfiguredID: a FrameworkInfo.id in the config makes the
// first SUBSCRIBE a failover.
func TestFailoverWithConfiguredID(t *testing.T) {
	m := newFakeMaster(t)
	addr := m.serveHTTPTest()
	fw := framework()
	fw.Id = &mesospb.FrameworkID{Value: proto.String("fw-old")}
	c := New(Config{Master: addr, Framework: fw})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runClient(ctx, c)
	sub := recv(t, m.subs, "SUBSCRIBE")
	if sub.call.GetFrameworkId().GetValue() != "fw-old" || sub.call.GetSubscribe().GetFrameworkInfo().GetId().GetValue() != "fw-old" {
		t.Errorf("failover SUBSCRIBE = %v, want framework id fw-old", sub.call)
	}
	cancel()
	recv(t, done, "Run to return")
}

// TestErrorEventEndsRun: an ERROR event is delivered, then Run returns an
// error wrapping ErrRejected and Events closes.
func TestErrorEventEndsRun(t *testing.T) {
	m := newFakeMaster(t)
	addr := m.serveHTTPTest()
	c := New(Config{Master: addr, Framework: framework()})
	done := runClient(t.Context(), c)
	sub := recv(t, m.subs, "SUBSCRIBE")
	sub.send(t, &schedulerpb.Event{
		Type:  schedulerpb.Event_ERROR.Enum(),
		Error: &schedulerpb.Event_Error{Message: proto.String("Framework has been removed")},
	})
	ev := recvEvent(t, c, schedulerpb.Event_ERROR)
	if ev.GetError().GetMessage() != "Framework has been removed" {
		t.Errorf("ERROR message = %q", ev.GetError().GetMessage())
	}
	err := recv(t, done, "Run to return")
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "Framework has been removed") {
		t.Errorf("Run = %v, want ErrRejected with the message", err)
	}
	if _, ok := recvOK(t, c.Events(), "Events to close"); ok {
		t.Errorf("Events not closed")
	}
}

// TestSubscribeRefused: a 4xx to SUBSCRIBE is final.
func TestSubscribeRefused(t *testing.T) {
	m := newFakeMaster(t)
	addr := m.serveHTTPTest()
	m.queueSubscribeStatus(http.StatusForbidden)
	c := New(Config{Master: addr, Framework: framework()})
	err := recv(t, runClient(t.Context(), c), "Run to return")
	he, ok := errors.AsType[*HTTPError](err)
	if !ok || he.Status != http.StatusForbidden || he.Body != "not now" {
		t.Errorf("Run = %#v, want *HTTPError 403 with body", err)
	}
}

// TestTeardown: after TEARDOWN is accepted, Run returns nil.
func TestTeardown(t *testing.T) {
	m := newFakeMaster(t)
	addr := m.serveHTTPTest()
	c := New(Config{Master: addr, Framework: framework(), Codec: codec.JSON})
	done := runClient(t.Context(), c)
	sub := recv(t, m.subs, "SUBSCRIBE")
	sub.send(t, subscribedEvent("fw-1", 15))
	recvEvent(t, c, schedulerpb.Event_SUBSCRIBED)
	if err := c.Teardown(t.Context()); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if got := recv(t, m.calls, "TEARDOWN").msg; got.GetType() != schedulerpb.Call_TEARDOWN || got.GetFrameworkId().GetValue() != "fw-1" {
		t.Errorf("TEARDOWN on the wire = %v", got)
	}
	if err := recv(t, done, "Run to return"); err != nil {
		t.Errorf("Run after Teardown = %v, want nil", err)
	}
	if err := c.Revive(t.Context()); !errors.Is(err, ErrNotSubscribed) {
		t.Errorf("call after teardown = %v, want ErrNotSubscribed", err)
	}
}

// The master may end the stream with an ERROR ("framework removed") before
// the TEARDOWN call's own 202 reaches the client: Run still returns nil.
func TestTeardownErrorBeforeAnswer(t *testing.T) {
	m := newFakeMaster(t)
	addr := m.serveHTTPTest()
	c := New(Config{Master: addr, Framework: framework(), Codec: codec.JSON})
	done := runClient(t.Context(), c)
	sub := recv(t, m.subs, "SUBSCRIBE")
	sub.send(t, subscribedEvent("fw-1", 15))
	recvEvent(t, c, schedulerpb.Event_SUBSCRIBED)

	release := make(chan struct{})
	m.queueCallAnswer(answer{status: http.StatusAccepted, hold: release})
	torn := make(chan error, 1)
	go func() { torn <- c.Teardown(t.Context()) }()
	recv(t, m.calls, "TEARDOWN")
	sub.send(t, &schedulerpb.Event{Type: schedulerpb.Event_ERROR.Enum(),
		Error: &schedulerpb.Event_Error{Message: proto.String("Framework has been removed")}})
	if err := recv(t, done, "Run to return"); err != nil {
		t.Errorf("Run after a teardown's ERROR = %v, want nil", err)
	}
	close(release)
	if err := recv(t, torn, "Teardown to return"); err != nil {
		t.Errorf("Teardown = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Master: "", Framework: framework()},
		{Master: "zk://zk1:2181/mesos", Framework: framework()},
		{Master: "127.0.0.1:5050"},
	} {
		c := New(cfg)
		if err := c.Run(t.Context()); !errors.Is(err, ErrConfig) {
			t.Errorf("Run(%+v) = %v, want ErrConfig", cfg, err)
		}
		if err := c.Run(t.Context()); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run = %v, want ErrRunning", err)
		}
	}
}

func TestCallRefusesSubscribe(t *testing.T) {
	c := New(Config{Master: "127.0.0.1:1", Framework: framework()})
	err := c.Call(t.Context(), &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum()})
	if !errors.Is(err, ErrBadCall) {
		t.Errorf("Call(SUBSCRIBE) = %v, want ErrBadCall", err)
	}
}
