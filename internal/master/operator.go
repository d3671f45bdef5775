package master

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/master/core"
	"github.com/mesoproject/meso/internal/operator"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// notBuilt says why the master answers a call 501: the feature behind it
// does not exist in meso yet (docs/master.md lists them).
var notBuilt = map[masterpb.Call_Type]string{
	masterpb.Call_LIST_FILES:    "the master serves no files",
	masterpb.Call_READ_FILE:     "the master serves no files",
	masterpb.Call_GROW_VOLUME:   "resizing persistent volumes is not built yet",
	masterpb.Call_SHRINK_VOLUME: "resizing persistent volumes is not built yet",
}

// handleOperator serves POST /api/v1: the v1 operator API. SUBSCRIBE opens
// an event stream; every other call is answered 200 with a Response in the
// negotiated codec (TEARDOWN with an empty body), 400 when malformed, 501
// when meso does not implement it.
func (m *Master) handleOperator(w http.ResponseWriter, r *http.Request) {
	call := &masterpb.Call{}
	out, ok := operator.ReadCall(w, r, m.bounds, m.cfg.MaxCallBytes, call)
	if !ok {
		return
	}
	typ := call.GetType()
	if denied(w, m.authorizeOperator(r, call)) {
		return
	}
	if why, ok := notBuilt[typ]; ok {
		operator.NotImplemented(w, typ, why)
		return
	}
	switch typ {
	case masterpb.Call_SUBSCRIBE:
		m.operatorSubscribe(w, r, out)
	case masterpb.Call_GET_HEALTH:
		operator.Respond(w, out, &masterpb.Response{Type: masterpb.Response_GET_HEALTH.Enum(),
			GetHealth: &masterpb.Response_GetHealth{Healthy: proto.Bool(true)}})
	case masterpb.Call_GET_FLAGS:
		operator.Respond(w, out, &masterpb.Response{Type: masterpb.Response_GET_FLAGS.Enum(),
			GetFlags: &masterpb.Response_GetFlags{Flags: operator.Flags(m.cfg.Flags)}})
	case masterpb.Call_GET_VERSION:
		operator.Respond(w, out, &masterpb.Response{Type: masterpb.Response_GET_VERSION.Enum(),
			GetVersion: &masterpb.Response_GetVersion{VersionInfo: operator.VersionInfo(m.cfg.Version)}})
	case masterpb.Call_GET_METRICS:
		m.operatorMetrics(w, r, out, call.GetGetMetrics())
	case masterpb.Call_GET_LOGGING_LEVEL:
		operator.Respond(w, out, &masterpb.Response{Type: masterpb.Response_GET_LOGGING_LEVEL.Enum(),
			GetLoggingLevel: &masterpb.Response_GetLoggingLevel{Level: proto.Uint32(m.logLevel.Verbosity())}})
	case masterpb.Call_GET_OPERATIONS:
		m.operatorOperations(w, r, out)
	case masterpb.Call_RESERVE_RESOURCES, masterpb.Call_UNRESERVE_RESOURCES,
		masterpb.Call_CREATE_VOLUMES, masterpb.Call_DESTROY_VOLUMES:
		m.operatorConversion(w, r, call)
	case masterpb.Call_SET_LOGGING_LEVEL, masterpb.Call_UPDATE_WEIGHTS, masterpb.Call_MARK_AGENT_GONE,
		masterpb.Call_DEACTIVATE_AGENT, masterpb.Call_REACTIVATE_AGENT, masterpb.Call_TEARDOWN,
		masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE, masterpb.Call_START_MAINTENANCE, masterpb.Call_STOP_MAINTENANCE,
		masterpb.Call_DRAIN_AGENT:
		m.operatorChange(w, r, call)
	case masterpb.Call_UPDATE_QUOTA, masterpb.Call_SET_QUOTA, masterpb.Call_REMOVE_QUOTA:
		m.operatorQuota(w, r, call)
	default:
		m.operatorQuery(w, r, out, typ, m.viewer(r))
	}
}

