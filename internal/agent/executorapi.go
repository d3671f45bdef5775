package agent

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/httpbound"
)

// ExecutorAPIPath is the Mesos v1 executor API endpoint.
const ExecutorAPIPath = "/api/v1/executor"

// maxCallSize bounds an executor call's body.
const maxCallSize = recordio.DefaultMaxRecordSize

// eventStream is the event stream of one subscribed executor. Its fields
// are guarded by Agent.mu.
type eventStream struct {
	codec       codec.Codec
	containerID string
	queue       []*executorpb.Event
	notify      chan struct{} // cap 1
	done        chan struct{} // closed by close
	closed      bool
}

func newEventStream(c codec.Codec, containerID string) *eventStream {
	return &eventStream{codec: c, containerID: containerID, notify: make(chan struct{}, 1), done: make(chan struct{})}
}

func (s *eventStream) push(ev *executorpb.Event) {
	s.queue = append(s.queue, ev)
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *eventStream) close() {
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

func (a *Agent) closeStreams() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeStreamsLocked()
}

func (a *Agent) closeStreamsLocked() {
	for key, st := range a.streams {
		st.close()
		delete(a.streams, key)
	}
}

// serveExecutor is POST /api/v1/executor.
func (a *Agent) serveExecutor(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Expecting a 'POST' request, received '"+r.Method+"'", http.StatusMethodNotAllowed)
		return
	}
	c, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil {
		status := http.StatusUnsupportedMediaType
		if errors.Is(err, codec.ErrMissingContentType) {
			status = http.StatusBadRequest
		}
		http.Error(w, err.Error(), status)
		return
	}
	body, release, err := a.bounds.ReadBody(w, r, maxCallSize)
	if err != nil {
		http.Error(w, err.Error(), httpbound.Status(err))
		return
	}
	call := &executorpb.Call{}
	err = c.Unmarshal(body, call)
	release()
	if err != nil {
		http.Error(w, "Failed to parse body into Call: "+err.Error(), http.StatusBadRequest)
		return
	}
	fw, ex := call.GetFrameworkId().GetValue(), call.GetExecutorId().GetValue()
	if a.tokenKey != nil && !executorAuthorized(a.tokenKey, r, fw, ex) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mesos"`)
		http.Error(w, "Unauthorized: executor calls need the executor's token (Authorization: Bearer $MESOS_EXECUTOR_AUTHENTICATION_TOKEN)", http.StatusUnauthorized)
		return
	}
	switch call.GetType() {
	case executorpb.Call_HEARTBEAT:
		w.WriteHeader(http.StatusAccepted)
	case executorpb.Call_SUBSCRIBE:
		a.subscribe(w, r, call)
	case executorpb.Call_UPDATE:
		if call.GetUpdate() == nil {
			http.Error(w, "Expecting 'update' to be present", http.StatusBadRequest)
			return
		}
		a.answer(w, a.applyDurable("executor update", func(now time.Time) ([]lifecycle.Effect, error) {
			return a.core.ExecutorUpdate(fw, ex, call.GetUpdate().GetStatus(), now)
		}))
	case executorpb.Call_MESSAGE:
		if call.GetMessage() == nil {
			http.Error(w, "Expecting 'message' to be present", http.StatusBadRequest)
			return
		}
		a.answer(w, a.applyDurable("executor message", func(time.Time) ([]lifecycle.Effect, error) {
			return a.core.ExecutorMessage(fw, ex, call.GetMessage().GetData())
		}))
	default:
		http.Error(w, fmt.Sprintf("Expecting 'type' to be one of SUBSCRIBE, UPDATE, MESSAGE, HEARTBEAT; got %s",
			call.GetType()), http.StatusBadRequest)
	}
}

// answer writes the response of a call the core handled: 202, or the
// error's status.
func (a *Agent) answer(w http.ResponseWriter, err error) {
	if status := callStatus(err); status != http.StatusAccepted {
		http.Error(w, errorText(err), status)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// callStatus maps the core's errors to the executor API's status codes, as
// Mesos answers them. Inputs the core ignored were still received: 202.
func callStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, lifecycle.ErrIgnored):
		return http.StatusAccepted
	case errors.Is(err, lifecycle.ErrNotSubscribed):
		return http.StatusForbidden
	case errors.Is(err, lifecycle.ErrFrameworkNotFound), errors.Is(err, lifecycle.ErrExecutorNotFound),
		errors.Is(err, lifecycle.ErrInvalidCall):
		return http.StatusBadRequest
	}
	return http.StatusAccepted
}

