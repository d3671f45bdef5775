package agent

import (
	"context"
	"strings"

	"github.com/mesoproject/meso/internal/acl"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/authn"
)

// taskUser is the user an executor runs as: the one it asks for, or with
// --switch_user=false nobody else than the agent's own ("").
func (a *Agent) taskUser(user string) string {
	if a.cfg.NoSwitchUser {
		return ""
	}
	return user
}

// authorizeSandbox is the files API's Authorize: a path inside the
// sandbox tree of a framework (<agent>/frameworks/<F>/...) needs
// access_sandboxes for the user F's executor runs as (its command's user,
// the task's for a command executor, else the framework's), as Mesos
// asks; a framework or executor the agent no longer knows is the ANY
// object. Paths above the frameworks (the listing of framework ids) are
// open.
func (a *Agent) authorizeSandbox(ctx context.Context, rel string) error {
	if a.cfg.ACLs == nil {
		return nil
	}
	parts := strings.Split(rel, "/")
	if len(parts) < 3 || parts[1] != "frameworks" {
		return nil
	}
	principal, _ := authn.Principal(ctx)
	executor := ""
	if len(parts) >= 5 && parts[3] == "executors" {
		executor = parts[4]
	}
	a.mu.Lock()
	user, known := sandboxUser(a.core.Snapshot(), parts[2], executor)
	a.mu.Unlock()
	if !known {
		return a.cfg.ACLs.CheckAny(acl.AccessSandboxes, principal)
	}
	return a.cfg.ACLs.Check(acl.AccessSandboxes, principal, user)
}

// sandboxUser finds the user whose sandbox an executor's is (with executor
// "", the framework's user).
func sandboxUser(snap lifecycle.Snapshot, framework, executor string) (string, bool) {
	for _, list := range [][]lifecycle.FrameworkView{snap.Frameworks, snap.Completed} {
		for _, fw := range list {
			if fw.Info.GetId().GetValue() != framework {
				continue
			}
			if executor == "" {
				return fw.Info.GetUser(), true
			}
			for _, exs := range [][]lifecycle.ExecutorView{fw.Executors, fw.Completed} {
				for _, ex := range exs {
					if ex.Info.GetExecutorId().GetValue() == executor {
						return executorUser(fw, ex), true
					}
				}
			}
			return fw.Info.GetUser(), true
		}
	}
	return "", false
}

func executorUser(fw lifecycle.FrameworkView, ex lifecycle.ExecutorView) string {
	if c := ex.Info.GetCommand(); c != nil && c.User != nil {
		return c.GetUser()
	}
	if ex.Command {
		for _, t := range ex.Tasks {
			if t.User != nil {
				return t.GetUser()
			}
		}
		for _, t := range ex.Completed {
			if t.User != nil {
				return t.GetUser()
			}
		}
		for _, t := range ex.Queued {
			if c := t.GetCommand(); c != nil && c.User != nil {
				return c.GetUser()
			}
		}
	}
	return fw.Info.GetUser()
}
