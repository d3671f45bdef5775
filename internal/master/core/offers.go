package core

import (
	"slices"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
	"google.golang.org/protobuf/proto"
)

// allocate runs an allocation cycle and sends the resulting offers: one
// Offer per (framework, agent, role), one OFFERS event per framework.
func (c *Core) allocate(now time.Time) {
	c.metrics.allocationRuns++
	decisions := c.alloc.Allocate(now)
	if len(decisions) == 0 {
		return
	}
	var order []*framework
	batches := map[*framework][]*mesospb.Offer{}
	groups := map[uint64]*offerGroup{}
	for _, d := range decisions {
		fw, ag := c.frameworks[d.Framework], c.agents[d.Agent]
		if d.Shadow {
			// A shadow holds nothing: one the books cannot make (its
			// holder was not made, or its framework is gone) is skipped.
			g := groups[d.Group]
			if g == nil || fw == nil || ag == nil || !fw.connected() {
				continue
			}
			o := c.newOffer(now, fw, ag, d)
			o.group = g
			g.members = append(g.members, o)
			if _, ok := batches[fw]; !ok {
				order = append(order, fw)
			}
			batches[fw] = append(batches[fw], o.proto)
			continue
		}
		if fw == nil || ag == nil || !fw.connected() {
			// Cannot happen while the books agree; give it back.
			c.log.Warn("allocator offered to an unknown or inactive party", "offer", d.String())
			if err := c.alloc.Recover(d.Framework, d.Role, d.Agent, d.Resources, 0, now); err != nil {
				c.log.Warn("allocator refused recover", "err", err)
			}
			continue
		}
		o := c.newOffer(now, fw, ag, d)
		if d.Group != 0 {
			g := &offerGroup{holder: o, members: []*offer{o}}
			groups[d.Group], o.group = g, g
		}
		if _, ok := batches[fw]; !ok {
			order = append(order, fw)
		}
		batches[fw] = append(batches[fw], o.proto)
	}
	for _, g := range groups {
		if len(g.members) == 1 {
			g.holder.group = nil // every shadow was skipped
		}
	}
	for _, fw := range order {
		c.metrics.offersSent += uint64(len(batches[fw]))
		c.send(fw, &schedulerpb.Event{
			Type:   schedulerpb.Event_OFFERS.Enum(),
			Offers: &schedulerpb.Event_Offers{Offers: batches[fw]},
		})
	}
}

func (c *Core) newOffer(now time.Time, fw *framework, ag *agent, d allocator.Offer) *offer {
	id := c.offerID(c.nextOfferNum)
	c.nextOfferNum++
	o := &offer{id: id, fw: fw, agent: ag, role: d.Role, res: d.Resources, created: now}
	p := &mesospb.Offer{
		Id:          &mesospb.OfferID{Value: proto.String(id)},
		FrameworkId: fw.idProto(),
		AgentId:     &mesospb.AgentID{Value: proto.String(ag.id)},
		Hostname:    proto.String(ag.hostname()),
		Url:         ag.url(),
		Domain:      ag.info.Domain,
		Resources:   d.Resources.ToProto(d.Role, fw.multiRole),
		Attributes:  ag.info.Attributes,
		// A DRAINING machine's window (maintenance, inverse.go).
		Unavailability: c.unavailability(ag),
	}
	if fw.multiRole {
		p.AllocationInfo = &mesospb.Resource_AllocationInfo{Role: proto.String(d.Role)}
	}
	for _, eid := range sortedKeys(ag.executors[fw.id]) {
		p.ExecutorIds = append(p.ExecutorIds, &mesospb.ExecutorID{Value: proto.String(eid)})
	}
	o.proto = p
	c.offers[id] = o
	fw.offers[id] = o
	ag.offers[id] = o
	return o
}

// dropOffer removes an offer from the books (used, declined or rescinded).
// It reports whether the allocator still charges the offer's resources to
// its framework: always, unless the offer is optimistic and other offers
// of its group remain, in which case the holding moves to one of them
// (when o held it) and o's framework holds nothing.
func (c *Core) dropOffer(o *offer) bool {
	delete(c.offers, o.id)
	delete(o.fw.offers, o.id)
	delete(o.agent.offers, o.id)
	g := o.group
	if g == nil {
		return true
	}
	o.group = nil
	g.members = slices.DeleteFunc(g.members, func(m *offer) bool { return m == o })
	if len(g.members) == 0 {
		return g.holder == o
	}
	if g.holder == o {
		c.transfer(g, o, g.members[0])
	}
	if len(g.members) == 1 {
		g.members[0].group = nil
	}
	return false
}

// returnOffer drops an offer its framework did not use (declined,
// rescinded, invalid) and gives its resources back with the filter, or,
// for an optimistic offer whose group lives on, installs only the filter.
func (c *Core) returnOffer(now time.Time, o *offer, refuse time.Duration) {
	if c.dropOffer(o) {
		c.recover(now, o.fw.id, o.role, o.agent.id, o.res, refuse)
		return
	}
	if refuse == 0 {
		return
	}
	if err := c.alloc.Refuse(o.fw.id, o.role, o.agent.id, o.res, refuse, now); err != nil {
		c.log.Warn("allocator refused a filter", "framework", o.fw.id, "agent", o.agent.id, "err", err)
	}
}

// rescind withdraws an offer: its resources go back without a filter, and
// the framework gets RESCIND when notify is set.
func (c *Core) rescind(now time.Time, o *offer, notify bool) {
	c.returnOffer(now, o, 0)
	if notify {
		c.sendRescind(o)
	}
}

func (c *Core) sendRescind(o *offer) {
	c.metrics.offersRescinded++
	c.send(o.fw, &schedulerpb.Event{
		Type:    schedulerpb.Event_RESCIND.Enum(),
		Rescind: &schedulerpb.Event_Rescind{OfferId: &mesospb.OfferID{Value: proto.String(o.id)}},
	})
}

// expireOffers rescinds offers older than --offer_timeout.
func (c *Core) expireOffers(now time.Time) {
	if c.cfg.OfferTimeout <= 0 {
		return
	}
	for _, id := range sortedKeys(c.offers) {
		if o := c.offers[id]; !now.Before(o.created.Add(c.cfg.OfferTimeout)) {
			c.rescind(now, o, true)
		}
	}
}
