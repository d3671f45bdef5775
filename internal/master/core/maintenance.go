package core

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/maintenancepb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/registrypb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// MaintenanceRegistry is implemented by registries that keep the
// maintenance books durably (the replicated registry does; MemRegistry
// does not, so an in-memory master forgets its schedule when it restarts).
type MaintenanceRegistry interface {
	// SetMaintenance records a serialized registrypb.MaintenanceRecord;
	// nil clears it.
	SetMaintenance(record []byte) error
}

// machineKey identifies a machine as Mesos compares MachineIDs: the
// hostname without regard to case, the IP as written.
type machineKey struct{ hostname, ip string }

func keyOf(id *mesospb.MachineID) machineKey {
	return machineKey{strings.ToLower(id.GetHostname()), id.GetIp()}
}

// maintenance is the core's maintenance books: the operator's schedule
// and the mode of each machine in it (DRAINING from the schedule, DOWN
// after START_MAINTENANCE). Machines not in the schedule are UP and not
// tracked, as in Mesos.
type maintenance struct {
	schedule *maintenancepb.Schedule // never nil
	down     map[machineKey]bool
	// drains are the agents an operator drains, by id (drain.go).
	drains map[string]*mesospb.DrainInfo
}

func newMaintenance() maintenance {
	return maintenance{schedule: &maintenancepb.Schedule{}, down: map[machineKey]bool{}, drains: map[string]*mesospb.DrainInfo{}}
}

// clone copies the maps (the messages in them are never changed in place).
func (m maintenance) clone() maintenance {
	out := maintenance{schedule: m.schedule, down: make(map[machineKey]bool, len(m.down)), drains: make(map[string]*mesospb.DrainInfo, len(m.drains))}
	for k := range m.down {
		out.down[k] = true
	}
	for k, d := range m.drains {
		out.drains[k] = d
	}
	return out
}

// window returns the window scheduling a machine, or nil.
func (m *maintenance) window(k machineKey) *maintenancepb.Window {
	for _, w := range m.schedule.GetWindows() {
		for _, id := range w.GetMachineIds() {
			if keyOf(id) == k {
				return w
			}
		}
	}
	return nil
}

// describe names a machine in messages as Mesos does: its id as JSON.
func describe(id *mesospb.MachineID) string {
	b, _ := protojson.MarshalOptions{}.Marshal(id)
	return strings.ReplaceAll(string(b), " ", "")
}

// validateMachine checks one MachineID: a hostname or an IPv4 address.
func validateMachine(id *mesospb.MachineID) error {
	if id.GetHostname() == "" && id.GetIp() == "" {
		return fmt.Errorf("%w: Both 'hostname' and 'ip' for a machine are empty", ErrInvalid)
	}
	if ip := id.GetIp(); ip != "" {
		if p := net.ParseIP(ip); p == nil || p.To4() == nil {
			return fmt.Errorf("%w: machine %s: %q is not an IPv4 address", ErrInvalid, describe(id), ip)
		}
	}
	return nil
}

// validateMachines checks a START/STOP_MAINTENANCE list: not empty, each
// machine valid, none twice.
func validateMachines(ids []*mesospb.MachineID) error {
	if len(ids) == 0 {
		return fmt.Errorf("%w: List of machines is empty", ErrInvalid)
	}
	seen := map[machineKey]bool{}
	for _, id := range ids {
		if err := validateMachine(id); err != nil {
			return err
		}
		if seen[keyOf(id)] {
			return fmt.Errorf("%w: Machine '%s' appears more than once in the schedule", ErrInvalid, describe(id))
		}
		seen[keyOf(id)] = true
	}
	return nil
}

// GetMaintenanceSchedule answers GET_MAINTENANCE_SCHEDULE.
func (c *Core) GetMaintenanceSchedule() *maintenancepb.Schedule {
	return proto.Clone(c.maint.schedule).(*maintenancepb.Schedule)
}

