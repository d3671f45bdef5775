package core

import "fmt"

// Optimistic offers (Config.Allocator.OfferFanout > 1): the allocator
// offers the same resources on an agent to several frameworks at once
// (an offerGroup) and charges them to one, the holder. The rules:
//
//   - The first valid ACCEPT of any offer of a group wins: the holding
//     moves to its framework (allocator Transfer) and every other offer
//     of the group is rescinded (RESCIND), with the reason kept for a
//     while, so that a later ACCEPT of one of them is answered
//     TASK_DROPPED (TASK_LOST for frameworks that are not partition
//     aware, as for any invalid offer) with REASON_INVALID_OFFERS and a
//     message naming the winner.
//   - A DECLINE (or a rescind) of one offer of a group takes only that
//     offer out: its filter is installed for its framework and the others
//     stay outstanding; when the holder leaves, the holding moves to
//     another member. The resources return to the allocator only when the
//     last offer of the group does.
//   - The allocator's books (offered + used, per framework and role)
//     equal the core's with each group counted once, at its holder.

// maxConflictNotes bounds the remembered reasons of conflict rescinds.
const maxConflictNotes = 10000

// claim makes o, about to be used by an ACCEPT, the only offer of its
// group: its framework becomes the holder and the other members are
// rescinded as conflicts.
func (c *Core) claim(o *offer) {
	g := o.group
	if g == nil {
		return
	}
	if g.holder != o {
		c.transfer(g, g.holder, o)
	}
	for _, m := range g.members {
		if m == o {
			continue
		}
		m.group = nil
		c.dropOffer(m)
		c.noteConflict(m.id, fmt.Sprintf("framework %s accepted offer %s of the same resources first (optimistic offers)", o.fw.id, o.id))
		c.metrics.offerConflicts++
		c.sendRescind(m)
	}
	g.members = g.members[:0]
	o.group = nil
}

// transfer moves a group's holding from one member to another.
func (c *Core) transfer(g *offerGroup, from, to *offer) {
	g.holder = to
	if err := c.alloc.Transfer(from.fw.id, from.role, to.fw.id, to.role, from.agent.id, from.res); err != nil {
		c.log.Warn("allocator refused transfer", "from", from.fw.id, "to", to.fw.id, "agent", from.agent.id, "err", err)
	}
}

// noteConflict remembers why an offer was rescinded, oldest forgotten
// first beyond maxConflictNotes.
func (c *Core) noteConflict(offerID, why string) {
	if c.conflicts == nil {
		c.conflicts = map[string]string{}
	}
	c.conflicts[offerID] = why
	c.conflictOrder = append(c.conflictOrder, offerID)
	if len(c.conflictOrder) > maxConflictNotes {
		delete(c.conflicts, c.conflictOrder[0])
		c.conflictOrder = c.conflictOrder[1:]
	}
}
