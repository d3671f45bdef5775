package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
)

// executor is the protocol state: one event stream at a time, calls on
// their own connections.
type executor struct {
	cfg    config
	stream *http.Client // the SUBSCRIBE connection (no timeout)
	calls  *http.Client // every other call

	mu           sync.Mutex
	tasks        map[string]*task                   // guarded by mu: launched, not yet terminal
	unacked      map[string]*executorpb.Call_Update // guarded by mu: by uuid
	acked        int                                // guarded by mu
	launched     int                                // guarded by mu
	subs         int                                // guarded by mu: SUBSCRIBED events
	events       []string                           // guarded by mu: types of the events received, in order
	ackWait      chan struct{}                      // guarded by mu: closed and replaced on every ACKNOWLEDGED
	cancelStream context.CancelFunc                 // guarded by mu
	parking      *park                              // guarded by mu: a task asked to drop the stream
	shutdown     bool                               // guarded by mu: SHUTDOWN received
}

// park is a request to drop the event stream until <sandbox>/resume exists.
type park struct {
	taskID  string
	resumed chan struct{} // closed at the next SUBSCRIBED
}

func newExecutor(cfg config) *executor {
	return &executor{
		cfg:     cfg,
		stream:  &http.Client{},
		calls:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}},
		tasks:   map[string]*task{},
		unacked: map[string]*executorpb.Call_Update{},
		ackWait: make(chan struct{}),
	}
}

// run subscribes and handles events until SHUTDOWN (nil) or a failure.
func (e *executor) run(ctx context.Context) error {
	var brokeAt time.Time
	backoff := 50 * time.Millisecond
	for {
		err := e.subscribe(ctx)
		e.mu.Lock()
		p, shutdown := e.parking, e.shutdown
		e.mu.Unlock()
		switch {
		case shutdown:
			return nil
		case p != nil:
			if err := e.waitResume(ctx, p); err != nil {
				return err
			}
			continue
		case !e.cfg.checkpoint:
			return fmt.Errorf("event stream ended: %w", err)
		}
		// A checkpointing framework's executor waits for the agent to come
		// back, as Mesos' executor library does.
		if brokeAt.IsZero() {
			brokeAt = time.Now()
		}
		if time.Since(brokeAt) > e.cfg.recovery {
			return fmt.Errorf("agent did not come back within %s: %w", e.cfg.recovery, err)
		}
		log.Printf("event stream ended (%v); subscribing again in %s", err, backoff)
		time.Sleep(backoff)
		backoff = min(2*backoff, e.cfg.backoffMax)
	}
}

// waitResume tells the scheduler the stream is down, then waits for the
// test to create <sandbox>/resume.
func (e *executor) waitResume(ctx context.Context, p *park) error {
	if err := e.message(ctx, "parked:"+p.taskID); err != nil {
		return err
	}
	resume := filepath.Join(e.cfg.sandbox, "resume")
	for {
		if _, err := os.Stat(resume); err == nil {
			_ = os.Remove(resume)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subscribe sends SUBSCRIBE (with what is still unacknowledged) and reads
// the event stream until it ends.
func (e *executor) subscribe(ctx context.Context) error {
	e.mu.Lock()
	sub := &executorpb.Call_Subscribe{}
	for _, t := range e.sortedTasks() {
		sub.UnacknowledgedTasks = append(sub.UnacknowledgedTasks, t.info)
	}
	for _, id := range sortedKeys(e.unacked) {
		sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, e.unacked[id])
	}
	streamCtx, cancel := context.WithCancel(ctx)
	e.cancelStream = cancel
	e.mu.Unlock()
	defer cancel()

	resp, err := e.post(streamCtx, e.stream, e.newCall(executorpb.Call_SUBSCRIBE, func(c *executorpb.Call) { c.Subscribe = sub }))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("SUBSCRIBE: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if got := resp.Header.Get("Content-Type"); got != e.cfg.codec.MediaType() {
		return fmt.Errorf("SUBSCRIBE answered Content-Type %q, want %q", got, e.cfg.codec.MediaType())
	}
	rd := recordio.NewReader(resp.Body, recordio.DefaultMaxRecordSize)
	for {
		ev := &executorpb.Event{}
		if err := rd.ReadMessage(e.cfg.codec, ev); err != nil {
			if streamCtx.Err() != nil {
				return streamCtx.Err()
			}
			return err
		}
		if err := e.handle(ctx, ev); err != nil {
			return err
		}
	}
}

// handle acts on one event.
func (e *executor) handle(ctx context.Context, ev *executorpb.Event) error {
	e.mu.Lock()
	e.events = append(e.events, ev.GetType().String())
	e.mu.Unlock()
	switch ev.GetType() {
	case executorpb.Event_SUBSCRIBED:
		e.subscribed(ev.GetSubscribed())
	case executorpb.Event_LAUNCH:
		e.launch(ctx, ev.GetLaunch().GetTask())
	case executorpb.Event_LAUNCH_GROUP:
		for _, t := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
			e.launch(ctx, t)
		}
	case executorpb.Event_KILL:
		e.kill(ev.GetKill().GetTaskId().GetValue())
	case executorpb.Event_ACKNOWLEDGED:
		e.acknowledged(ev.GetAcknowledged())
	case executorpb.Event_MESSAGE:
		go e.answer(ctx, string(ev.GetMessage().GetData()))
	case executorpb.Event_SHUTDOWN:
		return e.shutdownNow(ctx)
	case executorpb.Event_ERROR:
		return fmt.Errorf("ERROR event: %s", ev.GetError().GetMessage())
	}
	return nil
}

func (e *executor) subscribed(s *executorpb.Event_Subscribed) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.subs++
	if got := s.GetExecutorInfo().GetExecutorId().GetValue(); got != e.cfg.executorID {
		log.Printf("SUBSCRIBED names executor %q, the environment %q", got, e.cfg.executorID)
	}
	if p := e.parking; p != nil {
		close(p.resumed)
		e.parking = nil
	}
	log.Printf("subscribed to agent %s (container %s)", s.GetAgentInfo().GetId().GetValue(), s.GetContainerId().GetValue())
}

