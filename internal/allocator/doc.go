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
// resources it walks the roles in order of weighted dominant share (the
// largest fraction of any scalar resource of the cluster the role holds,
// divided by the role's weight; ties by name) and, within a role, the
// frameworks subscribed to it in order of their own dominant share in that
// role (ties by id). The first framework that may receive gets everything
// on the agent that is allocatable to the role: unreserved resources plus
// those reserved to the role or to an ancestor of it (Mesos offers whole
// agents). A framework may not receive when it is inactive, has suppressed
// the role, lacks the GPU_RESOURCES capability and the agent has GPUs, has a
// live filter for the agent that covers what would be offered, or when the
// offer would contain none of Config.MinAllocatable. Shares are updated after
// every offer, so the next agent goes to whoever is then furthest behind.
//
// Offered resources count as allocated to the framework (they weigh on its
// share and are never offered twice) until the master reports them used
// (Allocated) or returns them (Recover). A Recover with a refusal duration
// installs a filter: until it expires, the framework is not offered
// resources from that agent under that role that the declined resources
// contain, as Mesos' refused-resources filter does.
//
// # Differences from Mesos
//
// Roles are sorted flat (each role by its own share), not as a tree;
// reservations to an ancestor role are allocatable to its descendants.
// There is no quota stage, no revocable or shared resources, and one filter
// per (framework, role, agent): a newer refusal replaces the older one.
// Offers are per (framework, agent, role); the master may merge a
// multi-role framework's offers for one agent into one Offer message.
//
// # Performance
//
// Filters are stored per agent in a slice indexed by a dense (framework,
// role) slot, with the declined resources interned per agent. An agent that
// no framework could receive from is marked idle until something that could
// change that happens: its available resources grow, a framework becomes
// eligible or loses filters (a global epoch), or the earliest blocking
// filter expires. Steady-state cycles therefore skip idle agents in O(1).
package allocator
