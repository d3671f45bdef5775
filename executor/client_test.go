package executor

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/memnet"
)

func TestSubscribeUpdateAcknowledge(t *testing.T) {
	for _, cdc := range []codec.Codec{codec.Protobuf, codec.JSON} {
		t.Run(cdc.MediaType(), func(t *testing.T) {
			a := newFakeAgent(t)
			cfg := testConfig(a.serveHTTPTest())
			cfg.Codec = cdc
			cfg.AuthenticationToken = "tok-1"
			c := New(cfg)
			ctx, cancel := context.WithCancel(t.Context())
			done := runClient(ctx, c)

			sub := recv(t, a.subs, "SUBSCRIBE")
			if got := sub.header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("SUBSCRIBE Authorization %q, want the executor token as Bearer", got)
			}
			if got := sub.header.Get("Content-Type"); got != cdc.MediaType() {
				t.Errorf("SUBSCRIBE Content-Type %q, want %q", got, cdc.MediaType())
			}
			if s := sub.call.GetSubscribe(); len(s.GetUnacknowledgedTasks())+len(s.GetUnacknowledgedUpdates()) != 0 {
				t.Errorf("first SUBSCRIBE carries unacknowledged work: %v", s)
			}
			if err := c.Message(ctx, []byte("early")); !errors.Is(err, ErrNotSubscribed) {
				t.Errorf("Message before SUBSCRIBED = %v, want ErrNotSubscribed", err)
			}
			sub.send(t, subscribedEvent())
			recvEvent(t, c, executorpb.Event_SUBSCRIBED)
			if got := c.Subscribed().GetAgentInfo().GetId().GetValue(); got != "agent-1" {
				t.Errorf("Subscribed() agent id = %q", got)
			}

			sub.send(t, launchEvent("t1"))
			recvEvent(t, c, executorpb.Event_LAUNCH)
			if tasks, _ := c.Unacknowledged(); len(tasks) != 1 || tasks[0].GetTaskId().GetValue() != "t1" {
				t.Errorf("unacknowledged tasks after LAUNCH = %v", tasks)
			}

			if err := c.Update(ctx, status("t1", mesospb.TaskState_TASK_RUNNING)); err != nil {
				t.Fatalf("Update: %v", err)
			}
			upCall := recv(t, a.calls, "UPDATE")
			if got := upCall.header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("UPDATE Authorization %q, want the executor token as Bearer", got)
			}
			up := upCall.msg
			st := up.GetUpdate().GetStatus()
			if up.GetType() != executorpb.Call_UPDATE || len(st.GetUuid()) != 16 ||
				st.GetSource() != mesospb.TaskStatus_SOURCE_EXECUTOR || st.GetExecutorId().GetValue() != "ex-1" ||
				st.GetTimestamp() <= 0 || st.GetState() != mesospb.TaskState_TASK_RUNNING {
				t.Errorf("UPDATE on the wire = %v", up)
			}
			if _, ups := c.Unacknowledged(); len(ups) != 1 {
				t.Errorf("unacknowledged updates before ACK = %d, want 1", len(ups))
			}
			sub.send(t, ackEvent(up.GetUpdate()))
			recvEvent(t, c, executorpb.Event_ACKNOWLEDGED)
			if tasks, ups := c.Unacknowledged(); len(tasks)+len(ups) != 0 {
				t.Errorf("after ACKNOWLEDGED: tasks %v, updates %v; want none", tasks, ups)
			}

			if err := c.Message(ctx, []byte("hello")); err != nil {
				t.Fatalf("Message: %v", err)
			}
			if got := recv(t, a.calls, "MESSAGE").msg; string(got.GetMessage().GetData()) != "hello" {
				t.Errorf("MESSAGE on the wire = %v", got)
			}

			cancel()
			if err := recv(t, done, "Run to return"); err != nil {
				t.Errorf("Run = %v", err)
			}
			if _, ok := <-c.Events(); ok {
				t.Errorf("Events not closed")
			}
		})
	}
}

