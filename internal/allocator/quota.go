package allocator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mesoproject/meso/internal/resources"
)

// Quota is a role's quota, as Mesos 1.9's QuotaConfig: scalar guarantees
// the allocator satisfies before it shares out the rest of the cluster,
// and limits no offer may take the role's consumption beyond. Names absent
// from Guarantees have no guarantee; names absent from Limits no limit. A
// role's consumption is what it and its descendant roles hold (offered or
// used, reserved resources included).
type Quota struct {
	Guarantees resources.Quantities
	Limits     resources.Quantities
}

// IsZero reports whether q is the default quota: no guarantee, no limit.
func (q Quota) IsZero() bool { return len(q.Guarantees) == 0 && len(q.Limits) == 0 }

// ErrCapacity is returned by CheckQuotaCapacity when guarantees or limits
// exceed what the cluster has (Mesos' check that UpdateQuota.force skips).
var ErrCapacity = errors.New("allocator: quota exceeds the cluster's capacity")

// qty is one quota amount by scalar name index.
type qty struct {
	idx int
	v   int64
}

// quota is the allocator's record of a role's non-default quota.
type quota struct {
	role  string
	q     Quota
	guar  []qty
	limit []qty
	// children are the nearest guaranteed descendants: their guarantees
	// are part of this one.
	children []*quota
	// node is the role's node in the tree, nil while no role at or below
	// it exists (pathOf and dropPath keep it current).
	node *node
}

// ValidateQuota checks one role's quota on its own: a valid role other
// than "*", quantities sorted by name without duplicates, and no guarantee
// above the limit of the same name.
func ValidateQuota(role string, q Quota) error {
	if role == resources.Unreserved {
		return fmt.Errorf("%w: quota cannot be set for role %q", ErrInvalid, role)
	}
	if err := validRole(role); err != nil {
		return err
	}
	for _, list := range []resources.Quantities{q.Guarantees, q.Limits} {
		for i, x := range list {
			if x.Name == "" || x.Value < 0 {
				return fmt.Errorf("%w: role %q: bad quota quantity %v", ErrInvalid, role, x)
			}
			if i > 0 && list[i-1].Name >= x.Name {
				return fmt.Errorf("%w: role %q: quota quantities must be sorted by name with one entry per name", ErrInvalid, role)
			}
		}
	}
	for _, g := range q.Guarantees {
		if l, ok := quantity(q.Limits, g.Name); ok && g.Value > l {
			return fmt.Errorf("%w: role %q: guarantee %s:%v is above the limit %s:%v", ErrInvalid, role, g.Name, g.Value, g.Name, l)
		}
	}
	return nil
}

func quantity(q resources.Quantities, name string) (resources.Scalar, bool) {
	for _, x := range q {
		if x.Name == name {
			return x.Value, true
		}
	}
	return 0, false
}

// Quotas returns the non-default quotas by role (a copy).
func (a *Allocator) Quotas() map[string]Quota {
	out := make(map[string]Quota, len(a.quotas))
	for role, q := range a.quotas {
		out[role] = q.q
	}
	return out
}

// nextQuotas is the quota set after updates (a zero Quota removes one).
func (a *Allocator) nextQuotas(updates map[string]Quota) (map[string]Quota, error) {
	next := a.Quotas()
	for _, role := range slices.Sorted(maps.Keys(updates)) {
		q := updates[role]
		if err := ValidateQuota(role, q); err != nil {
			return nil, err
		}
		if q.IsZero() {
			delete(next, role)
		} else {
			next[role] = q
		}
	}
	return next, validateQuotaTree(next)
}

// nearestQuotaAncestor returns the closest proper ancestor of role that has
// a quota in set.
func nearestQuotaAncestor(set map[string]Quota, role string) (string, bool) {
	for i := strings.LastIndexByte(role, '/'); i > 0; i = strings.LastIndexByte(role[:i], '/') {
		if _, ok := set[role[:i]]; ok {
			return role[:i], true
		}
	}
	return "", false
}

