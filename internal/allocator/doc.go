// Package allocator is meso's pure, deterministic weighted-DRF allocator,
// after Mesos' hierarchical DRF allocator.
//
// The Allocator has no goroutines, clock, randomness of its own or I/O: the
// master drives it from its single loop with events (agents and frameworks
// coming and going, declines, launches, suppress/revive) and calls Allocate
// with the current time, which returns the offers to make. Given the same
// Config and the same sequence of calls, it returns the same offers. It is
// not safe for concurrent use; its owner serializes calls.
//
// # Allocation
//
// Each Allocate cycle visits the active agents (in id order, or shuffled by
// a generator seeded from Config.ShuffleSeed). For each agent with available
// resources it walks the roles in hierarchical-DRF order and, within a role,
// the frameworks subscribed to it in order of their own dominant share in
// that role (ties by id). Roles form a tree by their '/'-separated paths
// (eng, eng/web): siblings are sorted by the weighted dominant share of
// their whole subtree (the largest fraction of any scalar resource of the
// cluster held at or below them, divided by the weight of that role path;
// ties by name), and a role with children competes among them with its own
// share. The first framework that may receive gets everything on the agent
// that is allocatable to the role: unreserved resources plus those reserved
// to the role or to an ancestor of it (Mesos offers whole agents), cut to
// the role's quota (below). A framework may not receive when it is
// inactive, has suppressed the role, lacks the GPU_RESOURCES capability and
// the agent has GPUs, has a live filter for the agent that covers what
// would be offered, or when the offer would contain none of
// Config.MinAllocatable. Shares are updated after every offer, so the next
// agent goes to whoever is then furthest behind.
//
// # Quota
//
// UpdateQuotas gives roles Mesos 1.9's quota: scalar guarantees and limits.
// A role's consumption is what it and its descendants hold. A cycle with
// unmet guarantees has two stages. Stage 1 walks the agents for the roles
// whose top-most guaranteed path entry (the role or an ancestor) still
// needs resources and offers them only what meets part of that need. Stage
// 2 is the DRF walk above for every role. In both, an offer is cut so that
// it takes no role or ancestor beyond a limit, and so that what stays free
// (unreserved, on active agents) still covers the headroom: the unmet part
// of every top-level guarantee, where a guarantee's need is the larger of
// its own unmet part and the sum of its guaranteed children's needs. Limits
// and guarantees are validated as a tree (ValidateQuota, UpdateQuotas);
// CheckQuotaCapacity is Mesos' capacity check that a forced update skips.

// Offered resources count as allocated to the framework (they weigh on its
// share and are never offered twice) until the master reports them used
// (Allocated) or returns them (Recover). A Recover with a refusal duration
// installs a filter: until it expires, the framework is not offered
// resources from that agent under that role that the declined resources
// contain, as Mesos' refused-resources filter does.
//
// # Optimistic offers
//
// With Config.OfferFanout > 1, each stage-2 offer is also made, as shadow
// offers (Offer.Group, Offer.Shadow), to up to OfferFanout-1 more
// frameworks: the next eligible members of the role in DRF order, then
// members of other roles for whom the agent's allocatable resources are
// exactly the offer (only when no quota shapes it). Only the first is
// charged; the master moves the holding to the framework whose ACCEPT
// comes first (Transfer) and installs a shadow's decline filter with
// Refuse. Mesos has no such mode (MESOS-1607).
//
// # Differences from Mesos
//
// Reservations to an ancestor role are allocatable to its descendants.
// Unallocated reservations do not count toward a role's quota consumption
// (Mesos counts them); a hierarchical guarantee is validated against the
// nearest ancestor that has a quota. There are no revocable or shared
// resources, and one filter per (framework, role, agent): a newer refusal
// replaces the older one. Offers are per (framework, agent, role); the
// master may merge a multi-role framework's offers for one agent into one
// Offer message.
//
// # Performance
//
// Filters are stored per agent in a slice indexed by a dense (framework,
// role) slot, with the declined resources interned per agent. An agent that
// no framework could receive from is marked idle until something that could
// change that happens: its available resources grow, a framework becomes
// eligible or loses filters (a global epoch), or the earliest blocking
// filter expires; with quotas, also any release, a new or reactivated
// agent, or a quota change. Steady-state cycles therefore skip idle agents
// in O(1).
package allocator
