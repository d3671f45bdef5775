package core

import (
	"slices"
	"strings"
)

// RoleView is one role of the /roles endpoint, in Mesos' JSON shape: its
// weight, subscribed frameworks, the scalars its tasks and executors use,
// and its quota when it has one.
type RoleView struct {
	Name       string             `json:"name"`
	Weight     float64            `json:"weight"`
	Frameworks []string           `json:"frameworks"`
	Resources  map[string]float64 `json:"resources"`
	Quota      *RoleQuota         `json:"quota,omitempty"`
}

// RoleQuota is a role's quota as Mesos' /roles shows it since 1.9:
// guarantees and limits by resource name, zeros left out.
type RoleQuota struct {
	Role      string             `json:"role"`
	Guarantee map[string]float64 `json:"guarantee"`
	Limit     map[string]float64 `json:"limit"`
}

// Roles lists the roles GET_ROLES lists, with their quotas.
func (c *Core) Roles() []RoleView {
	quotas := c.alloc.Quotas()
	var out []RoleView
	for _, r := range c.GetRoles().GetRoles() {
		v := RoleView{Name: r.GetName(), Weight: r.GetWeight(), Frameworks: []string{}, Resources: map[string]float64{}}
		for _, id := range r.GetFrameworks() {
			v.Frameworks = append(v.Frameworks, id.GetValue())
		}
		for _, res := range r.GetResources() {
			if res.Scalar != nil {
				v.Resources[res.GetName()] += res.GetScalar().GetValue()
			}
		}
		if q, ok := quotas[v.Name]; ok {
			rq := &RoleQuota{Role: v.Name, Guarantee: map[string]float64{}, Limit: map[string]float64{}}
			for _, g := range q.Guarantees {
				rq.Guarantee[g.Name] = g.Value.Float()
			}
			for _, l := range q.Limits {
				rq.Limit[l.Name] = l.Value.Float()
			}
			v.Quota = rq
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b RoleView) int { return strings.Compare(a.Name, b.Name) })
	return out
}
