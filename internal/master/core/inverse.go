package core

import (
	"time"

	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/allocator"
	"google.golang.org/protobuf/proto"
)

// inverseBooks are the inverse offers of maintenance: for each agent on a
// DRAINING machine, each connected framework with tasks there gets one
// INVERSE_OFFERS (all the agent's resources, the window's unavailability)
// at the next allocation, and its answer (ACCEPT_INVERSE_OFFERS,
// DECLINE_INVERSE_OFFERS) is kept as its status, shown by
// GET_MAINTENANCE_STATUS. As in Mesos, the statuses live in memory only:
// a new leader sends the inverse offers again. As Mesos' allocator does,
// an answer installs a filter of its Filters.refuse_seconds (5 s unset);
// once it expires the framework gets a new inverse offer for the agent
// (its last answer stays its status until it answers again). When the
// agent's machine leaves DRAINING, outstanding ones are rescinded.
type inverseBooks struct {
	offers   map[string]*inverseOffer                                // outstanding, by id
	statuses map[string]map[string]*maintenancepb.InverseOfferStatus // agent id -> framework id -> status
	refused  map[inverseKey]time.Time                                // answered: no new inverse offer before then
}

// inverseKey names the inverse offers of one agent to one framework.
type inverseKey struct{ agent, fw string }

// outstanding reports whether the framework holds an inverse offer for
// the agent.
func (b *inverseBooks) outstanding(agentID, fwID string) bool {
	for _, io := range b.offers {
		if io.agent == agentID && io.fw == fwID {
			return true
		}
	}
	return false
}

// forgetAgent drops an agent's statuses and filters.
func (b *inverseBooks) forgetAgent(agentID string) {
	delete(b.statuses, agentID)
	for k := range b.refused {
		if k.agent == agentID {
			delete(b.refused, k)
		}
	}
}

type inverseOffer struct {
	id, fw, agent string
	proto         *mesospb.InverseOffer
}

func (b *inverseBooks) status(agentID, fwID string) *maintenancepb.InverseOfferStatus {
	return b.statuses[agentID][fwID]
}

func (b *inverseBooks) setStatus(agentID, fwID string, s maintenancepb.InverseOfferStatus_Status, now time.Time) {
	if b.statuses == nil {
		b.statuses = map[string]map[string]*maintenancepb.InverseOfferStatus{}
	}
	if b.statuses[agentID] == nil {
		b.statuses[agentID] = map[string]*maintenancepb.InverseOfferStatus{}
	}
	b.statuses[agentID][fwID] = &maintenancepb.InverseOfferStatus{Status: s.Enum(),
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(fwID)}, Timestamp: timeInfo(now)}
}

// unavailability is the window of the machine an agent is on while the
// machine is DRAINING (nil otherwise): offers of the agent carry it.
func (c *Core) unavailability(ag *agent) *mesospb.Unavailability {
	k, ok := c.machineOf(ag.hostname(), ag.ip)
	if !ok || c.maint.down[k] {
		return nil
	}
	return c.maint.window(k).GetUnavailability()
}

// sendInverseOffers settles the inverse offers (rescinds the stale ones)
// and sends the ones due (see inverseBooks); from Tick, at allocation.
func (c *Core) sendInverseOffers(now time.Time) {
	c.rescindStaleInverse()
	if len(c.maint.schedule.GetWindows()) == 0 {
		return
	}
	for _, agID := range sortedKeys(c.agents) {
		ag := c.agents[agID]
		unav := c.unavailability(ag)
		if unav == nil {
			continue
		}
		fws := map[string]bool{}
		for k := range ag.tasks {
			fws[k.framework] = true
		}
		for _, fwID := range sortedKeys(fws) {
			fw := c.frameworks[fwID]
			if fw == nil || !fw.connected() || c.inverse.outstanding(agID, fwID) {
				continue
			}
			if until, ok := c.inverse.refused[inverseKey{agID, fwID}]; ok {
				if now.Before(until) {
					continue
				}
				delete(c.inverse.refused, inverseKey{agID, fwID})
			}
			id := c.offerID(c.nextOfferNum)
			c.nextOfferNum++
			if c.inverse.offers == nil {
				c.inverse.offers = map[string]*inverseOffer{}
			}
			p := &mesospb.InverseOffer{
				Id:             &mesospb.OfferID{Value: proto.String(id)},
				Url:            ag.url(),
				FrameworkId:    &mesospb.FrameworkID{Value: proto.String(fwID)},
				AgentId:        &mesospb.AgentID{Value: proto.String(agID)},
				Unavailability: proto.Clone(unav).(*mesospb.Unavailability),
			}
			c.inverse.offers[id] = &inverseOffer{id: id, fw: fwID, agent: agID, proto: p}
			if c.inverse.status(agID, fwID) == nil {
				c.inverse.setStatus(agID, fwID, maintenancepb.InverseOfferStatus_UNKNOWN, now)
			}
			c.send(fw, &schedulerpb.Event{Type: schedulerpb.Event_INVERSE_OFFERS.Enum(),
				InverseOffers: &schedulerpb.Event_InverseOffers{InverseOffers: []*mesospb.InverseOffer{proto.Clone(p).(*mesospb.InverseOffer)}}})
		}
	}
}

