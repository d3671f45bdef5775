package master

import (
	"fmt"
	"net/http"

	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/authn"
)

// authenticate wraps h with HTTP Basic authentication against
// Config.Credentials when on; unauthenticated requests get 401 with
// Mesos' challenge.
func (m *Master) authenticate(on bool, h http.Handler) http.Handler {
	return m.cfg.Credentials.RequireIf(on, h)
}

// checkFrameworkPrincipal enforces, on an authenticated scheduler
// request, that the authenticated principal is the framework's: the
// FrameworkInfo's on SUBSCRIBE, the subscribed framework's on every other
// call. Mesos answers a mismatch 400 with this message. Requests that
// were not authenticated pass (no principal to compare).
func checkFrameworkPrincipal(r *http.Request, framework string) error {
	principal, ok := authn.Principal(r.Context())
	if !ok || principal == framework {
		return nil
	}
	return fmt.Errorf("Authenticated principal '%s' does not match principal '%s' set in `FrameworkInfo`", principal, framework)
}

// subscribePrincipal is the principal a SUBSCRIBE names.
func subscribePrincipal(call *schedulerpb.Call) string {
	return call.GetSubscribe().GetFrameworkInfo().GetPrincipal()
}
