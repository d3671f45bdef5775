package allocator

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// reference is a deliberately naive allocator with the same semantics as
// Allocator: it recomputes every share and order from scratch, keeps
// filters in a map and caches nothing. The property tests compare the two.
type reference struct {
	cfg        Config
	agents     map[string]*refAgent
	frameworks map[string]*refFramework
	weights    map[string]float64
	filters    map[refFilterKey]refFilter
}

type refKey struct{ fw, role string }

type refFilterKey struct{ fw, role, agent string }

type refFilter struct {
	res     resources.Resources
	expires time.Time
}

type refAgent struct {
	total, avail resources.Resources
	active       bool
	holds        map[refKey]*refHold
}

type refHold struct{ offered, used resources.Resources }

type refFramework struct {
	registered, active, gpu bool
	roles                   []string
	suppressed              map[string]bool
}

var errRef = errors.New("reference: rejected")

func newReference(cfg Config) *reference {
	if cfg.DefaultRefuse <= 0 {
		cfg.DefaultRefuse = DefaultRefuse
	}
	return &reference{cfg: cfg, agents: map[string]*refAgent{}, frameworks: map[string]*refFramework{},
		weights: map[string]float64{}, filters: map[refFilterKey]refFilter{}}
}

func (r *reference) AddAgent(id string, total resources.Resources, used []Holding) error {
	if _, ok := r.agents[id]; ok {
		return errRef
	}
	ag := &refAgent{total: total, avail: total, active: true, holds: map[refKey]*refHold{}}
	var sum resources.Resources
	for _, h := range used {
		sum = sum.Add(h.Resources)
	}
	if !total.Contains(sum) {
		return errRef
	}
	for _, h := range used {
		if h.Resources.IsEmpty() {
			continue
		}
		if r.frameworks[h.Framework] == nil {
			r.frameworks[h.Framework] = &refFramework{suppressed: map[string]bool{}}
		}
		k := refKey{h.Framework, h.Role}
		if ag.holds[k] == nil {
			ag.holds[k] = &refHold{}
		}
		ag.holds[k].used = ag.holds[k].used.Add(h.Resources)
		ag.avail = ag.avail.Subtract(h.Resources)
	}
	r.agents[id] = ag
	return nil
}

func (r *reference) RemoveAgent(id string) error {
	if r.agents[id] == nil {
		return errRef
	}
	delete(r.agents, id)
	for k := range r.filters {
		if k.agent == id {
			delete(r.filters, k)
		}
	}
	return nil
}

func (r *reference) setAgentActive(id string, active bool) error {
	if r.agents[id] == nil {
		return errRef
	}
	r.agents[id].active = active
	return nil
}

func (r *reference) clearFilters(fw string, role func(string) bool) {
	for k := range r.filters {
		if k.fw == fw && role(k.role) {
			delete(r.filters, k)
		}
	}
}

func (r *reference) AddFramework(id string, info Framework) error {
	if f := r.frameworks[id]; f != nil && f.registered {
		return errRef
	}
	r.frameworks[id] = &refFramework{registered: true, active: true, gpu: info.GPUResources, suppressed: map[string]bool{}}
	return r.UpdateFramework(id, info)
}

func (r *reference) UpdateFramework(id string, info Framework) error {
	f := r.frameworks[id]
	if f == nil || !f.registered {
		return errRef
	}
	for _, old := range f.roles {
		if !slices.Contains(info.Roles, old) {
			r.clearFilters(id, func(x string) bool { return x == old })
		}
	}
	suppressed := map[string]bool{}
	for _, role := range info.Roles {
		suppressed[role] = slices.Contains(info.SuppressedRoles, role)
		if slices.Contains(f.roles, role) && f.suppressed[role] && !suppressed[role] {
			r.clearFilters(id, func(x string) bool { return x == role })
		}
	}
	f.roles, f.suppressed, f.gpu = slices.Clone(info.Roles), suppressed, info.GPUResources
	return nil
}

