package core

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"github.com/mesoproject/meso/internal/allocator"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// QuotaRegistry is implemented by registries that keep quotas durably
// (the replicated registry does; MemRegistry does not, so an in-memory
// master forgets quotas when it restarts, as it forgets agents).
type QuotaRegistry interface {
	// SetQuota records a role's serialized QuotaConfig; nil removes it.
	SetQuota(role string, config []byte) error
}

// WeightRegistry is implemented by registries that keep roles' weights
// durably (the replicated registry does; MemRegistry does not).
type WeightRegistry interface {
	// SetWeights records the given roles' weights; other roles keep theirs.
	SetWeights(weights map[string]float64) error
}

// GetQuota answers GET_QUOTA: every non-default quota, as configs and, for
// older clients, as guarantee-only infos.
func (c *Core) GetQuota() *quotapb.QuotaStatus {
	qs := c.alloc.Quotas()
	out := &quotapb.QuotaStatus{}
	for _, role := range slices.Sorted(maps.Keys(qs)) {
		cfg := quotaConfig(role, qs[role])
		out.Configs = append(out.Configs, cfg)
		info := &quotapb.QuotaInfo{Role: proto.String(role)}
		for _, g := range qs[role].Guarantees {
			info.Guarantee = append(info.Guarantee, &mesospb.Resource{Name: proto.String(g.Name),
				Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(g.Value.Float())}})
		}
		out.Infos = append(out.Infos, info)
	}
	return out
}

func quotaConfig(role string, q allocator.Quota) *quotapb.QuotaConfig {
	cfg := &quotapb.QuotaConfig{Role: proto.String(role)}
	for _, g := range q.Guarantees {
		if cfg.Guarantees == nil {
			cfg.Guarantees = map[string]*mesospb.Value_Scalar{}
		}
		cfg.Guarantees[g.Name] = &mesospb.Value_Scalar{Value: proto.Float64(g.Value.Float())}
	}
	for _, l := range q.Limits {
		if cfg.Limits == nil {
			cfg.Limits = map[string]*mesospb.Value_Scalar{}
		}
		cfg.Limits[l.Name] = &mesospb.Value_Scalar{Value: proto.Float64(l.Value.Float())}
	}
	return cfg
}

// quantities converts a QuotaConfig map: names non-empty, values finite
// and not negative; zeros are dropped.
func quantities(field string, m map[string]*mesospb.Value_Scalar) (resources.Quantities, error) {
	var q resources.Quantities
	for _, name := range slices.Sorted(maps.Keys(m)) {
		v, err := resources.ScalarFromFloat(m[name].GetValue())
		if err != nil || v < 0 || name == "" {
			return nil, fmt.Errorf("%s[%q]: value %v must be a finite, non-negative scalar", field, name, m[name].GetValue())
		}
		if v > 0 {
			q = append(q, resources.Quantity{Name: name, Value: v})
		}
	}
	return q, nil
}

// UpdateQuota applies UPDATE_QUOTA: every config or none. A config with
// no guarantees and no limits returns its role to the default. Without
// force, the result must fit the cluster (guarantees of top-level roles
// and every limit within the cluster's totals). The quotas are written to
// the registry before the allocator applies them.
func (c *Core) UpdateQuota(now time.Time, configs []*quotapb.QuotaConfig, force bool) error {
	updates := map[string]allocator.Quota{}
	for i, cfg := range configs {
		if cfg.Role == nil {
			return fmt.Errorf("%w: quota_configs[%d]: expecting 'role' to be present", ErrInvalid, i)
		}
		role := cfg.GetRole()
		if _, dup := updates[role]; dup {
			return fmt.Errorf("%w: quota_configs[%d]: role %q appears more than once", ErrInvalid, i, role)
		}
		g, err := quantities("guarantees", cfg.GetGuarantees())
		if err != nil {
			return fmt.Errorf("%w: quota_configs[%d]: %w", ErrInvalid, i, err)
		}
		l, err := quantities("limits", cfg.GetLimits())
		if err != nil {
			return fmt.Errorf("%w: quota_configs[%d]: %w", ErrInvalid, i, err)
		}
		updates[role] = allocator.Quota{Guarantees: g, Limits: l}
	}
	return c.applyQuotas(now, updates, force)
}