// validateQuotaTree checks hierarchical quotas: under the nearest ancestor
// with a quota, a role's limits may not exceed the ancestor's, and the
// guarantees of the roles it is nearest to may not add up to more than its
// own (a name it does not guarantee counts as zero).
func validateQuotaTree(set map[string]Quota) error {
	children := map[string][]string{}
	for _, role := range slices.Sorted(maps.Keys(set)) {
		parent, ok := nearestQuotaAncestor(set, role)
		if !ok {
			continue
		}
		children[parent] = append(children[parent], role)
		for _, l := range set[role].Limits {
			if pl, ok := quantity(set[parent].Limits, l.Name); ok && l.Value > pl {
				return fmt.Errorf("%w: role %q: limit %s:%v is above the limit %s:%v of its ancestor %q", ErrInvalid, role, l.Name, l.Value, l.Name, pl, parent)
			}
		}
	}
	for _, parent := range slices.Sorted(maps.Keys(children)) {
		sum := map[string]resources.Scalar{}
		for _, child := range children[parent] {
			for _, g := range set[child].Guarantees {
				sum[g.Name] += g.Value
			}
		}
		for _, name := range slices.Sorted(maps.Keys(sum)) {
			if pg, _ := quantity(set[parent].Guarantees, name); sum[name] > pg {
				return fmt.Errorf("%w: the guarantees of the roles under %q add up to %s:%v, more than its guarantee %s:%v", ErrInvalid, parent, name, sum[name], name, pg)
			}
		}
	}
	return nil
}

