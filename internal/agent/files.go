package agent

import (
	"context"
	"net/http"

	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/files"
	"github.com/mesoproject/meso/internal/operator"
)

// logPath is the files API's virtual path of the agent's log, as in Mesos.
const logPath = "/slave/log"

// filesHandler serves the sandboxes (<work_dir>/slaves) under /files/,
// and with Config.LogFile the agent's log as /slave/log.
func (a *Agent) filesHandler() http.Handler {
	if a.logs == nil {
		return a.files
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := a.filesFor(r.Context(), r.URL.Query().Get("path"))
		if err != nil {
			operator.Error(w, http.StatusForbidden, err.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}

// filesFor is the files Handler serving path p: the log's, once
// access_mesos_logs allows the request's principal, for /slave/log; the
// sandboxes' for everything else.
func (a *Agent) filesFor(ctx context.Context, p string) (*files.Handler, error) {
	if a.logs == nil || !files.IsName(p, logPath) {
		return a.files, nil
	}
	principal, _ := authn.Principal(ctx)
	if err := a.cfg.ACLs.Check(acl.AccessMesosLogs, principal, ""); err != nil {
		return nil, err
	}
	return a.logs, nil
}
