package master

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/master/core"
	"google.golang.org/protobuf/proto"
)

// The older maintenance endpoints Mesos kept beside the v1 calls, which
// tools still use. Each is the v1 call it stands for (same authentication
// realm, same ACL, same validation and answers), with Mesos' JSON shapes:
//
//	GET  /master/maintenance/schedule  a maintenance.Schedule
//	POST /master/maintenance/schedule  body: a maintenance.Schedule (UPDATE_MAINTENANCE_SCHEDULE)
//	GET  /master/maintenance/status    a maintenance.ClusterStatus
//	POST /master/machine/down          body: [MachineID...] (START_MAINTENANCE)
//	POST /master/machine/up            body: [MachineID...] (STOP_MAINTENANCE)
func (m *Master) maintenanceRoutes(mux *http.ServeMux) {
	rw := func(h http.HandlerFunc) http.Handler {
		return m.authenticate(m.cfg.AuthenticateHTTPReadWrite, m.leaderOnly(h))
	}
	mux.Handle("/master/maintenance/schedule", rw(m.handleMaintenanceSchedule))
	mux.Handle("/master/maintenance/status", rw(m.handleMaintenanceStatus))
	mux.Handle("/master/machine/down", rw(m.handleMachines(masterpb.Call_START_MAINTENANCE)))
	mux.Handle("/master/machine/up", rw(m.handleMachines(masterpb.Call_STOP_MAINTENANCE)))
}

func (m *Master) handleMaintenanceSchedule(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		m.maintenanceRead(w, r, masterpb.Call_GET_MAINTENANCE_SCHEDULE, func(c *core.Core) proto.Message { return c.GetMaintenanceSchedule() })
	case http.MethodPost:
		s := &maintenancepb.Schedule{}
		body, ok := m.maintenanceBody(w, r)
		if !ok {
			return
		}
		if err := codec.UnmarshalJSON(body, s); err != nil {
			httpError(w, http.StatusBadRequest, "Failed to parse the maintenance schedule: "+err.Error())
			return
		}
		call := &masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
			UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: s}}
		if denied(w, m.authorizeOperator(r, call)) {
			return
		}
		m.operatorApply(w, r, func(c *core.Core, now time.Time) error { return c.UpdateMaintenanceSchedule(now, s) })
	default:
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Expecting 'GET' or 'POST', received '%s'", r.Method))
	}
}

func (m *Master) handleMaintenanceStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Expecting 'GET', received '%s'", r.Method))
		return
	}
	m.maintenanceRead(w, r, masterpb.Call_GET_MAINTENANCE_STATUS, func(c *core.Core) proto.Message { return c.GetMaintenanceStatus() })
}

// handleMachines serves /master/machine/down and /master/machine/up: a
// JSON array of MachineIDs, as START_MAINTENANCE or STOP_MAINTENANCE.
func (m *Master) handleMachines(typ masterpb.Call_Type) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Expecting 'POST', received '%s'", r.Method))
			return
		}
		body, ok := m.maintenanceBody(w, r)
		if !ok {
			return
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			httpError(w, http.StatusBadRequest, "Failed to parse the list of machines (a JSON array of MachineID): "+err.Error())
			return
		}
		ids := make([]*mesospb.MachineID, 0, len(raw))
		for i, b := range raw {
			id := &mesospb.MachineID{}
			if err := codec.UnmarshalJSON(b, id); err != nil {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("Failed to parse machine %d: %v", i, err))
				return
			}
			ids = append(ids, id)
		}
		call := &masterpb.Call{Type: typ.Enum()}
		apply := func(c *core.Core, now time.Time) error { return c.StartMaintenance(now, ids) }
		if typ == masterpb.Call_STOP_MAINTENANCE {
			call.StopMaintenance = &masterpb.Call_StopMaintenance{Machines: ids}
			apply = func(c *core.Core, now time.Time) error { return c.StopMaintenance(now, ids) }
		} else {
			call.StartMaintenance = &masterpb.Call_StartMaintenance{Machines: ids}
		}
		if denied(w, m.authorizeOperator(r, call)) {
			return
		}
		m.operatorApply(w, r, apply)
	}
}

// maintenanceBody reads a request body within the operator API's bounds.
func (m *Master) maintenanceBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, release, err := m.bounds.ReadBody(w, r, m.cfg.MaxCallBytes)
	if err != nil {
		httpError(w, httpbound.Status(err), err.Error())
		return nil, false
	}
	out := append([]byte(nil), body...)
	release()
	return out, true
}

// maintenanceRead answers a GET with the JSON of what read returns, after
// the ACL check of the v1 call typ.
func (m *Master) maintenanceRead(w http.ResponseWriter, r *http.Request, typ masterpb.Call_Type, read func(*core.Core) proto.Message) {
	if denied(w, m.authorizeOperator(r, &masterpb.Call{Type: typ.Enum()})) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	var msg proto.Message
	if err := m.loop.do(ctx, func(l *loop, now time.Time) { msg = read(l.core) }); err != nil {
		httpError(w, statusOf(err), err.Error())
		return
	}
	b, err := codec.MarshalJSON(msg)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", codec.MediaTypeJSON)
	_, _ = w.Write(b)
}