func (c *Core) applyQuotas(now time.Time, updates map[string]allocator.Quota, force bool) error {
	check := c.alloc.CheckQuotaCapacity(updates)
	if check != nil && (!force || !errors.Is(check, allocator.ErrCapacity)) {
		return fmt.Errorf("%w: %w", ErrInvalid, check)
	}
	if reg, ok := c.cfg.Registry.(QuotaRegistry); ok {
		for _, role := range slices.Sorted(maps.Keys(updates)) {
			var blob []byte
			if q := updates[role]; !q.IsZero() {
				var err error
				if blob, err = proto.Marshal(quotaConfig(role, q)); err != nil {
					return err
				}
			}
			if err := reg.SetQuota(role, blob); err != nil {
				return err
			}
		}
	}
	old := c.alloc.Quotas()
	if err := c.alloc.UpdateQuotas(updates); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err) // checked above; the allocator agrees
	}
	c.rescindForQuotas(now, old, updates)
	c.allocateSoon = true
	return nil
}

// SetQuota applies the deprecated SET_QUOTA: the guarantee becomes the
// role's guarantees and, as in Mesos 1.9, its limits too. A role that has
// a quota already is refused (REMOVE_QUOTA it first, or use UPDATE_QUOTA).
func (c *Core) SetQuota(now time.Time, req *quotapb.QuotaRequest) error {
	role := req.GetRole()
	if req.Role == nil {
		return fmt.Errorf("%w: quota_request: expecting 'role' to be present", ErrInvalid)
	}
	if _, ok := c.alloc.Quotas()[role]; ok {
		return fmt.Errorf("%w: role %q already has a quota", ErrInvalid, role)
	}
	m := map[string]*mesospb.Value_Scalar{}
	for i, r := range req.GetGuarantee() {
		if r.GetType() != mesospb.Value_SCALAR || r.Scalar == nil || r.Reservation != nil || len(r.GetReservations()) > 0 {
			return fmt.Errorf("%w: quota_request.guarantee[%d]: only unreserved scalar resources are allowed", ErrInvalid, i)
		}
		if _, dup := m[r.GetName()]; dup {
			return fmt.Errorf("%w: quota_request.guarantee[%d]: %q appears more than once", ErrInvalid, i, r.GetName())
		}
		m[r.GetName()] = r.GetScalar()
	}
	q, err := quantities("guarantee", m)
	if err != nil {
		return fmt.Errorf("%w: quota_request: %w", ErrInvalid, err)
	}
	if len(q) == 0 {
		return fmt.Errorf("%w: quota_request: the guarantee is empty", ErrInvalid)
	}
	return c.applyQuotas(now, map[string]allocator.Quota{role: {Guarantees: q, Limits: q}}, req.GetForce())
}

// RemoveQuota applies the deprecated REMOVE_QUOTA.
func (c *Core) RemoveQuota(now time.Time, role string) error {
	if _, ok := c.alloc.Quotas()[role]; !ok {
		return fmt.Errorf("%w: role %q has no quota to remove", ErrInvalid, role)
	}
	return c.applyQuotas(now, map[string]allocator.Quota{role: {}}, true)
}