// GetMaintenanceStatus answers GET_MAINTENANCE_STATUS: the scheduled
// machines by mode, in schedule order; a draining machine lists the
// frameworks' answers to its agents' inverse offers (inverse.go).
func (c *Core) GetMaintenanceStatus() *maintenancepb.ClusterStatus {
	out := &maintenancepb.ClusterStatus{}
	for _, w := range c.maint.schedule.GetWindows() {
		for _, id := range w.GetMachineIds() {
			id := proto.Clone(id).(*mesospb.MachineID)
			if c.maint.down[keyOf(id)] {
				out.DownMachines = append(out.DownMachines, id)
			} else {
				out.DrainingMachines = append(out.DrainingMachines, &maintenancepb.ClusterStatus_DrainingMachine{Id: id,
					Statuses: c.inverseStatuses(keyOf(id))})
			}
		}
	}
	return out
}

// MachineMode is the mode of the machine an agent with this hostname and
// IP runs on: UP unless a scheduled machine matches it (see machineOf).
func (c *Core) MachineMode(hostname, ip string) mesospb.MachineInfo_Mode {
	k, ok := c.machineOf(hostname, ip)
	switch {
	case !ok:
		return mesospb.MachineInfo_UP
	case c.maint.down[k]:
		return mesospb.MachineInfo_DOWN
	}
	return mesospb.MachineInfo_DRAINING
}

// machineOf finds the scheduled machine an agent belongs to. Mesos knows
// an agent's machine as its hostname and the IP of its pid and compares
// whole MachineIDs; meso matches an id when every field it sets matches:
// the hostname without regard to case, the IP as the agent registered it
// (REGISTER's ip; for an agent that gave none, its hostname when that is
// an IP literal). So {hostname, ip} matches as in Mesos, and an id naming
// one of them matches by that one. An agent whose IP is not known (an
// older agent) matches {hostname, ip} by the hostname alone.
func (c *Core) machineOf(hostname, ip string) (machineKey, bool) {
	host := strings.ToLower(hostname)
	if ip == "" && net.ParseIP(hostname) != nil {
		ip = hostname
	}
	for _, w := range c.maint.schedule.GetWindows() {
		for _, id := range w.GetMachineIds() {
			k := keyOf(id)
			hostOK := k.hostname == "" || k.hostname == host
			ipOK := k.ip == "" || k.ip == ip || ip == "" && k.hostname != ""
			if hostOK && ipOK {
				return k, true
			}
		}
	}
	return machineKey{}, false
}

// UpdateMaintenanceSchedule applies UPDATE_MAINTENANCE_SCHEDULE: the
// schedule replaces the current one, validated as Mesos does (every
// window names machines, no negative duration, each machine valid and in
// one window only, no DOWN machine left out). Newly scheduled machines
// are DRAINING; DOWN machines stay DOWN.
func (c *Core) UpdateMaintenanceSchedule(now time.Time, s *maintenancepb.Schedule) error {
	seen := map[machineKey]bool{}
	for i, w := range s.GetWindows() {
		if len(w.GetMachineIds()) == 0 {
			return fmt.Errorf("%w: windows[%d]: List of machines in the maintenance window is empty", ErrInvalid, i)
		}
		if w.GetUnavailability() == nil || w.GetUnavailability().GetStart() == nil {
			return fmt.Errorf("%w: windows[%d]: expecting 'unavailability' with 'start' to be present", ErrInvalid, i)
		}
		if w.GetUnavailability().GetDuration().GetNanoseconds() < 0 {
			return fmt.Errorf("%w: windows[%d]: Unavailability 'duration' is negative", ErrInvalid, i)
		}
		for _, id := range w.GetMachineIds() {
			if err := validateMachine(id); err != nil {
				return err
			}
			if seen[keyOf(id)] {
				return fmt.Errorf("%w: Machine '%s' appears more than once in the schedule", ErrInvalid, describe(id))
			}
			seen[keyOf(id)] = true
		}
	}
	for _, w := range c.maint.schedule.GetWindows() {
		for _, id := range w.GetMachineIds() {
			if k := keyOf(id); c.maint.down[k] && !seen[k] {
				return fmt.Errorf("%w: Machine '%s' is deactivated and cannot be removed from the schedule", ErrInvalid, describe(id))
			}
		}
	}
	next := c.maint.clone()
	next.schedule = proto.Clone(s).(*maintenancepb.Schedule)
	if next.schedule.Windows == nil {
		next.schedule.Windows = []*maintenancepb.Window{}
	}
	before := c.unavailabilities()
	if err := c.commitMaintenance(next); err != nil {
		return err
	}
	c.unavailabilityChanged(now, before)
	return nil
}

