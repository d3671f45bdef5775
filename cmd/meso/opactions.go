package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// newActionCmd makes an operator command that sends one call built from
// its arguments and prints done on success; a refusal (e.g. 501 for a
// call the master does not implement yet) is printed with the master's
// message and exits 1.
// Its argument completes with the ids that list (a call) answers.
func newActionCmd(use, short, long, done string, args cobra.PositionalArgs, list masterpb.Call_Type, ids func(*masterpb.Response) []string,
	build func(f *opFlags, args []string) (*masterpb.Call, error), extra func(*cobra.Command)) *cobra.Command {
	var f opFlags
	cmd := &cobra.Command{
		Use:               use,
		Short:             short,
		Long:              long,
		Args:              args,
		ValidArgsFunction: completeIDs(&f, list, ids),
		RunE: func(cmd *cobra.Command, args []string) error {
			call, err := build(&f, args)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if _, err := c.callMaster(cmd.Context(), call, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), done+"\n", args[0])
			return nil
		},
	}
	f.add(cmd)
	if extra != nil {
		extra(cmd)
	}
	return cmd
}

func newTeardownCmd() *cobra.Command {
	return newActionCmd("teardown FRAMEWORK_ID", "Remove a framework: kill its tasks, close its stream (operator TEARDOWN)", "",
		"framework %s torn down", cobra.ExactArgs(1), masterpb.Call_GET_FRAMEWORKS, frameworkIDs,
		func(_ *opFlags, args []string) (*masterpb.Call, error) {
			c := masterCall(masterpb.Call_TEARDOWN)
			c.Teardown = &masterpb.Call_Teardown{FrameworkId: &mesospb.FrameworkID{Value: strp(args[0])}}
			return c, nil
		}, nil)
}

func newDrainCmd() *cobra.Command {
	var grace time.Duration
	var markGone bool
	return newActionCmd("drain AGENT_ID", "Drain an agent: stop offering it and kill its tasks (operator DRAIN_AGENT)",
		`drain sends DRAIN_AGENT for the agent: the master stops offering it and kills
its tasks, each with its own kill policy's grace period, at most
--max_grace_period when given. The agent is DRAINING until its tasks are gone,
then DRAINED (meso agents shows it); with --mark_gone it is then marked gone
for good. meso reactivate ends a drain.`,
		"agent %s draining", cobra.ExactArgs(1), masterpb.Call_GET_AGENTS, agentIDs,
		func(_ *opFlags, args []string) (*masterpb.Call, error) {
			if grace < 0 {
				return nil, fmt.Errorf("--max_grace_period %v is negative", grace)
			}
			c := masterCall(masterpb.Call_DRAIN_AGENT)
			c.DrainAgent = &masterpb.Call_DrainAgent{AgentId: &mesospb.AgentID{Value: strp(args[0])}}
			if grace > 0 {
				c.DrainAgent.MaxGracePeriod = durationpb.New(grace)
			}
			if markGone {
				c.DrainAgent.MarkGone = proto.Bool(true)
			}
			return c, nil
		}, func(cmd *cobra.Command) {
			cmd.Flags().DurationVar(&grace, "max_grace_period", 0, "the longest grace period a task gets to end (0: each task's own)")
			cmd.Flags().BoolVar(&markGone, "mark_gone", false, "mark the agent gone once it is drained")
		})
}

func newReactivateCmd() *cobra.Command {
	return newActionCmd("reactivate AGENT_ID", "Offer an agent again, ending a drain or a deactivation (operator REACTIVATE_AGENT)", "",
		"agent %s reactivated", cobra.ExactArgs(1), masterpb.Call_GET_AGENTS, agentIDs,
		func(_ *opFlags, args []string) (*masterpb.Call, error) {
			c := masterCall(masterpb.Call_REACTIVATE_AGENT)
			c.ReactivateAgent = &masterpb.Call_ReactivateAgent{AgentId: &mesospb.AgentID{Value: strp(args[0])}}
			return c, nil
		}, nil)
}
