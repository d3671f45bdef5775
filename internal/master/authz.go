package master

import (
	"net/http"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/present"
	"google.golang.org/protobuf/proto"
)

// The master asks Config.ACLs where Mesos' master asks its authorizer:
//
//   - register_frameworks: SUBSCRIBE and UPDATE_FRAMEWORK, each role of the
//     FrameworkInfo, subject the FrameworkInfo's principal (403);
//   - run_tasks: every task of LAUNCH and LAUNCH_GROUP (core.Config's
//     AuthorizeTask), subject the framework's principal, object the user
//     the task runs as (TASK_ERROR, REASON_TASK_UNAUTHORIZED);
//   - teardown_frameworks, update_weights, mark_agents_gone, drain_agents,
//     deactivate_agents, reactivate_agents, set_log_level, view_flags,
//     update_maintenance_schedules, get_maintenance_schedules,
//     start_maintenances, stop_maintenances, get_maintenance_statuses: the
//     operator calls, subject the authenticated principal, object ANY
//     (403);
//   - reserve_resources, unreserve_resources, create_volumes,
//     destroy_volumes: RESERVE_RESOURCES and the others, subject the
//     authenticated principal, and the RESERVE, UNRESERVE, CREATE and
//     DESTROY operations of ACCEPT (core.Config's AuthorizeOperation),
//     subject the framework's principal (reservations.go);
//   - view_frameworks, view_tasks, view_executors: GET_STATE, GET_FRAMEWORKS,
//     GET_TASKS, GET_EXECUTORS, /state (with its cuts) and the operator
//     SUBSCRIBE stream leave out what the principal may not see.

// principal is the authenticated principal of r, "" without
// authentication (the ANY subject).
func principal(r *http.Request) string {
	p, _ := authn.Principal(r.Context())
	return p
}

// denied answers 403 with err's message when err is set.
func denied(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	httpError(w, http.StatusForbidden, err.Error())
	return true
}

// authorizeRoles checks register_frameworks for every role info names.
func (m *Master) authorizeRoles(info *mesospb.FrameworkInfo) error {
	for _, role := range present.FrameworkRoles(info) {
		if err := m.cfg.ACLs.Check(acl.RegisterFrameworks, info.GetPrincipal(), role); err != nil {
			return err
		}
	}
	return nil
}

// taskUser is the user a task runs as, the run_tasks object as Mesos
// takes it: the task's command user, else its executor's, else the
// framework's.
func taskUser(fw *mesospb.FrameworkInfo, ti *mesospb.TaskInfo, ex *mesospb.ExecutorInfo) string {
	if c := ti.GetCommand(); c != nil && c.User != nil {
		return c.GetUser()
	}
	if c := ex.GetCommand(); c != nil && c.User != nil {
		return c.GetUser()
	}
	return fw.GetUser()
}

// authorizeTask is core.Config.AuthorizeTask: the run_tasks ACL.
func (m *Master) authorizeTask(fw *mesospb.FrameworkInfo, ti *mesospb.TaskInfo, ex *mesospb.ExecutorInfo) error {
	return m.cfg.ACLs.Check(acl.RunTasks, fw.GetPrincipal(), taskUser(fw, ti, ex))
}

// operatorActions are the ACLs of operator calls whose object is implicit.
var operatorActions = map[masterpb.Call_Type]acl.Action{
	masterpb.Call_MARK_AGENT_GONE:   acl.MarkAgentsGone,
	masterpb.Call_DRAIN_AGENT:       acl.DrainAgents,
	masterpb.Call_DEACTIVATE_AGENT:  acl.DeactivateAgents,
	masterpb.Call_REACTIVATE_AGENT:  acl.ReactivateAgents,
	masterpb.Call_SET_LOGGING_LEVEL: acl.SetLogLevel,
	masterpb.Call_GET_FLAGS:         acl.ViewFlags,

	masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE: acl.UpdateMaintenanceSchedules,
	masterpb.Call_GET_MAINTENANCE_SCHEDULE:    acl.GetMaintenanceSchedules,
	masterpb.Call_START_MAINTENANCE:           acl.StartMaintenances,
	masterpb.Call_STOP_MAINTENANCE:            acl.StopMaintenances,
	masterpb.Call_GET_MAINTENANCE_STATUS:      acl.GetMaintenanceStatuses,
}

// authorizeOperator checks the ACLs an operator call needs before it is
// looked at further (TEARDOWN, which needs the framework's principal, is
// checked on the loop).
func (m *Master) authorizeOperator(r *http.Request, call *masterpb.Call) error {
	who := principal(r)
	if action, ok := operatorActions[call.GetType()]; ok {
		return m.cfg.ACLs.Check(action, who, "")
	}
	var roles []string
	action := acl.UpdateQuotas
	switch call.GetType() {
	case masterpb.Call_UPDATE_WEIGHTS:
		action = acl.UpdateWeights
		for _, wi := range call.GetUpdateWeights().GetWeightInfos() {
			roles = append(roles, wi.GetRole())
		}
	case masterpb.Call_UPDATE_QUOTA:
		for _, qc := range call.GetUpdateQuota().GetQuotaConfigs() {
			roles = append(roles, qc.GetRole())
		}
	case masterpb.Call_SET_QUOTA:
		roles = append(roles, call.GetSetQuota().GetQuotaRequest().GetRole())
	case masterpb.Call_REMOVE_QUOTA:
		roles = append(roles, call.GetRemoveQuota().GetRole())
	}
	for _, role := range roles {
		if err := m.cfg.ACLs.Check(action, who, role); err != nil {
			return err
		}
	}
	return nil
}

