package agent

import "net/http"

// filesHandler serves the sandboxes under /files/ once the files API is
// available; nil until then.
func (a *Agent) filesHandler() http.Handler { return nil }