func errorText(err error) string {
	switch {
	case errors.Is(err, lifecycle.ErrFrameworkNotFound):
		return "Framework cannot be found"
	case errors.Is(err, lifecycle.ErrExecutorNotFound):
		return "Executor cannot be found"
	case errors.Is(err, lifecycle.ErrNotSubscribed):
		return "Executor is not subscribed"
	}
	return err.Error()
}

// launchWait bounds how long a SUBSCRIBE waits for its container's launch
// to be checkpointed before it is answered 503 (retry); testHookLaunchWait,
// when set (tests), is called as one starts waiting.
var (
	launchWait         = 2 * time.Second
	testHookLaunchWait func()
)

// subscribe answers SUBSCRIBE with the executor's event stream.
func (a *Agent) subscribe(w http.ResponseWriter, r *http.Request, call *executorpb.Call) {
	out, err := codec.Negotiate(r.Header.Get("Accept"), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotAcceptable)
		return
	}
	fw, ex := call.GetFrameworkId().GetValue(), call.GetExecutorId().GetValue()
	key := execKey{fw, ex}
	a.mu.Lock()
	if run := a.containers[a.core.ContainerID(fw, ex)]; run != nil && run.launching {
		// The container's handle (pid, start time) is not checkpointed
		// yet: an agent killed now would not find this executor again,
		// so it must not get a task before (see runContainer). Wait for
		// that (a few ms: the handle's fsyncs) rather than have the
		// executor retry after its backoff (100 ms at least); past
		// launchWait it retries.
		a.mu.Unlock()
		if testHookLaunchWait != nil {
			testHookLaunchWait()
		}
		t := time.NewTimer(launchWait)
		select {
		case <-run.launched:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
		a.mu.Lock()
		if run := a.containers[a.core.ContainerID(fw, ex)]; run != nil && run.launching {
			a.mu.Unlock()
			http.Error(w, "the executor's container is still launching; retry", http.StatusServiceUnavailable)
			return
		}
	}
	st := newEventStream(out, a.core.ContainerID(fw, ex))
	var effs []lifecycle.Effect
	err = a.applyLocked("executor subscription", func(now time.Time) ([]lifecycle.Effect, error) {
		var err error
		effs, err = a.core.ExecutorSubscribe(fw, ex, call.GetSubscribe(), now)
		if err == nil {
			// Install the stream before the effects are dispatched: the
			// first of them is SUBSCRIBED.
			if old := a.streams[key]; old != nil {
				old.close()
			}
			a.streams[key] = st
		}
		return effs, err
	})
	a.mu.Unlock()
	if err != nil {
		http.Error(w, errorText(err), callStatus(err))
		return
	}
	a.log.Debug("executor subscribed", "framework", fw, "executor", ex, "codec", out.MediaType())
	w.Header().Set("Content-Type", out.MediaType())
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	unsent := a.pump(w, r, st)
	a.mu.Lock()
	if a.streams[key] == st {
		delete(a.streams, key)
		// Kills and messages that did not make it out wait for the
		// executor's next subscription.
		a.core.ExecutorDisconnected(fw, ex, append(unsent, st.queue...)...)
		st.queue = nil
		a.log.Debug("executor disconnected", "framework", fw, "executor", ex)
	}
	a.mu.Unlock()
}

// pump writes a stream's events until it is closed (after draining it),
// the executor goes away, or a write fails. It returns the events it took
// from the queue but could not write.
func (a *Agent) pump(w http.ResponseWriter, r *http.Request, st *eventStream) []*executorpb.Event {
	wr := recordio.NewWriter(w)
	for {
		a.mu.Lock()
		evs, closed := st.queue, st.closed
		st.queue = nil
		a.mu.Unlock()
		for i, ev := range evs {
			if r.Context().Err() != nil {
				return evs[i:]
			}
			if err := wr.WriteMessage(st.codec, ev); err != nil {
				a.log.Info("writing to executor failed", "err", err)
				return evs[i:]
			}
		}
		if closed {
			return nil
		}
		select {
		case <-st.notify:
		case <-st.done:
		case <-r.Context().Done():
			return nil
		}
	}
}