// operatorChange answers the calls that change something: 200 with an
// empty body once applied, 400 for a missing payload or a bad value, 404
// for an unknown agent.
func (m *Master) operatorChange(w http.ResponseWriter, r *http.Request, call *masterpb.Call) {
	switch call.GetType() {
	case masterpb.Call_SET_LOGGING_LEVEL:
		if !operator.RequirePayload(w, call, "set_logging_level") {
			return
		}
		s := call.GetSetLoggingLevel()
		if err := m.logLevel.Set(s.GetLevel(), time.Duration(s.GetDuration().GetNanoseconds())); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		m.log.Info("logging level changed", "verbosity", s.GetLevel(), "for", time.Duration(s.GetDuration().GetNanoseconds()))
		w.WriteHeader(http.StatusOK)
	case masterpb.Call_UPDATE_WEIGHTS:
		if !operator.RequirePayload(w, call, "update_weights") {
			return
		}
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error {
			return c.UpdateWeights(call.GetUpdateWeights().GetWeightInfos())
		})
	case masterpb.Call_MARK_AGENT_GONE:
		if !operator.RequirePayload(w, call, "mark_agent_gone") {
			return
		}
		id := call.GetMarkAgentGone().GetAgentId().GetValue()
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error { return c.MarkAgentGone(now, id) })
	case masterpb.Call_DEACTIVATE_AGENT:
		if !operator.RequirePayload(w, call, "deactivate_agent") {
			return
		}
		id := call.GetDeactivateAgent().GetAgentId().GetValue()
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error { return c.DeactivateAgent(now, id) })
	case masterpb.Call_REACTIVATE_AGENT:
		if !operator.RequirePayload(w, call, "reactivate_agent") {
			return
		}
		id := call.GetReactivateAgent().GetAgentId().GetValue()
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error { return c.ReactivateAgent(id) })
	case masterpb.Call_DRAIN_AGENT:
		if !operator.RequirePayload(w, call, "drain_agent") {
			return
		}
		d := call.GetDrainAgent()
		grace, err := drainGrace(d.GetMaxGracePeriod())
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error {
			return c.DrainAgent(now, d.GetAgentId().GetValue(), grace, d.GetMarkGone())
		})
	case masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE:
		if !operator.RequirePayload(w, call, "update_maintenance_schedule") {
			return
		}
		s := call.GetUpdateMaintenanceSchedule().GetSchedule()
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error { return c.UpdateMaintenanceSchedule(now, s) })
	case masterpb.Call_START_MAINTENANCE:
		if !operator.RequirePayload(w, call, "start_maintenance") {
			return
		}
		ids := call.GetStartMaintenance().GetMachines()
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error { return c.StartMaintenance(now, ids) })
	case masterpb.Call_STOP_MAINTENANCE:
		if !operator.RequirePayload(w, call, "stop_maintenance") {
			return
		}
		ids := call.GetStopMaintenance().GetMachines()
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error { return c.StopMaintenance(now, ids) })
	case masterpb.Call_TEARDOWN:
		if !operator.RequirePayload(w, call, "teardown") {
			return
		}
		id := call.GetTeardown().GetFrameworkId().GetValue()
		who := principal(r)
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error {
			if owner, ok := c.FrameworkPrincipal(id); ok {
				if err := m.cfg.ACLs.Check(acl.TeardownFrameworks, who, owner); err != nil {
					return err
				}
			}
			return c.Teardown(now, id)
		})
	}
}

// operatorQuota answers UPDATE_QUOTA and the deprecated SET_QUOTA and
// REMOVE_QUOTA: 200 with an empty body once the quotas are stored in the
// registry and applied, 400 for a missing payload, an invalid quota, or
// (without force) a quota the cluster cannot hold. This is the one place
// where the update_quota ACL is to be checked, per role, before apply.
func (m *Master) operatorQuota(w http.ResponseWriter, r *http.Request, call *masterpb.Call) {
	var apply func(*core.Core, time.Time) error
	switch call.GetType() {
	case masterpb.Call_UPDATE_QUOTA:
		if !operator.RequirePayload(w, call, "update_quota") {
			return
		}
		u := call.GetUpdateQuota()
		apply = func(c *core.Core, now time.Time) error { return c.UpdateQuota(now, u.GetQuotaConfigs(), u.GetForce()) }
	case masterpb.Call_SET_QUOTA:
		if !operator.RequirePayload(w, call, "set_quota") {
			return
		}
		req := call.GetSetQuota().GetQuotaRequest()
		apply = func(c *core.Core, now time.Time) error { return c.SetQuota(now, req) }
	case masterpb.Call_REMOVE_QUOTA:
		if !operator.RequirePayload(w, call, "remove_quota") {
			return
		}
		role := call.GetRemoveQuota().GetRole()
		apply = func(c *core.Core, now time.Time) error { return c.RemoveQuota(now, role) }
	}
	m.operatorApply(w, r, apply)
}

