package master

import (
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/operator"
	"google.golang.org/protobuf/proto"
)

// StreamIDHeader carries the id of a framework's event stream.
const StreamIDHeader = "Mesos-Stream-Id"

// handleScheduler serves POST /api/v1/scheduler: SUBSCRIBE opens an event
// stream; every other call is answered 202 once the core has applied it,
// except UPDATE_FRAMEWORK, which Mesos answers 200.
func (m *Master) handleScheduler(w http.ResponseWriter, r *http.Request) {
	req, ok := m.readRequest(w, r, m.cfg.MaxCallBytes)
	if !ok {
		return
	}
	call := &schedulerpb.Call{}
	body := req.body
	if err := req.decode(call); err != nil {
		httpError(w, http.StatusBadRequest, "Failed to parse body into Call protobuf: "+err.Error())
		return
	}
	msg := operator.CheckCallType(req.in, body, call)
	body = nil // the stream of a SUBSCRIBE must not hold it
	if msg != "" {
		httpError(w, http.StatusBadRequest, msg)
		return
	}
	if call.GetType() == schedulerpb.Call_SUBSCRIBE {
		if err := checkFrameworkPrincipal(r, subscribePrincipal(call)); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if denied(w, m.authorizeRoles(call.GetSubscribe().GetFrameworkInfo())) {
			return
		}
		m.subscribe(w, r, req, call)
		return
	}
	if call.GetType() == schedulerpb.Call_UPDATE_FRAMEWORK &&
		denied(w, m.authorizeRoles(call.GetUpdateFramework().GetFrameworkInfo())) {
		return
	}
	stream := r.Header.Get(StreamIDHeader)
	var err error
	var denied error
	if derr := m.loop.do(r.Context(), func(l *loop, now time.Time) {
		if p, ok := l.core.FrameworkPrincipal(call.GetFrameworkId().GetValue()); ok {
			if denied = checkFrameworkPrincipal(r, p); denied != nil {
				return
			}
		}
		err = l.core.Call(now, stream, call)
	}); derr != nil {
		err = derr
	}
	if denied != nil {
		httpError(w, http.StatusBadRequest, denied.Error())
		return
	}
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	if call.GetType() == schedulerpb.Call_UPDATE_FRAMEWORK {
		// Mesos answers UPDATE_FRAMEWORK synchronously, once applied.
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// subscribe opens a framework's event stream.
func (m *Master) subscribe(w http.ResponseWriter, r *http.Request, req *request, call *schedulerpb.Call) {
	if r.Header.Get(StreamIDHeader) != "" {
		httpError(w, http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
		return
	}
	stream := newUUID()
	ob := newOutbox()
	var err error
	var heartbeat time.Duration
	if derr := m.loop.do(r.Context(), func(l *loop, now time.Time) {
		if !l.leading {
			err = errNotLeading
			return
		}
		if err = l.core.Subscribe(now, stream, call); err == nil {
			l.streams[stream] = ob
		}
		heartbeat = l.core.HeartbeatInterval()
	}); derr != nil {
		err = derr
	}
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	defer m.loop.post(func(l *loop, now time.Time) {
		if l.streams[stream] == ob {
			delete(l.streams, stream)
		}
		l.core.StreamClosed(now, stream)
	})
	defer ob.close()
	startStream(w, req.out, StreamIDHeader, stream)
	m.streamOut(w, r, ob, req.out, heartbeat, heartbeatEvent)
}

func heartbeatEvent() proto.Message {
	return &schedulerpb.Event{Type: schedulerpb.Event_HEARTBEAT.Enum()}
}
