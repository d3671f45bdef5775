package master

import (
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
)

// LinkIDHeader names an agent link session in REGISTER's response.
const LinkIDHeader = "Meso-Link-Id"

// handleLink serves POST /internal/v1/link (see link.proto): REGISTER opens
// a stream of MasterEvents; every other agent call is answered 202, or 409
// when its link_id is stale.
func (m *Master) handleLink(w http.ResponseWriter, r *http.Request) {
	req, ok := m.readRequest(w, r, 4*m.cfg.MaxCallBytes)
	if !ok {
		return
	}
	call := &linkpb.AgentCall{}
	if err := req.decode(call); err != nil {
		httpError(w, http.StatusBadRequest, "Failed to parse body into AgentCall protobuf: "+err.Error())
		return
	}
	if call.GetType() == linkpb.AgentCall_REGISTER {
		m.register(w, r, req, call)
		return
	}
	var err error
	if derr := m.loop.do(r.Context(), func(l *loop, now time.Time) {
		err = l.core.AgentCall(now, call)
	}); derr != nil {
		err = derr
	}
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// register opens an agent's link stream.
func (m *Master) register(w http.ResponseWriter, r *http.Request, req *request, call *linkpb.AgentCall) {
	link := newUUID()
	ob := newOutbox()
	var err error
	if derr := m.loop.do(r.Context(), func(l *loop, now time.Time) {
		if !l.leading {
			err = errNotLeading
			return
		}
		if err = l.core.RegisterAgent(now, link, call); err == nil {
			l.links[link] = ob
		}
	}); derr != nil {
		err = derr
	}
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	defer m.loop.post(func(l *loop, now time.Time) {
		if l.links[link] == ob {
			delete(l.links, link)
		}
		l.core.LinkClosed(now, link)
	})
	defer ob.close()
	startStream(w, req.out, LinkIDHeader, link)
	m.streamOut(w, r, ob, req.out, 0, nil)
}