func (r *reference) RemoveFramework(id string) error {
	f := r.frameworks[id]
	if f == nil || !f.registered {
		return errRef
	}
	for _, ag := range r.agents {
		for k, h := range ag.holds {
			if k.fw == id {
				ag.avail = ag.avail.Add(h.offered).Add(h.used)
				delete(ag.holds, k)
			}
		}
	}
	r.clearFilters(id, func(string) bool { return true })
	delete(r.frameworks, id)
	return nil
}

func (r *reference) setFrameworkActive(id string, active bool) error {
	f := r.frameworks[id]
	if f == nil || !f.registered {
		return errRef
	}
	f.active = active
	if !active {
		r.clearFilters(id, func(string) bool { return true })
	}
	return nil
}

func (r *reference) suppressRevive(id string, roles []string, suppress bool) error {
	f := r.frameworks[id]
	if f == nil || !f.registered {
		return errRef
	}
	for _, role := range roles {
		if !slices.Contains(f.roles, role) {
			return errRef
		}
	}
	if len(roles) == 0 {
		roles = f.roles
	}
	for _, role := range roles {
		f.suppressed[role] = suppress
		if !suppress {
			r.clearFilters(id, func(x string) bool { return x == role })
		}
	}
	return nil
}

func (r *reference) hold(fw, role, agent string) (*refAgent, *refHold, error) {
	ag := r.agents[agent]
	if ag == nil || r.frameworks[fw] == nil {
		return nil, nil, errRef
	}
	h := ag.holds[refKey{fw, role}]
	if h == nil {
		return nil, nil, errRef
	}
	return ag, h, nil
}

func (r *reference) dropEmpty(ag *refAgent, fw, role string) {
	if h := ag.holds[refKey{fw, role}]; h.offered.IsEmpty() && h.used.IsEmpty() {
		delete(ag.holds, refKey{fw, role})
	}
}

func (r *reference) Recover(fw, role, agent string, res resources.Resources, refuse time.Duration, now time.Time) error {
	ag, h, err := r.hold(fw, role, agent)
	if err != nil || !h.offered.Contains(res) {
		return errRef
	}
	h.offered = h.offered.Subtract(res)
	ag.avail = ag.avail.Add(res)
	r.dropEmpty(ag, fw, role)
	switch {
	case refuse < 0:
		refuse = r.cfg.DefaultRefuse
	case refuse > MaxRefuse:
		refuse = MaxRefuse
	}
	f := r.frameworks[fw]
	if refuse > 0 && f.registered && slices.Contains(f.roles, role) && !res.IsEmpty() {
		r.filters[refFilterKey{fw, role, agent}] = refFilter{res, now.Add(refuse)}
	}
	return nil
}

func (r *reference) Release(fw, role, agent string, res resources.Resources) error {
	ag, h, err := r.hold(fw, role, agent)
	if err != nil || !h.used.Contains(res) {
		return errRef
	}
	h.used = h.used.Subtract(res)
	ag.avail = ag.avail.Add(res)
	r.dropEmpty(ag, fw, role)
	return nil
}

func (r *reference) Allocated(fw, role, agent string, res resources.Resources) error {
	_, h, err := r.hold(fw, role, agent)
	if err != nil || !h.offered.Contains(res) {
		return errRef
	}
	h.offered = h.offered.Subtract(res)
	h.used = h.used.Add(res)
	return nil
}

func (r *reference) SetWeight(role string, w float64) error {
	r.weights[role] = w
	return nil
}

// share computes a dominant share from scratch over every agent.
func (r *reference) share(match func(refKey) bool) float64 {
	total, alloc := map[string]float64{}, map[string]float64{}
	for _, ag := range r.agents {
		for _, x := range ag.total.Scalars() {
			total[x.Name] += float64(x.Scalar)
		}
		for k, h := range ag.holds {
			if match(k) {
				for _, x := range h.offered.Add(h.used).Scalars() {
					alloc[x.Name] += float64(x.Scalar)
				}
			}
		}
	}
	var s float64
	for name, v := range alloc {
		if total[name] > 0 && v != 0 && !slices.Contains(r.cfg.FairnessExcluded, name) {
			s = math.Max(s, v/total[name])
		}
	}
	return s
}