// operatorQuery answers the calls that read the core's books.
// GET_STATE, GET_FRAMEWORKS, GET_TASKS and GET_EXECUTORS leave out what
// v may not see.
func (m *Master) operatorQuery(w http.ResponseWriter, r *http.Request, out codec.Codec, typ masterpb.Call_Type, v *viewer) {
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	var resp *masterpb.Response
	var finishState func() *masterpb.Response_GetState
	var finishTasks func() *masterpb.Response_GetTasks
	known := true
	err := m.loop.do(ctx, func(l *loop, now time.Time) {
		c := l.core
		switch typ {
		case masterpb.Call_GET_STATE:
			// Finished and filtered off the loop, below.
			finishState = c.StateQuery()
			resp = &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum()}
		case masterpb.Call_GET_AGENTS:
			resp = &masterpb.Response{Type: masterpb.Response_GET_AGENTS.Enum(), GetAgents: c.GetAgents()}
		case masterpb.Call_GET_FRAMEWORKS:
			resp = &masterpb.Response{Type: masterpb.Response_GET_FRAMEWORKS.Enum(), GetFrameworks: c.GetFrameworks()}
			v.frameworks(resp.GetFrameworks)
		case masterpb.Call_GET_EXECUTORS:
			resp = &masterpb.Response{Type: masterpb.Response_GET_EXECUTORS.Enum(), GetExecutors: c.GetExecutors()}
			if v.acls != nil {
				v.learn(c.GetFrameworks())
			}
			v.executors(resp.GetExecutors)
		case masterpb.Call_GET_TASKS:
			// Listed and filtered off the loop, below.
			finishTasks = c.TasksQuery()
			resp = &masterpb.Response{Type: masterpb.Response_GET_TASKS.Enum()}
			if v.acls != nil {
				v.learn(c.GetFrameworks())
			}
		case masterpb.Call_GET_ROLES:
			resp = &masterpb.Response{Type: masterpb.Response_GET_ROLES.Enum(), GetRoles: c.GetRoles()}
		case masterpb.Call_GET_WEIGHTS:
			resp = &masterpb.Response{Type: masterpb.Response_GET_WEIGHTS.Enum(), GetWeights: c.GetWeights()}
		case masterpb.Call_GET_QUOTA:
			resp = &masterpb.Response{Type: masterpb.Response_GET_QUOTA.Enum(),
				GetQuota: &masterpb.Response_GetQuota{Status: v.quota(c.GetQuota())}}
		case masterpb.Call_GET_MAINTENANCE_SCHEDULE:
			resp = &masterpb.Response{Type: masterpb.Response_GET_MAINTENANCE_SCHEDULE.Enum(),
				GetMaintenanceSchedule: &masterpb.Response_GetMaintenanceSchedule{Schedule: c.GetMaintenanceSchedule()}}
		case masterpb.Call_GET_MAINTENANCE_STATUS:
			resp = &masterpb.Response{Type: masterpb.Response_GET_MAINTENANCE_STATUS.Enum(),
				GetMaintenanceStatus: &masterpb.Response_GetMaintenanceStatus{Status: c.GetMaintenanceStatus()}}
		case masterpb.Call_GET_MASTER:
			resp = &masterpb.Response{Type: masterpb.Response_GET_MASTER.Enum(), GetMaster: c.GetMaster()}
		default:
			known = false
		}
	})
	if err == nil && finishState != nil {
		resp.GetState = finishState()
		v.state(resp.GetState)
	}
	if err == nil && finishTasks != nil {
		resp.GetTasks = finishTasks()
		v.tasks(resp.GetTasks)
	}
	switch {
	case err != nil:
		httpError(w, statusOf(err), err.Error())
	case !known:
		operator.NotImplemented(w, typ, "meso does not know this call")
	case resp.GetState != nil || resp.GetTasks != nil || resp.GetAgents != nil:
		// Their tasks and agent entries are the core's immutable
		// records: encoded once, kept by the encoder.
		// JSON is written in pieces as it is encoded.
		lw := &lazyOK{w: w, mediaType: out.MediaType()}
		if err := m.opEnc.Encode(lw, out, resp); err != nil {
			if !lw.started {
				operator.Error(w, http.StatusInternalServerError, "failed to encode the response: "+err.Error())
				return
			}
			// Part of the answer went out: cut the response rather
			// than end a body that would look whole.
			m.log.Warn("operator answer cut short", "call", typ.String(), "err", err)
			panic(http.ErrAbortHandler)
		}
		if !lw.started {
			lw.Write(nil)
		}
	default:
		operator.Respond(w, out, resp)
	}
}

