package master

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/internal/master/core"
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
		reg := l.core.Registry()
		if err = checkAgentSecret(reg, call); err != nil {
			m.log.Warn("agent registration refused", "agent", call.GetRegister().GetAgentInfo().GetId().GetValue(),
				"remote", r.RemoteAddr, "err", err)
			return
		}
		if err = l.core.RegisterAgent(now, link, call); err == nil {
			l.links[link] = ob
			l.issueAgentSecret(reg, link)
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

// errAgentSecret: a REGISTER named an agent id the master issued a
// secret to without presenting it (403).
var errAgentSecret = fmt.Errorf("%w: the agent id is registered with another secret; an agent without its secret must register without an id", core.ErrForbidden)

// Agent secrets (beyond Mesos): the master issues each agent id a random
// secret at its first registration, in REGISTERED's agent_secret, and
// records its SHA-256 in the registry with the agent, so that it survives
// a failover. A later REGISTER naming that id must carry the secret, or
// it is refused before the core sees it: no other connection can take
// over a live (or known) agent's id, nor make the master give up that
// agent's tasks. An id with no recorded secret (registered before secrets
// existed, or forgotten by an in-memory registry) is issued one at its
// next registration.

// checkAgentSecret checks a REGISTER's secret against the digest recorded
// for the id it names.
func checkAgentSecret(reg core.Registry, call *linkpb.AgentCall) error {
	id := call.GetRegister().GetAgentInfo().GetId().GetValue()
	if id == "" {
		return nil
	}
	want := reg.AgentSecret(id)
	if want == nil {
		return nil
	}
	got := sha256.Sum256([]byte(call.GetRegister().GetSecret()))
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return errAgentSecret
	}
	return nil
}

// issueAgentSecret gives the agent registered on link a secret when its
// id has none: the digest goes to the registry (committed with the step,
// before REGISTERED goes out) and the secret into that link's REGISTERED
// (route). Runs on the loop.
func (l *loop) issueAgentSecret(reg core.Registry, link string) {
	id := l.core.LinkAgent(link)
	if id == "" || reg.AgentSecret(id) != nil {
		return
	}
	secret := rand.Text()
	digest := sha256.Sum256([]byte(secret))
	if err := reg.SetAgentSecret(id, digest[:]); err != nil {
		l.log.Warn("cannot record the agent's secret", "agent", id, "err", err)
		return
	}
	if l.issued == nil {
		l.issued = map[string]string{}
	}
	l.issued[link] = secret
}

// withIssuedSecret returns ev with the secret issued to link set when ev
// is that link's REGISTERED (a copy: the core's events are shared).
func (l *loop) withIssuedSecret(link string, ev *linkpb.MasterEvent) *linkpb.MasterEvent {
	secret, ok := l.issued[link]
	if !ok || ev.GetType() != linkpb.MasterEvent_REGISTERED {
		return ev
	}
	delete(l.issued, link)
	ev = proto.CloneOf(ev)
	ev.Registered.AgentSecret = proto.String(secret)
	return ev
}