// TestResubscribeWithUnacknowledged: a checkpointing executor resubscribes
// with the tasks and updates the agent has not acknowledged, and sends an
// update made while it was disconnected once subscribed again.
func TestResubscribeWithUnacknowledged(t *testing.T) {
	a := newFakeAgent(t)
	cfg := testConfig(a.serveHTTPTest())
	cfg.Checkpoint = true
	c := New(cfg)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runClient(ctx, c)

	first := recv(t, a.subs, "SUBSCRIBE")
	first.send(t, subscribedEvent())
	first.send(t, launchEvent("t1"))
	first.send(t, launchEvent("t2"))
	recvEvent(t, c, executorpb.Event_SUBSCRIBED)
	recvEvent(t, c, executorpb.Event_LAUNCH)
	recvEvent(t, c, executorpb.Event_LAUNCH)

	mustUpdate := func(task string, state mesospb.TaskState) *executorpb.Call_Update {
		t.Helper()
		if err := c.Update(ctx, status(task, state)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		return recv(t, a.calls, "UPDATE").msg.GetUpdate()
	}
	running1 := mustUpdate("t1", mesospb.TaskState_TASK_RUNNING)
	first.send(t, ackEvent(running1))
	recvEvent(t, c, executorpb.Event_ACKNOWLEDGED)
	finished1 := mustUpdate("t1", mesospb.TaskState_TASK_FINISHED)
	running2 := mustUpdate("t2", mesospb.TaskState_TASK_RUNNING)

	a.mu.Lock()
	a.subStatus = []int{http.StatusServiceUnavailable}
	a.mu.Unlock()
	close(first.events) // the agent goes away

	second := recv(t, a.subs, "second SUBSCRIBE")
	s := second.call.GetSubscribe()
	if tasks := s.GetUnacknowledgedTasks(); len(tasks) != 1 || tasks[0].GetTaskId().GetValue() != "t2" {
		t.Errorf("resubscribe unacknowledged_tasks = %v, want [t2]", tasks)
	}
	ups := s.GetUnacknowledgedUpdates()
	if len(ups) != 2 || !bytes.Equal(ups[0].GetStatus().GetUuid(), finished1.GetStatus().GetUuid()) ||
		!bytes.Equal(ups[1].GetStatus().GetUuid(), running2.GetStatus().GetUuid()) {
		t.Errorf("resubscribe unacknowledged_updates = %v, want [t1 FINISHED, t2 RUNNING]", ups)
	}

	// Not subscribed until SUBSCRIBED: the update is kept, then sent.
	if err := c.Update(ctx, status("t2", mesospb.TaskState_TASK_FINISHED)); !errors.Is(err, ErrNotSubscribed) {
		t.Errorf("Update while resubscribing = %v, want ErrNotSubscribed", err)
	}
	second.send(t, subscribedEvent())
	late := recv(t, a.calls, "late UPDATE").msg.GetUpdate().GetStatus()
	if late.GetTaskId().GetValue() != "t2" || late.GetState() != mesospb.TaskState_TASK_FINISHED {
		t.Errorf("late update = %v", late)
	}
	recvEvent(t, c, executorpb.Event_SUBSCRIBED)
	if _, ups := c.Unacknowledged(); len(ups) != 3 {
		t.Errorf("unacknowledged updates = %d, want 3", len(ups))
	}
	cancel()
	recv(t, done, "Run to return")
}

func TestDisconnectWithoutCheckpoint(t *testing.T) {
	a := newFakeAgent(t)
	c := New(testConfig(a.serveHTTPTest()))
	done := runClient(t.Context(), c)
	sub := recv(t, a.subs, "SUBSCRIBE")
	sub.send(t, subscribedEvent())
	recvEvent(t, c, executorpb.Event_SUBSCRIBED)
	close(sub.events)
	if err := recv(t, done, "Run to return"); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Run = %v, want ErrDisconnected", err)
	}
}

func TestSubscribeRefused(t *testing.T) {
	a := newFakeAgent(t)
	a.subStatus = []int{http.StatusBadRequest}
	c := New(testConfig(a.serveHTTPTest()))
	err := recv(t, runClient(t.Context(), c), "Run to return")
	if he, ok := errors.AsType[*HTTPError](err); !ok || he.Status != 400 || he.Body != "not now" {
		t.Errorf("Run = %v, want *HTTPError 400", err)
	}
}