// rescindStaleInverse drops the inverse offers and statuses of agents
// that are gone or no longer on a DRAINING machine (telling the framework
// RESCIND_INVERSE_OFFER), and those of frameworks that are gone.
func (c *Core) rescindStaleInverse() {
	for _, id := range sortedKeys(c.inverse.offers) {
		io := c.inverse.offers[id]
		ag, fw := c.agents[io.agent], c.frameworks[io.fw]
		if ag != nil && fw != nil && c.unavailability(ag) != nil {
			continue
		}
		delete(c.inverse.offers, id)
		c.send(fw, &schedulerpb.Event{Type: schedulerpb.Event_RESCIND_INVERSE_OFFER.Enum(),
			RescindInverseOffer: &schedulerpb.Event_RescindInverseOffer{InverseOfferId: &mesospb.OfferID{Value: proto.String(id)}}})
	}
	for _, agID := range sortedKeys(c.inverse.statuses) {
		ag := c.agents[agID]
		if ag == nil || c.unavailability(ag) == nil {
			c.inverse.forgetAgent(agID)
			continue
		}
		for fwID := range c.inverse.statuses[agID] {
			if c.frameworks[fwID] == nil {
				delete(c.inverse.statuses[agID], fwID)
				delete(c.inverse.refused, inverseKey{agID, fwID})
			}
		}
	}
}

// rescindInverse rescinds an agent's outstanding inverse offers and
// forgets the answers (its window changed).
func (c *Core) rescindInverse(agentID string) {
	for _, id := range sortedKeys(c.inverse.offers) {
		if io := c.inverse.offers[id]; io.agent == agentID {
			delete(c.inverse.offers, id)
			c.send(c.frameworks[io.fw], &schedulerpb.Event{Type: schedulerpb.Event_RESCIND_INVERSE_OFFER.Enum(),
				RescindInverseOffer: &schedulerpb.Event_RescindInverseOffer{InverseOfferId: &mesospb.OfferID{Value: proto.String(id)}}})
		}
	}
	c.inverse.forgetAgent(agentID)
}

// answerInverse applies ACCEPT_INVERSE_OFFERS or DECLINE_INVERSE_OFFERS:
// each of the framework's outstanding inverse offers named gets its
// status and a filter of the answer's refuse_seconds (see inverseBooks);
// other ids are ignored, as Mesos does.
func (c *Core) answerInverse(now time.Time, fw *framework, ids []*mesospb.OfferID, filters *mesospb.Filters, s maintenancepb.InverseOfferStatus_Status) {
	refuse := refuseDuration(filters)
	if refuse == allocator.UseDefaultRefuse {
		refuse = allocator.DefaultRefuse
	}
	for _, oid := range ids {
		io := c.inverse.offers[oid.GetValue()]
		if io == nil || io.fw != fw.id {
			c.log.Info("ignoring the answer to an inverse offer that is no longer valid", "framework", fw.id, "inverse_offer", oid.GetValue())
			continue
		}
		delete(c.inverse.offers, io.id)
		c.inverse.setStatus(io.agent, io.fw, s, now)
		if c.inverse.refused == nil {
			c.inverse.refused = map[inverseKey]time.Time{}
		}
		c.inverse.refused[inverseKey{io.agent, io.fw}] = now.Add(refuse)
	}
}

// inverseStatuses lists the statuses of the frameworks asked to leave the
// agents on machine k, by agent then framework.
func (c *Core) inverseStatuses(k machineKey) []*maintenancepb.InverseOfferStatus {
	var out []*maintenancepb.InverseOfferStatus
	for _, agID := range sortedKeys(c.inverse.statuses) {
		ag := c.agents[agID]
		if ag == nil {
			continue
		}
		if mk, ok := c.machineOf(ag.hostname(), ag.ip); !ok || mk != k {
			continue
		}
		for _, fwID := range sortedKeys(c.inverse.statuses[agID]) {
			out = append(out, proto.Clone(c.inverse.statuses[agID][fwID]).(*maintenancepb.InverseOfferStatus))
		}
	}
	return out
}

// frameworkInverseOffers lists a framework's outstanding inverse offers
// (GET_FRAMEWORKS' inverse_offers).
func (c *Core) frameworkInverseOffers(fwID string) []*mesospb.InverseOffer {
	if len(c.inverse.offers) == 0 {
		return nil
	}
	var out []*mesospb.InverseOffer
	for _, id := range sortedKeys(c.inverse.offers) {
		if io := c.inverse.offers[id]; io.fw == fwID {
			out = append(out, proto.Clone(io.proto).(*mesospb.InverseOffer))
		}
	}
	return out
}
