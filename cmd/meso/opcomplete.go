package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// completeTimeout bounds the master call behind a shell completion.
const completeTimeout = 2 * time.Second

// completeIDs completes the first argument with the ids the master lists
// (from call's answer, through ids); nothing when it cannot be asked.
func completeIDs(f *opFlags, call masterpb.Call_Type, ids func(*masterpb.Response) []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := f.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), completeTimeout)
		defer cancel()
		resp := &masterpb.Response{}
		if _, err := c.callMaster(ctx, masterCall(call), resp); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return ids(resp), cobra.ShellCompDirectiveNoFileComp
	}
}

func taskIDs(r *masterpb.Response) []string {
	g := r.GetGetTasks()
	var out []string
	for _, list := range [][]*mesospb.Task{g.GetTasks(), g.GetUnreachableTasks(), g.GetCompletedTasks()} {
		for _, t := range list {
			out = append(out, t.GetTaskId().GetValue())
		}
	}
	return out
}

func frameworkIDs(r *masterpb.Response) []string {
	var out []string
	for _, f := range r.GetGetFrameworks().GetFrameworks() {
		out = append(out, f.GetFrameworkInfo().GetId().GetValue())
	}
	return out
}

func agentIDs(r *masterpb.Response) []string {
	var out []string
	for _, a := range r.GetGetAgents().GetAgents() {
		out = append(out, a.GetAgentInfo().GetId().GetValue())
	}
	return out
}
