package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
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
	return newActionCmd("drain AGENT_ID", "Drain an agent: stop offering it and kill its tasks (operator DRAIN_AGENT)",
		`drain sends DRAIN_AGENT for the agent. Masters that do not implement draining
answer 501; the master's message is printed and drain exits 1.`,
		"agent %s draining", cobra.ExactArgs(1), masterpb.Call_GET_AGENTS, agentIDs,
		func(_ *opFlags, args []string) (*masterpb.Call, error) {
			// masterpb declares no DrainAgent payload yet: the call goes
			// with its type only until draining is built.
			return masterCall(masterpb.Call_DRAIN_AGENT), nil
		}, nil)
}
