package main

import (
	"cmp"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// dynamicResources reads --resources for reserve and unreserve: every
// entry names its role ("cpus(db):1;mem(db):512") and becomes a dynamic
// reservation of unreserved resources to that role by principal.
func dynamicResources(text, principal string) (resources.Resources, error) {
	if text == "" {
		return nil, fmt.Errorf("--resources is required")
	}
	r, err := resources.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	if r.IsEmpty() || !r.Unreserved().IsEmpty() {
		return nil, fmt.Errorf("--resources %q names no role to reserve for: write name(role):value for every entry", text)
	}
	return r.Map(func(x resources.Resource) resources.Resource {
		role := x.Role
		x.Role = resources.Unreserved
		return x.PushReservation(role, principal)
	})
}

// reservationPrincipal is the principal a reservation is made by: the
// operator's (--principal, $MESOS_PRINCIPAL), which Mesos requires to
// match the authenticated one.
func reservationPrincipal(f *opFlags) string {
	return cmp.Or(f.principal, os.Getenv("MESOS_PRINCIPAL"))
}

func newReserveCmd() *cobra.Command {
	var res string
	return newActionCmd("reserve AGENT_ID --resources 'cpus(role):1;mem(role):512'",
		"Reserve an agent's unreserved resources for a role (operator RESERVE_RESOURCES)",
		`reserve sends RESERVE_RESOURCES for the agent: the resources named become
dynamically reserved to their role, by the operator's principal. Only
frameworks in that role (or its subroles) are offered them afterwards; the
agent keeps the reservation across restarts. The master answers 409 when
the resources are not available (in use by tasks), 403 when the
reserve_resources ACL forbids it.`,
		"resources of agent %s reserved", cobra.ExactArgs(1), masterpb.Call_GET_AGENTS, agentIDs,
		func(f *opFlags, args []string) (*masterpb.Call, error) {
			r, err := dynamicResources(res, reservationPrincipal(f))
			if err != nil {
				return nil, err
			}
			c := masterCall(masterpb.Call_RESERVE_RESOURCES)
			c.ReserveResources = &masterpb.Call_ReserveResources{
				AgentId: &mesospb.AgentID{Value: strp(args[0])}, Resources: r.ToProto("", false)}
			return c, nil
		}, func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&res, "resources", "", "resources to reserve, with their role: 'cpus(role):1;mem(role):512' (required)")
		})
}

func newUnreserveCmd() *cobra.Command {
	var res string
	return newActionCmd("unreserve AGENT_ID --resources 'cpus(role):1;mem(role):512'",
		"Undo a dynamic reservation made by reserve (operator UNRESERVE_RESOURCES)",
		`unreserve sends UNRESERVE_RESOURCES for the agent: the resources named,
dynamically reserved to their role by the operator's principal, become
unreserved. Persistent volumes must be destroyed first.`,
		"resources of agent %s unreserved", cobra.ExactArgs(1), masterpb.Call_GET_AGENTS, agentIDs,
		func(f *opFlags, args []string) (*masterpb.Call, error) {
			r, err := dynamicResources(res, reservationPrincipal(f))
			if err != nil {
				return nil, err
			}
			c := masterCall(masterpb.Call_UNRESERVE_RESOURCES)
			c.UnreserveResources = &masterpb.Call_UnreserveResources{
				AgentId: &mesospb.AgentID{Value: strp(args[0])}, Resources: r.ToProto("", false)}
			return c, nil
		}, func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&res, "resources", "", "resources to unreserve, with their role: 'cpus(role):1;mem(role):512' (required)")
		})
}