// quota leaves out of a GET_QUOTA answer the roles whose quota v may not
// see (get_quotas), as Mesos does.
func (v *viewer) quota(st *quotapb.QuotaStatus) *quotapb.QuotaStatus {
	if st == nil || v.acls == nil {
		return st
	}
	out := &quotapb.QuotaStatus{}
	for _, qc := range st.GetConfigs() {
		if v.can(acl.GetQuotas, qc.GetRole()) {
			out.Configs = append(out.Configs, qc)
		}
	}
	for _, qi := range st.GetInfos() {
		if v.can(acl.GetQuotas, qi.GetRole()) {
			out.Infos = append(out.Infos, qi)
		}
	}
	return out
}

// viewer filters the operator state for one principal (view_frameworks,
// view_tasks, view_executors). Without ACLs it keeps everything.
type viewer struct {
	acls      *acl.ACLs
	principal string
	users     map[string]string // framework id -> FrameworkInfo.user
}

func (m *Master) viewer(r *http.Request) *viewer {
	return &viewer{acls: m.cfg.ACLs, principal: principal(r), users: map[string]string{}}
}

func (v *viewer) can(action acl.Action, user string) bool {
	ok, _ := v.acls.Authorized(action, v.principal, user)
	return ok
}

// learn records the users of frameworks, which tasks and executors
// without their own user run as.
func (v *viewer) learn(fws *masterpb.Response_GetFrameworks) {
	for _, list := range [][]*masterpb.Response_GetFrameworks_Framework{fws.GetFrameworks(), fws.GetCompletedFrameworks()} {
		for _, f := range list {
			v.users[f.GetFrameworkInfo().GetId().GetValue()] = f.GetFrameworkInfo().GetUser()
		}
	}
}

func (v *viewer) frameworks(fws *masterpb.Response_GetFrameworks) {
	if fws == nil || v.acls == nil {
		return
	}
	keep := func(list []*masterpb.Response_GetFrameworks_Framework) []*masterpb.Response_GetFrameworks_Framework {
		out := list[:0]
		for _, f := range list {
			if v.can(acl.ViewFrameworks, f.GetFrameworkInfo().GetUser()) {
				out = append(out, f)
			}
		}
		return out
	}
	fws.Frameworks = keep(fws.Frameworks)
	fws.CompletedFrameworks = keep(fws.CompletedFrameworks)
}

func (v *viewer) tasks(ts *masterpb.Response_GetTasks) {
	if ts == nil || v.acls == nil {
		return
	}
	keep := func(list []*mesospb.Task) []*mesospb.Task {
		out := list[:0]
		for _, t := range list {
			user := v.users[t.GetFrameworkId().GetValue()]
			if t.User != nil {
				user = t.GetUser()
			}
			if v.can(acl.ViewTasks, user) {
				out = append(out, t)
			}
		}
		return out
	}
	ts.PendingTasks = keep(ts.PendingTasks)
	ts.Tasks = keep(ts.Tasks)
	ts.UnreachableTasks = keep(ts.UnreachableTasks)
	ts.CompletedTasks = keep(ts.CompletedTasks)
}

func (v *viewer) executors(es *masterpb.Response_GetExecutors) {
	if es == nil || v.acls == nil {
		return
	}
	out := es.Executors[:0]
	for _, e := range es.Executors {
		info := e.GetExecutorInfo()
		user := v.users[info.GetFrameworkId().GetValue()]
		if c := info.GetCommand(); c != nil && c.User != nil {
			user = c.GetUser()
		}
		if v.can(acl.ViewExecutors, user) {
			out = append(out, e)
		}
	}
	es.Executors = out
}

// state filters a whole GET_STATE.
func (v *viewer) state(gs *masterpb.Response_GetState) {
	if gs == nil || v.acls == nil {
		return
	}
	v.learn(gs.GetGetFrameworks())
	v.frameworks(gs.GetFrameworks)
	v.tasks(gs.GetTasks)
	v.executors(gs.GetExecutors)
}

// event filters one operator event for the subscriber (view_frameworks,
// view_tasks): it returns the event to send, or false to leave it out.
// Events are shared between subscribers: SUBSCRIBED is filtered on a copy.
func (v *viewer) event(msg proto.Message) (proto.Message, bool) {
	ev, ok := msg.(*masterpb.Event)
	if !ok || v.acls == nil {
		return msg, true
	}
	switch ev.GetType() {
	case masterpb.Event_SUBSCRIBED:
		ev = proto.Clone(ev).(*masterpb.Event)
		v.state(ev.GetSubscribed().GetGetState())
		return ev, true
	case masterpb.Event_FRAMEWORK_ADDED, masterpb.Event_FRAMEWORK_UPDATED:
		info := ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo()
		if ev.GetType() == masterpb.Event_FRAMEWORK_UPDATED {
			info = ev.GetFrameworkUpdated().GetFramework().GetFrameworkInfo()
		}
		v.users[info.GetId().GetValue()] = info.GetUser()
		return ev, v.can(acl.ViewFrameworks, info.GetUser())
	case masterpb.Event_FRAMEWORK_REMOVED:
		return ev, v.can(acl.ViewFrameworks, ev.GetFrameworkRemoved().GetFrameworkInfo().GetUser())
	case masterpb.Event_TASK_ADDED:
		t := ev.GetTaskAdded().GetTask()
		user := v.users[t.GetFrameworkId().GetValue()]
		if t.User != nil {
			user = t.GetUser()
		}
		return ev, v.can(acl.ViewTasks, user)
	case masterpb.Event_TASK_UPDATED:
		return ev, v.can(acl.ViewTasks, v.users[ev.GetTaskUpdated().GetFrameworkId().GetValue()])
	}
	return ev, true
}