func (r *reference) weight(role string) float64 {
	if w, ok := r.weights[role]; ok {
		return w
	}
	return 1
}

func (r *reference) eligible(fw, role string) bool {
	f := r.frameworks[fw]
	return f != nil && f.registered && f.active && slices.Contains(f.roles, role) && !f.suppressed[role]
}

func (r *reference) Allocate(now time.Time) []Offer {
	var offers []Offer
	ids := make([]string, 0, len(r.agents))
	for id := range r.agents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ag := r.agents[id]
		if !ag.active {
			continue
		}
		for _, role := range r.sortedRoles() {
			if ag.avail.IsEmpty() {
				break
			}
			offerable := ag.avail.AllocatableTo(role)
			if offerable.IsEmpty() || !r.allocatable(offerable) {
				continue
			}
			for _, fw := range r.sortedFrameworks(role) {
				if ag.total.Scalar("gpus") > 0 && !r.frameworks[fw].gpu && !r.cfg.OfferGPUsToAll {
					continue
				}
				if f, ok := r.filters[refFilterKey{fw, role, id}]; ok && now.Before(f.expires) && f.res.Contains(offerable) {
					continue
				}
				offers = append(offers, Offer{Framework: fw, Agent: id, Role: role, Resources: offerable})
				ag.avail = ag.avail.Subtract(offerable)
				k := refKey{fw, role}
				if ag.holds[k] == nil {
					ag.holds[k] = &refHold{}
				}
				ag.holds[k].offered = ag.holds[k].offered.Add(offerable)
				break
			}
		}
	}
	return offers
}

func (r *reference) allocatable(res resources.Resources) bool {
	if len(r.cfg.MinAllocatable) == 0 {
		return true
	}
	for _, q := range r.cfg.MinAllocatable {
		if res.ContainsQuantities(q) {
			return true
		}
	}
	return false
}

// sortedRoles returns the roles with an eligible framework by weighted share.
func (r *reference) sortedRoles() []string {
	var roles []string
	for id, f := range r.frameworks {
		for _, role := range f.roles {
			if r.eligible(id, role) && !slices.Contains(roles, role) {
				roles = append(roles, role)
			}
		}
	}
	slices.SortFunc(roles, r.compareRoles)
	return roles
}

// compareRoles orders roles as a walk of the role tree: at the first level
// where their paths differ, by the weighted share of each side's subtree
// (ties by name); a role above the other competes with its own share, and
// goes first on a tie.
func (r *reference) compareRoles(x, y string) int {
	subtree := func(p string) float64 {
		return r.share(func(k refKey) bool { return k.role == p || strings.HasPrefix(k.role, p+"/") }) / r.weight(p)
	}
	own := func(p string) float64 { return r.share(func(k refKey) bool { return k.role == p }) / r.weight(p) }
	cx, cy := strings.Split(x, "/"), strings.Split(y, "/")
	for i := 0; i < len(cx) && i < len(cy); i++ {
		if cx[i] != cy[i] {
			px, py := strings.Join(cx[:i+1], "/"), strings.Join(cy[:i+1], "/")
			if c := cmp.Compare(subtree(px), subtree(py)); c != 0 {
				return c
			}
			return strings.Compare(px, py)
		}
	}
	switch {
	case len(cx) == len(cy):
		return 0
	case len(cx) < len(cy):
		if own(x) <= subtree(strings.Join(cy[:len(cx)+1], "/")) {
			return -1
		}
		return 1
	}
	if own(y) <= subtree(strings.Join(cx[:len(cy)+1], "/")) {
		return 1
	}
	return -1
}

func (r *reference) sortedFrameworks(role string) []string {
	var fws []string
	share := map[string]float64{}
	for id := range r.frameworks {
		if r.eligible(id, role) {
			fws = append(fws, id)
			share[id] = r.share(func(k refKey) bool { return k == refKey{id, role} })
		}
	}
	slices.SortFunc(fws, func(x, y string) int {
		if c := cmp.Compare(share[x], share[y]); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return fws
}