// TestRecoveryTimeout: a checkpointing executor whose agent stays away gives
// up at the moment the recovery timeout ends (not at the next retry after
// it), retrying with capped backoff until then; and it does so whatever the
// attempt in flight is waiting for: an agent refusing with 503, an agent
// that never answers the SUBSCRIBE, or one that answers 200 and never sends
// SUBSCRIBED. Time is synctest's, so the check is exact.
func TestRecoveryTimeout(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int // answer to every SUBSCRIBE after the break
	}{
		{"refused", http.StatusServiceUnavailable},
		{"hung", statusHang},
		{"silent", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newFakeAgent(t)
				ln := memnet.Listen("agent.test:5051")
				srv := &http.Server{Handler: a}
				go srv.Serve(ln)
				tr := &http.Transport{DialContext: ln.Dial}
				cfg := testConfig("agent.test:5051")
				cfg.HTTPClient = &http.Client{Transport: tr}
				cfg.Checkpoint = true
				cfg.RecoveryTimeout = time.Minute
				cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, 7*time.Second
				cl := New(cfg)
				done := runClient(t.Context(), cl)

				sub := <-a.subs
				sub.send(t, subscribedEvent())
				<-cl.Events()
				a.mu.Lock()
				for range 1000 {
					a.subStatus = append(a.subStatus, c.status)
				}
				a.mu.Unlock()
				lost := time.Now()
				close(sub.events)
				attempts := 0
				var err error
			wait:
				for {
					select {
					case err = <-done:
						break wait
					case <-a.subs: // a "silent" stream: never send SUBSCRIBED
						attempts++
					}
				}
				if !errors.Is(err, ErrDisconnected) {
					t.Errorf("Run = %v, want ErrDisconnected", err)
				}
				if d := time.Since(lost); d != time.Minute {
					t.Errorf("gave up after %v, want exactly the 1m recovery timeout", d)
				}
				if c.status == http.StatusOK && attempts != 1 {
					t.Errorf("%d silent subscriptions, want 1 (abandoned at the deadline)", attempts)
				}
				close(a.quit)
				srv.Close()
				tr.CloseIdleConnections()
			})
		})
	}
}

// TestRecoveryTimeoutBeforeFirstSubscribe: an agent that never answers the
// first SUBSCRIBE does not hold Run past the recovery timeout, checkpointing
// or not.
func TestRecoveryTimeoutBeforeFirstSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newFakeAgent(t)
		a.subStatus = []int{statusHang}
		ln := memnet.Listen("agent.test:5051")
		srv := &http.Server{Handler: a}
		go srv.Serve(ln)
		tr := &http.Transport{DialContext: ln.Dial}
		cfg := testConfig("agent.test:5051")
		cfg.HTTPClient = &http.Client{Transport: tr}
		cfg.RecoveryTimeout = 30 * time.Second
		start := time.Now()
		if err := New(cfg).Run(t.Context()); !errors.Is(err, ErrDisconnected) {
			t.Errorf("Run = %v, want ErrDisconnected", err)
		}
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("gave up after %v, want exactly the 30s recovery timeout", d)
		}
		close(a.quit)
		srv.Close()
		tr.CloseIdleConnections()
	})
}

func TestCallValidation(t *testing.T) {
	c := New(testConfig("127.0.0.1:1"))
	for _, call := range []*executorpb.Call{
		{Type: executorpb.Call_SUBSCRIBE.Enum()},
		{Type: executorpb.Call_UPDATE.Enum()},
	} {
		if err := c.Call(t.Context(), call); !errors.Is(err, ErrBadCall) {
			t.Errorf("Call(%s) = %v, want ErrBadCall", call.GetType(), err)
		}
	}
	if err := c.Update(t.Context(), &mesospb.TaskStatus{}); !errors.Is(err, ErrBadCall) {
		t.Errorf("Update(empty) = %v, want ErrBadCall", err)
	}
	for _, cfg := range []Config{{}, {AgentEndpoint: "h:1"}, {AgentEndpoint: "ftp://h", FrameworkID: testConfig("").FrameworkID}} {
		if err := New(cfg).Run(t.Context()); !errors.Is(err, ErrConfig) {
			t.Errorf("Run(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}