// StartMaintenance applies START_MAINTENANCE: DRAINING machines go DOWN,
// and the agents on them are shut down and removed (their tasks end as
// when an operator marks an agent gone, with a "Machine DOWN" message);
// an agent of a DOWN machine that registers is refused.
func (c *Core) StartMaintenance(now time.Time, ids []*mesospb.MachineID) error {
	if err := validateMachines(ids); err != nil {
		return err
	}
	for _, id := range ids {
		k := keyOf(id)
		if c.maint.window(k) == nil {
			return fmt.Errorf("%w: Machine '%s' is not part of a maintenance schedule", ErrInvalid, describe(id))
		}
		if c.maint.down[k] {
			return fmt.Errorf("%w: Machine '%s' is not in DRAINING mode and cannot be brought down", ErrInvalid, describe(id))
		}
	}
	next := c.maint.clone()
	for _, id := range ids {
		next.down[keyOf(id)] = true
	}
	if err := c.commitMaintenance(next); err != nil {
		return err
	}
	for _, agID := range sortedKeys(c.agents) {
		ag := c.agents[agID]
		if c.MachineMode(ag.hostname(), ag.ip) != mesospb.MachineInfo_DOWN {
			continue
		}
		c.log.Warn("agent removed: its machine is down for maintenance", "agent", ag.id, "hostname", ag.hostname())
		if ag.link != "" {
			c.sendAgent(ag, &linkpb.MasterEvent{
				Type:          linkpb.MasterEvent_SHUTDOWN_AGENT.Enum(),
				ShutdownAgent: &linkpb.MasterEvent_ShutdownAgent{Message: proto.String("Operator initiated 'Machine DOWN'")},
			})
		}
		if err := c.cfg.Registry.RemoveAgent(ag.id); err != nil {
			c.log.Warn("registry refused to remove a downed agent", "agent", ag.id, "err", err)
		}
		if err := c.setDrain(ag.id, nil); err != nil {
			c.log.Warn("cannot forget the drain of a downed agent", "agent", ag.id, "err", err)
		}
		c.dropAgent(now, ag, true, "Operator initiated 'Machine DOWN'")
	}
	return nil
}

// StopMaintenance applies STOP_MAINTENANCE: DOWN machines come back UP
// and leave the schedule (an emptied window goes too).
func (c *Core) StopMaintenance(now time.Time, ids []*mesospb.MachineID) error {
	if err := validateMachines(ids); err != nil {
		return err
	}
	up := map[machineKey]bool{}
	for _, id := range ids {
		k := keyOf(id)
		if c.maint.window(k) == nil {
			return fmt.Errorf("%w: Machine '%s' is not part of a maintenance schedule", ErrInvalid, describe(id))
		}
		if !c.maint.down[k] {
			return fmt.Errorf("%w: Machine '%s' is not in DOWN mode and cannot be brought up", ErrInvalid, describe(id))
		}
		up[k] = true
	}
	next := c.maint.clone()
	next.schedule = &maintenancepb.Schedule{Windows: []*maintenancepb.Window{}}
	for k := range up {
		delete(next.down, k)
	}
	for _, w := range c.maint.schedule.GetWindows() {
		kept := &maintenancepb.Window{Unavailability: w.GetUnavailability()}
		for _, id := range w.GetMachineIds() {
			if !up[keyOf(id)] {
				kept.MachineIds = append(kept.MachineIds, id)
			}
		}
		if len(kept.MachineIds) > 0 {
			next.schedule.Windows = append(next.schedule.Windows, kept)
		}
	}
	before := c.unavailabilities()
	if err := c.commitMaintenance(next); err != nil {
		return err
	}
	c.unavailabilityChanged(now, before)
	return nil
}

