package allocator

import (
	"github.com/mesoproject/meso/internal/resources"
)

// convert handles the conversion commands:
//
//	reserve AGENT RES role=R principal=P [framework=F fwrole=R2]
//	unreserve AGENT RES role=R principal=P [framework=F fwrole=R2]
//	create AGENT RES role=R principal=P id=ID path=PATH [framework=F fwrole=R2]
//	destroy AGENT RES role=R principal=P id=ID path=PATH [framework=F fwrole=R2]
//
// RES is the plain (unreserved or static) form; reserve pushes a dynamic
// reservation to role by principal onto it, unreserve pops it, create makes
// the dynamically reserved disk a volume, destroy undoes that. With
// framework= the conversion applies to what the framework was offered
// (under fwrole, default its first role), else to the agent's available
// resources.
func (h *harness) convert(cmd string, args cmdArgs) error {
	agentID := args.pos[0]
	plain := resources.MustParse(args.pos[1])
	reserved, err := plain.PushReservation(args.kv["role"], args.kv["principal"])
	if err != nil {
		return err
	}
	volume, err := reserved.Map(func(r resources.Resource) resources.Resource {
		r.Volume = resources.Volume{ID: args.kv["id"], Principal: args.kv["principal"], ContainerPath: args.kv["path"]}
		return r
	})
	if err != nil {
		return err
	}
	pair := map[string][2]resources.Resources{
		"reserve":   {plain, reserved},
		"unreserve": {reserved, plain},
		"create":    {reserved, volume},
		"destroy":   {volume, reserved},
	}[cmd]
	from, to := pair[0], pair[1]
	fw := args.kv["framework"]
	if fw == "" {
		return h.a.ConvertAvailable(agentID, from, to)
	}
	role := args.kv["fwrole"]
	if role == "" && len(h.roles[fw]) > 0 {
		role = h.roles[fw][0]
	}
	return h.a.ConvertOffered(fw, role, agentID, from, to)
}
