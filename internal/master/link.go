package master

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/internal/linkframe"
	"github.com/mesoproject/meso/internal/master/core"
)

// LinkIDHeader names an agent link session in REGISTER's response.
const LinkIDHeader = "Meso-Link-Id"

// LinkVersion is the link protocol version this master speaks, sent in
// every REGISTERED (link.proto): 2 takes BATCH calls, 3 also serves the
// framed link.
const LinkVersion = linkframe.Version

// MaxBatchCalls bounds the calls of one BATCH (the body is bounded too).
const MaxBatchCalls = 1024

// batchCalls is the calls one request carries: call itself, or a BATCH's
// calls with the batch's link_id and agent_id filled in where unset.
func batchCalls(call *linkpb.AgentCall) ([]*linkpb.AgentCall, error) {
	if call.GetType() != linkpb.AgentCall_BATCH {
		return []*linkpb.AgentCall{call}, nil
	}
	calls := call.GetBatch().GetCalls()
	switch {
	case len(calls) == 0:
		return nil, errors.New("BATCH: expecting 'batch.calls' to hold at least one call")
	case len(calls) > MaxBatchCalls:
		return nil, fmt.Errorf("BATCH: %d calls, at most %d", len(calls), MaxBatchCalls)
	}
	for i, c := range calls {
		switch c.GetType() {
		case linkpb.AgentCall_REGISTER, linkpb.AgentCall_BATCH:
			return nil, fmt.Errorf("BATCH: call %d is a %s, which cannot be batched", i, c.GetType())
		}
		if c.LinkId == nil {
			c.LinkId = call.LinkId
		}
		if c.AgentId == nil {
			c.AgentId = call.AgentId
		}
	}
	return calls, nil
}

// applyAgentCalls applies calls in order, each as if posted alone: one
// refused does not stop the rest. It returns the first refusal, naming
// the call when there were several. Runs on the loop.
func applyAgentCalls(c *core.Core, now time.Time, calls []*linkpb.AgentCall) error {
	var first error
	for i, call := range calls {
		err := c.AgentCall(now, call)
		if err != nil && first == nil {
			first = err
			if len(calls) > 1 {
				first = fmt.Errorf("call %d of %d (%s): %w", i, len(calls), call.GetType(), err)
			}
		}
	}
	return first
}

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
		if m.wantsFramedLink(r) {
			m.serveFramedLink(w, r, call)
			return
		}
		m.register(w, r, req, call)
		return
	}
	calls, err := batchCalls(call)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if derr := m.loop.do(r.Context(), func(l *loop, now time.Time) {
		err = applyAgentCalls(l.core, now, calls)
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
		err = l.registerLink(now, link, ob, call, r.RemoteAddr)
	}); derr != nil {
		err = derr
	}
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	defer m.loop.post(func(l *loop, now time.Time) { l.unlink(now, link, ob) })
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

// withIssuedSecret returns ev, when it is link's REGISTERED, as a copy
// (the core's events are shared) with the master's LinkVersion and the
// secret issued to link, if any, set.
func (l *loop) withIssuedSecret(link string, ev *linkpb.MasterEvent) *linkpb.MasterEvent {
	if ev.GetType() != linkpb.MasterEvent_REGISTERED {
		return ev
	}
	ev = proto.CloneOf(ev)
	ev.Registered.LinkVersion = proto.Uint32(l.linkVersion)
	if secret, ok := l.issued[link]; ok {
		delete(l.issued, link)
		ev.Registered.AgentSecret = proto.String(secret)
	}
	return ev
}
