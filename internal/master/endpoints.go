package master

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/present"
)

// leader reports the leading master's host:port and whether it is this
// one.
func (m *Master) leader() (string, bool) {
	if m.cfg.Leadership == nil {
		return m.advertised(), true
	}
	return m.cfg.Leadership.Leader()
}

// leaderOnly lets the leading master serve h; another master redirects
// (307, Location on the leader) and answers 503 when no master leads.
func (m *Master) leaderOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hostport, self := m.leader()
		switch {
		case self:
			h.ServeHTTP(w, r)
		case hostport == "":
			httpError(w, http.StatusServiceUnavailable, "No leader elected")
		default:
			w.Header().Set("Location", "//"+hostport+r.URL.RequestURI())
			w.WriteHeader(http.StatusTemporaryRedirect)
		}
	})
}

// handleRedirect serves /master/redirect: 307 to the leading master
// ("//host:port" plus whatever followed /master/redirect), or 503.
func (m *Master) handleRedirect(w http.ResponseWriter, r *http.Request) {
	hostport, _ := m.leader()
	if hostport == "" {
		httpError(w, http.StatusServiceUnavailable, "No leader elected")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/master/redirect")
	w.Header().Set("Location", "//"+hostport+rest)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// uiOnLeader serves the web UI's page ("/") only on the leading master
// (or when no master leads, so the page can say so); another master
// answers 307 to the leader's page. Its files are served everywhere.
func (m *Master) uiOnLeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			if hostport, self := m.leader(); !self && hostport != "" {
				w.Header().Set("Location", "//"+hostport+"/")
				w.WriteHeader(http.StatusTemporaryRedirect)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// handleHealth serves /health: 200 with an empty body.
func (m *Master) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// handleVersion serves /version.
func (m *Master) handleVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{"version": m.cfg.Version})
}

// queryTimeout bounds how long a read-only endpoint waits for the loop.
const queryTimeout = 10 * time.Second

// handleState serves /state and /master/state.
func (m *Master) handleState(w http.ResponseWriter, r *http.Request) {
	m.handleStatePart(func(w io.Writer, head *present.MasterState, gs *masterpb.Response_GetState) error {
		return m.stateEnc.WriteMasterState(w, head, gs)
	})(w, r)
}

// handleStatePart serves a document cut from the state (/master/slaves,
// /master/frameworks, /master/tasks): write streams it from the filtered
// state (gs) and the document's head.
func (m *Master) handleStatePart(write func(w io.Writer, head *present.MasterState, gs *masterpb.Response_GetState) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
		defer cancel()
		var finish func() *masterpb.Response_GetState
		err := m.loop.do(ctx, func(l *loop, now time.Time) { finish = l.core.StateQuery() })
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		// Finished, filtered and rendered off the loop: the core's answer
		// is ours. Its task records are immutable (the encoder caches
		// their JSON).
		gs := finish()
		v := m.viewer(r)
		v.state(gs)
		head := present.MasterStateHead(gs, m.stateMeta())
		if !v.can(acl.ViewFlags, "") {
			head.Flags = map[string]string{} // view_flags
		}
		m.leaderView(head)
		w.Header().Set("Content-Type", "application/json")
		_ = write(w, head, gs)
	}
}

// stateMeta is what /state says beyond the core's GetState.
func (m *Master) stateMeta() present.MasterMeta {
	return present.MasterMeta{Info: m.info, Version: m.cfg.Version, Flags: m.cfg.Flags, Started: m.started}
}

// metrics returns the /metrics/snapshot numbers: the core's, plus the
// loop's own.
func (m *Master) metrics(ctx context.Context) (map[string]float64, error) {
	var snap map[string]float64
	err := m.loop.do(ctx, func(l *loop, now time.Time) {
		snap = l.core.Metrics(now)
		snap["allocator/mesos/allocation_run_ms"] = float64(l.lastAllocation) / float64(time.Millisecond)
		snap["master/event_queue_messages"] = float64(len(l.inbox))
		snap["master/streams_open"] = float64(len(l.streams))
		snap["master/links_open"] = float64(len(l.links))
		snap["master/operator_subscribers"] = float64(len(l.operators) + len(l.pendingOperators))
		if !l.leading {
			snap["master/elected"] = 0
		}
	})
	if err == nil {
		m.framedMu.Lock()
		snap["master/link_connections_framed"] = float64(len(m.framed))
		m.framedMu.Unlock()
	}
	return snap, err
}

// handleMetricsSnapshot serves /metrics/snapshot: a flat JSON object of
// Mesos metric names.
func (m *Master) handleMetricsSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	snap, err := m.metrics(ctx)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, snap)
}
