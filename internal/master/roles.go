package master

import (
	"context"
	"net/http"
	"time"

	"github.com/mesoproject/meso/internal/master/core"
)

// handleRoles serves /roles and /master/roles: Mesos' JSON view of the
// roles, {"roles": [...]} (core.RoleView), quotas included.
func (m *Master) handleRoles(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	var roles []core.RoleView
	err := m.loop.do(ctx, func(l *loop, _ time.Time) { roles = l.core.Roles() })
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if roles == nil {
		roles = []core.RoleView{}
	}
	writeJSON(w, map[string]any{"roles": roles})
}
