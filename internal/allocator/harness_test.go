package allocator

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/internal/scripttest"
)

// TestScenarios runs the scripts in testdata. Regenerate the expected
// output with: go test ./internal/allocator -run TestScenarios -rewrite
func TestScenarios(t *testing.T) {
	scripttest.Walk(t, "testdata", func(*testing.T) *harness { return &harness{} },
		func(_ *testing.T, h *harness, cmd []string, out *strings.Builder) { out.WriteString(h.exec(cmd)) })
}

// harness interprets scenario commands against an Allocator.
type harness struct {
	a     *Allocator
	now   time.Duration
	roles map[string][]string // framework -> roles, for defaults
}

type cmdArgs struct {
	pos []string
	kv  map[string]string
}

func parseArgs(fields []string) cmdArgs {
	c := cmdArgs{kv: map[string]string{}}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			if _, dup := c.kv[k]; dup {
				c.kv[k] += " " + v
			} else {
				c.kv[k] = v
			}
		} else {
			c.pos = append(c.pos, f)
		}
	}
	return c
}

func (c cmdArgs) list(k string) []string {
	if v, ok := c.kv[k]; ok && v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

func (c cmdArgs) has(flag string) bool { return slices.Contains(c.pos, flag) }

func (h *harness) init(cfg Config) {
	h.a = New(cfg)
	h.roles = map[string][]string{}
}

func (h *harness) exec(f []string) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("panic: %v\n", r)
		}
	}()
	cmd, args := f[0], parseArgs(f[1:])
	if h.a == nil && cmd != "config" {
		h.init(Config{})
	}
	errOut := func(err error) string {
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return ""
	}
	if v, ok := args.kv["now"]; ok {
		h.now = mustDuration(v)
	}
	now := time.Unix(0, 0).Add(h.now)
	switch cmd {
	case "config":
		cfg := Config{}
		if v, ok := args.kv["min-allocatable"]; ok {
			q, err := ParseMinAllocatable(v)
			if err != nil {
				return errOut(err)
			}
			cfg.MinAllocatable = q
		}
		if v, ok := args.kv["default-refuse"]; ok {
			cfg.DefaultRefuse = mustDuration(v)
		}
		if v, ok := args.kv["seed"]; ok {
			cfg.ShuffleSeed, _ = strconv.ParseUint(v, 10, 64)
		}
		cfg.FairnessExcluded = args.list("exclude")
		cfg.OfferGPUsToAll = args.has("gpus-to-all")
		if v, ok := args.kv["fanout"]; ok {
			cfg.OfferFanout, _ = strconv.Atoi(v)
		}
		h.init(cfg)
	case "add-agent":
		var used []Holding
		for _, u := range strings.Fields(args.kv["used"]) {
			parts := strings.SplitN(u, "/", 3)
			r, err := resources.Parse(parts[2])
			if err != nil {
				return errOut(err)
			}
			used = append(used, Holding{Framework: parts[0], Role: parts[1], Resources: r})
		}
		total, err := resources.Parse(args.pos[1])
		if err != nil {
			return errOut(err)
		}
		return errOut(h.a.AddAgent(args.pos[0], total, used))
	case "update-agent":
		total, err := resources.Parse(args.pos[1])
		if err != nil {
			return errOut(err)
		}
		return errOut(h.a.UpdateAgent(args.pos[0], total))
	case "remove-agent":
		return errOut(h.a.RemoveAgent(args.pos[0]))
	case "deactivate-agent":
		return errOut(h.a.DeactivateAgent(args.pos[0]))
	case "activate-agent":
		return errOut(h.a.ActivateAgent(args.pos[0]))
	case "add-framework", "update-framework":
		info := Framework{Roles: args.list("roles"), SuppressedRoles: args.list("suppressed"), GPUResources: args.has("gpu")}
		h.roles[args.pos[0]] = info.Roles
		if cmd == "add-framework" {
			return errOut(h.a.AddFramework(args.pos[0], info))
		}
		return errOut(h.a.UpdateFramework(args.pos[0], info))
	case "remove-framework":
		return errOut(h.a.RemoveFramework(args.pos[0]))
	case "deactivate-framework":
		return errOut(h.a.DeactivateFramework(args.pos[0]))
	case "activate-framework":
		return errOut(h.a.ActivateFramework(args.pos[0]))
	case "weight":
		w, _ := strconv.ParseFloat(args.pos[1], 64)
		return errOut(h.a.SetWeight(args.pos[0], w))
	case "quota", "check-quota":
		// quota ROLE [guarantees=cpus:1;mem:10] [limits=...] [ROLE2 ...]:
		// one update, all roles at once; no quantities resets the role.
		updates := map[string]Quota{}
		for _, role := range args.pos {
			updates[role] = Quota{}
		}
		if len(args.pos) == 1 {
			q := Quota{}
			var err error
			if v := args.kv["guarantees"]; v != "" {
				if q.Guarantees, err = resources.ParseQuantities(v); err != nil {
					return errOut(err)
				}
			}
			if v := args.kv["limits"]; v != "" {
				if q.Limits, err = resources.ParseQuantities(v); err != nil {
					return errOut(err)
				}
			}
			updates[args.pos[0]] = q
		}
		if cmd == "check-quota" {
			return errOut(h.a.CheckQuotaCapacity(updates))
		}
		return errOut(h.a.UpdateQuotas(updates))
	case "quotas":
		var b strings.Builder
		qs := h.a.Quotas()
		for _, role := range slices.Sorted(maps.Keys(qs)) {
			fmt.Fprintf(&b, "%s guarantees=%s limits=%s consumed=%s\n", role, qs[role].Guarantees, qs[role].Limits, h.consumed(role))
		}
		return b.String()
	case "suppress":
		return errOut(h.a.Suppress(args.pos[0], args.list("roles")))
	case "revive":
		return errOut(h.a.Revive(args.pos[0], args.list("roles")))
	case "decline", "recover", "release", "accept", "launch":
		return errOut(h.giveBack(cmd, args, now))
	case "reserve", "unreserve", "create", "destroy":
		return errOut(h.convert(cmd, args))
	case "allocate":
		return formatOffers(h.a.Allocate(now))
	case "transfer": // transfer FROM TO AGENT [from-role=R] [to-role=R]: all FROM is offered there
		from, to, agentID := args.pos[0], args.pos[1], args.pos[2]
		fr, tr := h.roleOf(from, args.kv["from-role"]), h.roleOf(to, args.kv["to-role"])
		return errOut(h.a.Transfer(from, fr, to, tr, agentID, h.offered(from, fr, agentID)))
	case "refuse": // refuse F AGENT RES [role=R] [refuse=D]
		refuse := UseDefaultRefuse
		if v, ok := args.kv["refuse"]; ok {
			refuse = mustDuration(v)
		}
		fw := args.pos[0]
		return errOut(h.a.Refuse(fw, h.roleOf(fw, args.kv["role"]), args.pos[1], resources.MustParse(args.pos[2]), refuse, now))
	case "state":
		return h.state(args.pos)
	case "roles":
		var b strings.Builder
		for _, r := range h.a.Roles() {
			fmt.Fprintf(&b, "%s weight=%g share=%.4f frameworks=%s\n", r.Role, r.Weight, r.Share, strings.Join(r.Frameworks, ","))
		}
		return b.String()
	default:
		return fmt.Sprintf("unknown command %q\n", cmd)
	}
	return ""
}