// recoverQuotas applies the quotas read from the registry, without the
// capacity check (agents have not re-registered yet).
func (c *Core) recoverQuotas(configs []*quotapb.QuotaConfig) error {
	updates := map[string]allocator.Quota{}
	for _, cfg := range configs {
		g, err := quantities("guarantees", cfg.GetGuarantees())
		if err != nil {
			return fmt.Errorf("%w: recovered quota of %q: %w", ErrInvalid, cfg.GetRole(), err)
		}
		l, err := quantities("limits", cfg.GetLimits())
		if err != nil {
			return fmt.Errorf("%w: recovered quota of %q: %w", ErrInvalid, cfg.GetRole(), err)
		}
		updates[cfg.GetRole()] = allocator.Quota{Guarantees: g, Limits: l}
	}
	if err := c.alloc.UpdateQuotas(updates); err != nil {
		return fmt.Errorf("%w: recovered quotas: %w", ErrInvalid, err)
	}
	return nil
}

// recoverWeights applies the weights read from the registry.
func (c *Core) recoverWeights(weights map[string]float64) error {
	for _, role := range slices.Sorted(maps.Keys(weights)) {
		if err := c.alloc.SetWeight(role, weights[role]); err != nil {
			return fmt.Errorf("%w: recovered weight of %q: %w", ErrInvalid, role, err)
		}
	}
	return nil
}

// rescindForQuotas rescinds the outstanding offers a quota update makes
// stale, as Mesos rescinds offers when a quota is set:
//
//   - a role whose limits were set or lowered loses the offers made to it
//     and its descendants (they may take it beyond the new limit);
//   - a role whose guarantees grew gets room: offers of other roles are
//     rescinded, whole agents at a time in agent id order, until the
//     rescinded resources cover the growth and come from at least as many
//     agents as the role has frameworks (Mesos' rules).
//
// A removed quota rescinds nothing.
func (c *Core) rescindForQuotas(now time.Time, old, updates map[string]allocator.Quota) {
	under := func(o *offer, role string) bool { return o.role == role || strings.HasPrefix(o.role, role+"/") }
	for _, role := range slices.Sorted(maps.Keys(updates)) {
		q, was := updates[role], old[role]
		if len(q.Limits) > 0 && !notLowered(was.Limits, q.Limits) {
			for _, id := range sortedKeys(c.offers) {
				if o := c.offers[id]; o != nil && under(o, role) {
					c.rescind(now, o, true)
				}
			}
		}
		growth := grown(was.Guarantees, q.Guarantees)
		if len(growth) == 0 {
			continue
		}
		frameworks := 0
		for _, fw := range c.frameworks {
			if slices.ContainsFunc(fw.roles, func(r string) bool { return r == role || strings.HasPrefix(r, role+"/") }) {
				frameworks++
			}
		}
		var freed resources.Resources
		agents := 0
		for _, agID := range sortedKeys(c.agents) {
			if freed.ContainsQuantities(growth) && agents >= max(1, frameworks) {
				break
			}
			ag := c.agents[agID]
			if !slices.ContainsFunc(slices.Collect(maps.Values(ag.offers)), func(o *offer) bool { return !under(o, role) }) {
				continue
			}
			agents++
			for _, id := range sortedKeys(ag.offers) {
				o := ag.offers[id]
				if o.group == nil || o.group.holder == o {
					freed = freed.Add(o.res)
				}
				c.rescind(now, o, true)
			}
		}
	}
}

// notLowered reports whether every limit in now was set before and is
// not lower now (a name missing from before had no limit).
func notLowered(before, now resources.Quantities) bool {
	for _, l := range now {
		if v, ok := quantity(before, l.Name); !ok || l.Value < v {
			return false
		}
	}
	return true
}

// grown is what the guarantees in now add to those of before.
func grown(before, now resources.Quantities) resources.Quantities {
	var out resources.Quantities
	for _, g := range now {
		v, _ := quantity(before, g.Name)
		if g.Value > v {
			out = append(out, resources.Quantity{Name: g.Name, Value: g.Value - v})
		}
	}
	return out
}

func quantity(q resources.Quantities, name string) (resources.Scalar, bool) {
	for _, e := range q {
		if e.Name == name {
			return e.Value, true
		}
	}
	return 0, false
}