// unavailabilities records each agent's window (unavailability).
func (c *Core) unavailabilities() map[string]*mesospb.Unavailability {
	out := map[string]*mesospb.Unavailability{}
	for id, ag := range c.agents {
		if u := c.unavailability(ag); u != nil {
			out[id] = u
		}
	}
	return out
}

// unavailabilityChanged rescinds, as Mesos does, the offers and inverse
// offers of the agents whose window a schedule change changed: the next
// ones carry the new window (or none), and frameworks are asked again.
func (c *Core) unavailabilityChanged(now time.Time, before map[string]*mesospb.Unavailability) {
	for _, id := range sortedKeys(c.agents) {
		ag := c.agents[id]
		if proto.Equal(before[id], c.unavailability(ag)) {
			continue
		}
		for _, oid := range sortedKeys(ag.offers) {
			c.rescind(now, ag.offers[oid], true)
		}
		c.rescindInverse(id)
	}
}

// commitMaintenance writes the books to the registry (when it keeps them)
// and then adopts them.
func (c *Core) commitMaintenance(next maintenance) error {
	if reg, ok := c.cfg.Registry.(MaintenanceRegistry); ok {
		rec, err := encodeMaintenance(next)
		if err != nil {
			return err
		}
		if err := reg.SetMaintenance(rec); err != nil {
			return fmt.Errorf("registry refused the maintenance schedule: %w", err)
		}
	}
	c.maint = next
	c.allocateSoon = true // inverse offers and offers' unavailability follow the books
	return nil
}

func encodeMaintenance(m maintenance) ([]byte, error) {
	if len(m.schedule.GetWindows()) == 0 && len(m.down) == 0 && len(m.drains) == 0 {
		return nil, nil
	}
	sched, err := proto.Marshal(m.schedule)
	if err != nil {
		return nil, err
	}
	rec := &registrypb.MaintenanceRecord{Schedule: sched}
	for _, w := range m.schedule.GetWindows() {
		for _, id := range w.GetMachineIds() {
			if m.down[keyOf(id)] {
				b, err := proto.Marshal(id)
				if err != nil {
					return nil, err
				}
				rec.DownMachines = append(rec.DownMachines, b)
			}
		}
	}
	for _, id := range sortedKeys(m.drains) {
		b, err := proto.Marshal(m.drains[id])
		if err != nil {
			return nil, err
		}
		rec.Drains = append(rec.Drains, &registrypb.MaintenanceRecord_AgentDrain{AgentId: proto.String(id), DrainInfo: b})
	}
	return proto.Marshal(rec)
}

// recoverMaintenance loads the books a previous leader wrote (nil: none).
func (c *Core) recoverMaintenance(record []byte) error {
	c.maint = newMaintenance()
	if len(record) == 0 {
		return nil
	}
	rec := &registrypb.MaintenanceRecord{}
	if err := proto.Unmarshal(record, rec); err != nil {
		return fmt.Errorf("%w: maintenance record: %w", ErrInvalid, err)
	}
	if err := proto.Unmarshal(rec.GetSchedule(), c.maint.schedule); err != nil {
		return fmt.Errorf("%w: maintenance schedule: %w", ErrInvalid, err)
	}
	for _, b := range rec.GetDownMachines() {
		id := &mesospb.MachineID{}
		if err := proto.Unmarshal(b, id); err != nil {
			return fmt.Errorf("%w: down machine: %w", ErrInvalid, err)
		}
		c.maint.down[keyOf(id)] = true
	}
	for _, d := range rec.GetDrains() {
		info := &mesospb.DrainInfo{}
		if err := proto.Unmarshal(d.GetDrainInfo(), info); err != nil {
			return fmt.Errorf("%w: drain of agent %s: %w", ErrInvalid, d.GetAgentId(), err)
		}
		c.maint.drains[d.GetAgentId()] = info
	}
	return nil
}