func (e *executor) acknowledged(a *executorpb.Event_Acknowledged) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := string(a.GetUuid())
	if _, ok := e.unacked[id]; ok {
		delete(e.unacked, id)
		e.acked++
	}
	close(e.ackWait)
	e.ackWait = make(chan struct{})
}

// shutdownNow kills every task, then ends the stream once the agent has
// acknowledged their updates, or half the grace period has passed (events
// keep being read meanwhile); with --ignore-shutdown it does nothing.
func (e *executor) shutdownNow(ctx context.Context) error {
	if e.cfg.ignoreShutdown {
		log.Print("ignoring SHUTDOWN")
		return nil
	}
	e.mu.Lock()
	e.shutdown = true
	tasks := e.sortedTasks()
	cancel := e.cancelStream
	e.mu.Unlock()
	for _, t := range tasks {
		t.stop()
	}
	deadline := time.Now().Add(e.cfg.grace / 2)
	go func() {
		defer cancel()
		for {
			e.mu.Lock()
			pending, wait := len(e.tasks)+len(e.unacked), e.ackWait
			e.mu.Unlock()
			if pending == 0 || time.Now().After(deadline) {
				return
			}
			select {
			case <-wait:
			case <-time.After(time.Until(deadline)):
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

// update sends a status update; the agent answers ACKNOWLEDGED on the
// stream once it has it. A terminal update also ends the task's record, at
// the moment the update becomes unacknowledged.
func (e *executor) update(ctx context.Context, taskID string, state mesospb.TaskState, msg string) error {
	uuid := make([]byte, 16)
	_, _ = rand.Read(uuid)
	st := &mesospb.TaskStatus{
		TaskId:     &mesospb.TaskID{Value: proto.String(taskID)},
		State:      state.Enum(),
		Source:     mesospb.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid:       uuid,
		Timestamp:  proto.Float64(float64(time.Now().UnixNano()) / 1e9),
		ExecutorId: &mesospb.ExecutorID{Value: proto.String(e.cfg.executorID)},
	}
	if msg != "" {
		st.Message = proto.String(msg)
	}
	u := &executorpb.Call_Update{Status: st}
	e.mu.Lock()
	e.unacked[string(uuid)] = u
	if terminal(state) {
		delete(e.tasks, taskID)
	}
	e.mu.Unlock()
	return e.send(ctx, e.newCall(executorpb.Call_UPDATE, func(c *executorpb.Call) { c.Update = u }))
}

// message sends data to the scheduler.
func (e *executor) message(ctx context.Context, data string) error {
	return e.send(ctx, e.newCall(executorpb.Call_MESSAGE, func(c *executorpb.Call) {
		c.Message = &executorpb.Call_Message{Data: []byte(data)}
	}))
}

// answer replies to a framework message.
func (e *executor) answer(ctx context.Context, msg string) {
	var reply string
	switch {
	case strings.HasPrefix(msg, "ping:"):
		reply = "pong:" + strings.TrimPrefix(msg, "ping:")
	case msg == "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MESOS_") {
				env[k] = v
			}
		}
		env["PWD"], _ = os.Getwd()
		b, _ := json.Marshal(env)
		reply = "env:" + string(b)
	case msg == "stats":
		e.mu.Lock()
		b, _ := json.Marshal(map[string]any{"subscriptions": e.subs, "launched": e.launched, "acknowledged": e.acked,
			"unacknowledged": len(e.unacked), "events": e.events})
		e.mu.Unlock()
		reply = "stats:" + string(b)
	default:
		reply = "unknown:" + msg
	}
	if err := e.message(ctx, reply); err != nil {
		log.Printf("answering %q: %v", msg, err)
	}
}

func (e *executor) newCall(t executorpb.Call_Type, set func(*executorpb.Call)) *executorpb.Call {
	c := &executorpb.Call{
		Type:        t.Enum(),
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(e.cfg.frameworkID)},
		ExecutorId:  &mesospb.ExecutorID{Value: proto.String(e.cfg.executorID)},
	}
	set(c)
	return c
}

// send posts a call that the agent answers 202.
func (e *executor) send(ctx context.Context, call *executorpb.Call) error {
	resp, err := e.post(ctx, e.calls, call)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s: %s: %s", call.GetType(), resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

func (e *executor) post(ctx context.Context, client *http.Client, call *executorpb.Call) (*http.Response, error) {
	body, err := e.cfg.codec.Marshal(call)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", e.cfg.codec.MediaType())
	req.Header.Set("Accept", e.cfg.codec.MediaType())
	if e.cfg.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.token)
	}
	return client.Do(req)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func terminal(s mesospb.TaskState) bool {
	switch s {
	case mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_STARTING, mesospb.TaskState_TASK_KILLING,
		mesospb.TaskState_TASK_STAGING:
		return false
	}
	return true
}