func (m *Master) operatorMetrics(w http.ResponseWriter, r *http.Request, out codec.Codec, gm *masterpb.Call_GetMetrics) {
	timeout := queryTimeout
	if ns := gm.GetTimeout().GetNanoseconds(); ns > 0 && time.Duration(ns) < timeout {
		timeout = time.Duration(ns)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	snap, err := m.metrics(ctx)
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	operator.Respond(w, out, &masterpb.Response{Type: masterpb.Response_GET_METRICS.Enum(),
		GetMetrics: &masterpb.Response_GetMetrics{Metrics: operator.Metrics(snap)}})
}

// operatorApply runs a call that changes the core and answers 200 with an
// empty body, or the error's status.
func (m *Master) operatorApply(w http.ResponseWriter, r *http.Request, apply func(*core.Core, time.Time) error) {
	m.operatorApplyStatus(w, r, http.StatusOK, apply)
}

// operatorApplyStatus is operatorApply answering status on success. The
// answer waits for the registry commit of the change (loop.doCommitted).
func (m *Master) operatorApplyStatus(w http.ResponseWriter, r *http.Request, status int, apply func(*core.Core, time.Time) error) {
	var err error
	if derr := m.loop.doCommitted(r.Context(), func(l *loop, now time.Time) {
		err = apply(l.core, now)
	}); derr != nil {
		err = derr
	}
	if err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	w.WriteHeader(status)
}

// operatorSubscribe opens an operator event stream: SUBSCRIBED (the whole
// state), then the core's operator events, with HEARTBEATs. The stream's
// outbox is bounded (Config.MaxOperatorEvents): a subscriber that falls
// that far behind is disconnected, and the loop never waits for it.
func (m *Master) operatorSubscribe(w http.ResponseWriter, r *http.Request, out codec.Codec) {
	id := newUUID()
	ob := newBoundedOutbox(m.cfg.MaxOperatorEvents)
	var err error
	var heartbeat time.Duration
	if derr := m.loop.do(r.Context(), func(l *loop, now time.Time) {
		if err = l.core.OperatorSubscribe(id); err == nil {
			l.pendingOperators[id] = ob
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
		delete(l.pendingOperators, id)
		if l.operators[id] == ob {
			delete(l.operators, id)
		}
		l.core.OperatorUnsubscribe(id)
	})
	defer ob.close()
	// A write blocked on a client that does not read is cut when the
	// outbox overflows.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ob.overflowed:
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now())
		case <-done:
		}
	}()
	startStream(w, out, "", "")
	var filter func(proto.Message) (proto.Message, bool)
	if m.cfg.ACLs != nil {
		filter = m.viewer(r).event
	}
	m.streamFiltered(w, r, ob, out, heartbeat, operatorHeartbeat, filter)
	select {
	case <-ob.overflowed:
		m.log.Warn("operator subscriber disconnected: it fell too far behind", "subscriber", id)
	default:
	}
}

func operatorHeartbeat() proto.Message {
	return &masterpb.Event{Type: masterpb.Event_HEARTBEAT.Enum()}
}

// drainGrace converts DRAIN_AGENT's max_grace_period (a
// google.protobuf.Duration, as in Mesos) to the DurationInfo its
// DrainConfig keeps; nil stays nil.
func drainGrace(d *durationpb.Duration) (*mesospb.DurationInfo, error) {
	if d == nil {
		return nil, nil
	}
	if err := d.CheckValid(); err != nil {
		return nil, fmt.Errorf("drain_agent.max_grace_period: %w", err)
	}
	return &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(d.AsDuration()))}, nil
}

// lazyOK answers 200 with its content type at the first write.
type lazyOK struct {
	w         http.ResponseWriter
	mediaType string
	started   bool
}

func (l *lazyOK) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.mediaType)
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}
