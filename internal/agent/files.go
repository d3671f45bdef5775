package agent

import "net/http"

// filesHandler serves the sandboxes (<work_dir>/slaves) under /files/.
func (a *Agent) filesHandler() http.Handler { return a.files }