// giveBack handles decline (return the whole offer), recover (return the
// given offered resources), release (return the given used resources),
// launch (use the given offered resources) and accept (use the given
// resources and return the rest of the offer).
func (h *harness) giveBack(cmd string, args cmdArgs, now time.Time) error {
	fw, agentID := args.pos[0], args.pos[1]
	role := args.kv["role"]
	if role == "" && len(h.roles[fw]) > 0 {
		role = h.roles[fw][0]
	}
	refuse := UseDefaultRefuse
	if v, ok := args.kv["refuse"]; ok {
		refuse = mustDuration(v)
	}
	var given resources.Resources
	if len(args.pos) > 2 {
		given = resources.MustParse(args.pos[2])
	}
	offered := h.offered(fw, role, agentID)
	switch cmd {
	case "decline":
		return h.a.Recover(fw, role, agentID, offered, refuse, now)
	case "recover":
		return h.a.Recover(fw, role, agentID, given, refuse, now)
	case "release":
		return h.a.Release(fw, role, agentID, given)
	case "launch":
		return h.a.Allocated(fw, role, agentID, given)
	}
	if err := h.a.Allocated(fw, role, agentID, given); err != nil {
		return err
	}
	return h.a.Recover(fw, role, agentID, offered.Subtract(given), refuse, now)
}

// roleOf is role, or the framework's first role when role is empty.
func (h *harness) roleOf(fw, role string) string {
	if role == "" && len(h.roles[fw]) > 0 {
		return h.roles[fw][0]
	}
	return role
}

func (h *harness) offered(fw, role, agentID string) resources.Resources {
	st, _ := h.a.Agent(agentID)
	for _, hs := range st.Holdings {
		if hs.Framework == fw && hs.Role == role {
			return hs.Offered
		}
	}
	return nil
}

func (h *harness) state(ids []string) string {
	if len(ids) == 0 {
		ids = h.a.Agents()
	}
	var b strings.Builder
	for _, id := range ids {
		st, ok := h.a.Agent(id)
		if !ok {
			fmt.Fprintf(&b, "%s: unknown\n", id)
			continue
		}
		active := ""
		if !st.Active {
			active = " (inactive)"
		}
		fmt.Fprintf(&b, "%s%s total=%s available=%s\n", id, active, st.Total, st.Available)
		for _, hs := range st.Holdings {
			fmt.Fprintf(&b, "  %s role=%s offered=%s used=%s\n", hs.Framework, hs.Role, hs.Offered, hs.Used)
		}
	}
	return b.String()
}

func formatOffers(offers []Offer) string {
	if len(offers) == 0 {
		return "no offers\n"
	}
	var b strings.Builder
	for _, o := range offers {
		b.WriteString(o.String())
		if o.Group != 0 {
			fmt.Fprintf(&b, " group=%d", o.Group)
			if o.Shadow {
				b.WriteString(" shadow")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func mustDuration(s string) time.Duration {
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// consumed sums what a role and its descendants hold on every agent.
func (h *harness) consumed(role string) resources.Quantities {
	var sum resources.Resources
	for _, id := range h.a.Agents() {
		st, _ := h.a.Agent(id)
		for _, hs := range st.Holdings {
			if hs.Role == role || strings.HasPrefix(hs.Role, role+"/") {
				sum = sum.Add(hs.Offered).Add(hs.Used)
			}
		}
	}
	return sum.Scalars().Quantities()
}