// CheckQuotaCapacity reports, without changing anything, whether the quota
// set after updates fits the cluster: the guarantees of top-level quota
// roles add up to no more than the cluster's total of each resource, and
// no limit exceeds that total. Mesos runs this check unless the operator
// forces the update.
func (a *Allocator) CheckQuotaCapacity(updates map[string]Quota) error {
	next, err := a.nextQuotas(updates)
	if err != nil {
		return err
	}
	total := func(name string) resources.Scalar {
		if i, ok := a.names[name]; ok {
			return resources.Scalar(a.total[i])
		}
		return 0
	}
	sum := map[string]resources.Scalar{}
	for _, role := range slices.Sorted(maps.Keys(next)) {
		for _, l := range next[role].Limits {
			if l.Value > total(l.Name) {
				return fmt.Errorf("%w: role %q: limit %s:%v is above the cluster's %s:%v (use 'force' flag to bypass this check)", ErrCapacity, role, l.Name, l.Value, l.Name, total(l.Name))
			}
		}
		if _, nested := nearestQuotaAncestor(next, role); !nested {
			for _, g := range next[role].Guarantees {
				sum[g.Name] += g.Value
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sum)) {
		if sum[name] > total(name) {
			// Mesos' message (names sorted, "; " between them).
			var want, have []string
			for _, n := range slices.Sorted(maps.Keys(sum)) {
				want = append(want, fmt.Sprintf("%s:%v", n, sum[n]))
			}
			for _, n := range slices.Sorted(maps.Keys(a.names)) {
				if v := total(n); v > 0 {
					have = append(have, fmt.Sprintf("%s:%v", n, v))
				}
			}
			return fmt.Errorf("%w: Invalid QuotaConfig: total quota guarantees '%s' exceed cluster capacity '%s' (use 'force' flag to bypass this check)",
				ErrCapacity, strings.Join(want, "; "), strings.Join(have, "; "))
		}
	}
	return nil
}

// UpdateQuotas sets the quotas of the given roles, all of them or none: a
// zero Quota returns a role to the default. It fails with ErrInvalid when
// a quota is invalid on its own (ValidateQuota) or the resulting set
// breaks the hierarchy's rules (a child's limit above its ancestor's, the
// children's guarantees above the ancestor's). The cluster's capacity is
// not checked here: see CheckQuotaCapacity.
func (a *Allocator) UpdateQuotas(updates map[string]Quota) error {
	next, err := a.nextQuotas(updates)
	if err != nil {
		return err
	}
	a.quotas = make(map[string]*quota, len(next))
	for role, q := range next {
		rec := &quota{role: role, q: q, node: a.nodes[role]}
		for _, g := range q.Guarantees {
			rec.guar = append(rec.guar, qty{a.nameIndex(g.Name), int64(g.Value)})
		}
		for _, l := range q.Limits {
			rec.limit = append(rec.limit, qty{a.nameIndex(l.Name), int64(l.Value)})
		}
		a.quotas[role] = rec
	}
	a.topGuarantees = a.topGuarantees[:0]
	for _, role := range slices.Sorted(maps.Keys(a.quotas)) {
		q := a.quotas[role]
		if len(q.guar) == 0 {
			continue
		}
		if anc := a.guaranteedAncestor(role); anc != nil {
			anc.children = append(anc.children, q)
		} else {
			a.topGuarantees = append(a.topGuarantees, q)
		}
	}
	for _, r := range a.roles {
		a.bindQuota(r)
	}
	a.epoch++ // a raised limit or a new guarantee may open agents
	return nil
}

// guaranteedAncestor returns the closest proper ancestor of role with a
// guarantee, or nil.
func (a *Allocator) guaranteedAncestor(role string) *quota {
	for i := strings.LastIndexByte(role, '/'); i > 0; i = strings.LastIndexByte(role[:i], '/') {
		if q := a.quotas[role[:i]]; q != nil && len(q.guar) > 0 {
			return q
		}
	}
	return nil
}

// bindQuota caches on r the quotas along its path.
func (a *Allocator) bindQuota(r *role) {
	r.limited, r.limitedNodes, r.top, r.topNode = r.limited[:0], r.limitedNodes[:0], nil, nil
	for _, n := range r.path {
		q := a.quotas[n.name]
		if q == nil {
			continue
		}
		if len(q.limit) > 0 {
			r.limited = append(r.limited, q)
			r.limitedNodes = append(r.limitedNodes, n)
		}
		if r.top == nil && len(q.guar) > 0 {
			r.top, r.topNode = q, n
		}
	}
}

// consumed is what q's role and its descendants hold of name index idx.
func (a *Allocator) consumed(q *quota, idx int) int64 {
	n := q.node
	if n == nil || idx >= len(n.alloc) {
		return 0
	}
	return n.alloc[idx]
}

// need is what q's guarantee of name idx still needs: the unmet part of
// its own guarantee, or what its guaranteed descendants need if that is
// more. The role r (nil for none) is counted as holding x more.
func (a *Allocator) need(q *quota, idx int, r *role, x int64) int64 {
	var own int64
	for _, g := range q.guar {
		if g.idx == idx {
			c := a.consumed(q, idx)
			if r != nil && (r.name == q.role || strings.HasPrefix(r.name, q.role) && r.name[len(q.role)] == '/') {
				c += x
			}
			own = max(0, g.v-c)
		}
	}
	var sum int64
	for _, ch := range q.children {
		sum += a.need(ch, idx, r, x)
	}
	return max(own, sum)
}

// needsAny reports whether q's guarantee, or a descendant's, is unmet.
func (a *Allocator) needsAny(q *quota) bool {
	for _, g := range q.guar {
		if a.need(q, g.idx, nil, 0) > 0 {
			return true
		}
	}
	return false
}

// headroom is what the cycle must keep unallocated so that unmet
// guarantees can still be met: free is the unreserved available scalars of
// active agents and need the unmet guarantees of top-level guaranteed
// roles, by name index. Offers to a role may take from free only what
// leaves free >= need, plus the unmet part of the role's own guarantee.
type headroom struct {
	on   bool
	free []int64
	need []int64
}

// prepareHeadroom computes the headroom at the start of a cycle.
func (a *Allocator) prepareHeadroom() {
	h := &a.head
	h.on = false
	if len(a.topGuarantees) == 0 {
		return
	}
	h.need = resize(h.need, len(a.names))
	for _, q := range a.topGuarantees {
		for _, g := range q.guar {
			if u := a.need(q, g.idx, nil, 0); u > 0 {
				h.need[g.idx] += u
				h.on = true
			}
		}
	}
	if !h.on {
		return
	}
	h.free = resize(h.free, len(a.names))
	for _, ag := range a.agentOrder {
		if !ag.active {
			continue
		}
		for i := range ag.available {
			x := &ag.available[i]
			if x.Kind == resources.KindScalar && !x.Reserved() {
				h.free[a.nameIndex(x.Name)] += int64(x.Scalar)
			}
		}
	}
}

// resize returns s with n zeroed entries, reusing its storage.
func resize(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// take records in the headroom that res is offered to r: free shrinks by
// its unreserved scalars, and need by what it meets of r's guarantee.
func (a *Allocator) take(r *role, res resources.Resources) {
	h := &a.head
	if !h.on {
		return
	}
	for i := range res {
		x := &res[i]
		if x.Kind == resources.KindScalar && !x.Reserved() {
			h.free[a.nameIndex(x.Name)] -= int64(x.Scalar)
		}
	}
	if q := r.top; q != nil {
		for _, g := range q.guar {
			add := int64(res.Scalar(a.nameOf(g.idx)))
			h.need[g.idx] -= a.need(q, g.idx, r, 0) - a.need(q, g.idx, r, add)
		}
	}
}

// nameOf returns the scalar name with index idx.
func (a *Allocator) nameOf(idx int) string {
	if idx < len(a.nameList) {
		return a.nameList[idx]
	}
	return ""
}

// capOffer shrinks what an agent can offer to r so that the offer keeps r
// and its ancestors within their limits and leaves the headroom unmet
// guarantees need. It reports whether anything was held back.
func (a *Allocator) capOffer(r *role, offerable resources.Resources) (resources.Resources, bool) {
	if len(r.limited) == 0 && !a.head.on {
		return offerable, false
	}
	n := len(a.names)
	lim, head := a.capLimit[:0], a.capHead[:0]
	for range n {
		lim, head = append(lim, -1), append(head, -1)
	}
	a.capLimit, a.capHead = lim, head
	for i, q := range r.limited {
		n := r.limitedNodes[i]
		for _, l := range q.limit {
			var used int64
			if l.idx < len(n.alloc) {
				used = n.alloc[l.idx]
			}
			b := max(0, l.v-used)
			if lim[l.idx] < 0 || b < lim[l.idx] {
				lim[l.idx] = b
			}
		}
	}
	if h := &a.head; h.on {
		for idx, need := range h.need {
			if need > 0 {
				head[idx] = a.headroomFor(r, offerable, idx)
			}
		}
	}
	out, cut := shrink(offerable, a.names, lim, head, a.amounts[:0])
	a.amounts = out.amounts
	return out.res, cut
}

// headroomFor is the most of unreserved name idx that r may take from
// offerable: after taking u (and the reserved v beside it), what is free
// must still cover what guarantees need, or, when the guarantees are
// overcommitted, the offer must only meet them (never widen the gap).
func (a *Allocator) headroomFor(r *role, offerable resources.Resources, idx int) int64 {
	h := &a.head
	name := a.nameOf(idx)
	var unres, res int64
	for i := range offerable {
		if x := &offerable[i]; x.Kind == resources.KindScalar && x.Name == name {
			if x.Reserved() {
				res += int64(x.Scalar)
			} else {
				unres += int64(x.Scalar)
			}
		}
	}
	q := r.top
	if q == nil {
		return min(unres, max(0, h.free[idx]-h.need[idx]))
	}
	others := h.need[idx] - a.need(q, idx, r, 0)
	bound := max(h.free[idx], others+a.need(q, idx, r, res))
	if len(q.children) == 0 {
		// need falls one for one with u until it is met, so every u up to
		// bound-others fits (bound covers the need at u=0).
		return min(unres, bound-others)
	}
	fits := func(u int64) bool { return u+others+a.need(q, idx, r, u+res) <= bound }
	lo, hi := int64(0), unres // fits(lo) holds
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

type shrunk struct {
	res     resources.Resources
	amounts []resources.Scalar // scratch, returned for reuse
}

// shrink caps the scalars of r: lim bounds each name in total (reserved
// pieces count first), head bounds its unreserved pieces; -1 is no bound.
// It reports whether anything was cut. amounts is scratch space.
func shrink(r resources.Resources, index map[string]int, lim, head []int64, amounts []resources.Scalar) (shrunk, bool) {
	amounts = append(amounts, make([]resources.Scalar, len(r))...)
	cut, left := false, false
	for pass := range 2 {
		for i := range r {
			x := &r[i]
			if x.Kind != resources.KindScalar || x.Reserved() != (pass == 0) {
				continue
			}
			idx := index[x.Name]
			v := int64(x.Scalar)
			if lim[idx] >= 0 {
				v = min(v, lim[idx])
				lim[idx] -= v
			}
			if pass == 1 && head[idx] >= 0 {
				v = min(v, head[idx])
				head[idx] -= v
			}
			cut = cut || v < int64(x.Scalar)
			left = left || v > 0
			amounts[i] = resources.Scalar(v)
		}
	}
	if !cut {
		return shrunk{r, amounts}, false
	}
	for i := range r {
		left = left || r[i].Kind != resources.KindScalar
	}
	if !left {
		return shrunk{nil, amounts}, true
	}
	out := make(resources.Resources, 0, len(r))
	for i, x := range r {
		if x.Kind == resources.KindScalar {
			if amounts[i] == 0 {
				continue
			}
			x.Scalar = amounts[i]
		}
		out = append(out, x)
	}
	return shrunk{out, amounts}, true
}

// progress reports whether offering res to r meets part of what the
// guarantee q (r's top-most) needs.
func (a *Allocator) progress(r *role, q *quota, res resources.Resources) bool {
	for _, g := range q.guar {
		if add := int64(res.Scalar(a.nameOf(g.idx))); add > 0 && a.need(q, g.idx, r, add) < a.need(q, g.idx, r, 0) {
			return true
		}
	}
	return false
}
