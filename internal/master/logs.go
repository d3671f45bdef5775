package master

import (
	"net/http"

	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/files"
)

// logPath is the files API's virtual path of the master's log, as in Mesos.
const logPath = "/master/log"

// logRoutes serves the master's log (Config.LogFile) through the files API
// at /files/{read,browse,download,debug}[.json], as Mesos does:
// `/files/read?path=/master/log`. Only that file is reachable (its
// directory holds nothing else that is served); the read-only realm
// authenticates and access_mesos_logs decides (403 otherwise). Without a
// log file there are no /files endpoints (404), as in Mesos without
// --log_dir.
func (m *Master) logRoutes(mux *http.ServeMux) {
	if m.cfg.LogFile == "" {
		return
	}
	h, err := files.ForLog(logPath, m.cfg.LogFile, m.log.With("component", "files"))
	if err != nil {
		m.log.Warn("the master's log is not served", "log_file", m.cfg.LogFile, "err", err)
		return
	}
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if denied(w, m.cfg.ACLs.Check(acl.AccessMesosLogs, principal(r), "")) {
			return
		}
		h.ServeHTTP(w, r)
	})
	mux.Handle("/files/", m.authenticate(m.cfg.AuthenticateHTTPReadOnly, guarded))
}
