package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// listFlags are the flags of agents, frameworks and tasks.
type listFlags struct {
	opFlags
	output string
	all    bool
}

func (f *listFlags) add(cmd *cobra.Command, allHelp string) {
	f.opFlags.add(cmd)
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table, or json (the operator API's answer)")
	if allHelp != "" {
		cmd.Flags().BoolVarP(&f.all, "all", "a", false, allHelp)
	}
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

func (f *listFlags) check() error {
	if f.output != "table" && f.output != "json" {
		return fmt.Errorf("-o/--output must be table or json, got %q", f.output)
	}
	return nil
}

// newListCmd makes one of the listing commands: it sends call and prints
// the answer with table, or as JSON with -o json.
// A table may ask the master for more (host names, task counts) through
// ask, which sends a call without payload.
func newListCmd(use, short, allHelp string, call masterpb.Call_Type, table tableFunc) *cobra.Command {
	var f listFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			resp := &masterpb.Response{}
			data, err := c.callMaster(cmd.Context(), masterCall(call), resp)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.output == "json" {
				return printJSON(out, data)
			}
			ask := func(t masterpb.Call_Type) (*masterpb.Response, error) {
				r := &masterpb.Response{}
				_, err := c.callMaster(cmd.Context(), masterCall(t), r)
				return r, err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if err := table(tw, resp, f.all, ask); err != nil {
				return err
			}
			return tw.Flush()
		},
	}
	f.add(cmd, allHelp)
	return cmd
}

func newAgentsCmd() *cobra.Command {
	return newListCmd("agents", "List the master's agents (operator GET_AGENTS)", "",
		masterpb.Call_GET_AGENTS, agentsTable)
}

func newFrameworksCmd() *cobra.Command {
	return newListCmd("frameworks", "List the master's frameworks (operator GET_FRAMEWORKS)",
		"include completed frameworks", masterpb.Call_GET_FRAMEWORKS, frameworksTable)
}

func newTasksCmd() *cobra.Command {
	return newListCmd("tasks", "List the master's tasks (operator GET_TASKS)",
		"include completed tasks", masterpb.Call_GET_TASKS, tasksTable)
}

// tableFunc prints an answer as a table; ask sends another call.
type tableFunc func(w io.Writer, resp *masterpb.Response, all bool, ask func(masterpb.Call_Type) (*masterpb.Response, error)) error

// printJSON writes an operator answer indented.
func printJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return fmt.Errorf("the master's answer is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// scalars sums the resources' scalar amounts by name ("" for none).
func scalars(rs []*mesospb.Resource) resources.Resources {
	r, err := resources.FromProto(rs)
	if err != nil {
		return nil
	}
	return r
}

// usage renders "used/total" for the scalar name.
func usage(used, total resources.Resources, name string) string {
	return used.Scalar(name).String() + "/" + total.Scalar(name).String()
}

func agentsTable(w io.Writer, resp *masterpb.Response, _ bool, _ func(masterpb.Call_Type) (*masterpb.Response, error)) error {
	fmt.Fprintln(w, "ID\tHOSTNAME\tADDRESS\tACTIVE\tCPUS\tMEM\tDISK\tGPUS\tVERSION")
	agents := resp.GetGetAgents().GetAgents()
	slices.SortFunc(agents, func(a, b *masterpb.Response_GetAgents_Agent) int {
		return strings.Compare(a.GetAgentInfo().GetHostname()+a.GetAgentInfo().GetId().GetValue(),
			b.GetAgentInfo().GetHostname()+b.GetAgentInfo().GetId().GetValue())
	})
	for _, a := range agents {
		info := a.GetAgentInfo()
		total, used := scalars(a.GetTotalResources()), scalars(a.GetAllocatedResources())
		addr := a.GetPid()
		if _, hp, ok := strings.Cut(addr, "@"); ok {
			addr = hp
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", info.GetId().GetValue(), info.GetHostname(), addr, a.GetActive(),
			usage(used, total, "cpus"), usage(used, total, "mem"), usage(used, total, "disk"), usage(used, total, "gpus"), a.GetVersion())
	}
	return nil
}

func frameworksTable(w io.Writer, resp *masterpb.Response, all bool, ask func(masterpb.Call_Type) (*masterpb.Response, error)) error {
	tr, err := ask(masterpb.Call_GET_TASKS)
	if err != nil {
		return err
	}
	active := map[string]int{} // live tasks by framework id
	for _, t := range slices.Concat(tr.GetGetTasks().GetTasks(), tr.GetGetTasks().GetUnreachableTasks()) {
		if !mesospb.IsTerminal(t.GetState()) {
			active[t.GetFrameworkId().GetValue()]++
		}
	}
	fmt.Fprintln(w, "ID\tNAME\tUSER\tROLES\tSTATE\tTASKS\tCPUS\tMEM\tDISK")
	g := resp.GetGetFrameworks()
	row := func(f *masterpb.Response_GetFrameworks_Framework, state string) {
		info := f.GetFrameworkInfo()
		roles := info.GetRoles()
		if len(roles) == 0 && info.Role != nil {
			roles = []string{info.GetRole()}
		}
		used := scalars(f.GetAllocatedResources())
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", info.GetId().GetValue(), info.GetName(), info.GetUser(),
			orDash(strings.Join(roles, ",")), state, active[info.GetId().GetValue()], used.Scalar("cpus"), used.Scalar("mem"), used.Scalar("disk"))
	}
	for _, f := range g.GetFrameworks() {
		state := "active"
		switch {
		case !f.GetConnected():
			state = "disconnected"
		case !f.GetActive():
			state = "inactive"
		}
		row(f, state)
	}
	if all {
		for _, f := range g.GetCompletedFrameworks() {
			row(f, "completed")
		}
	}
	return nil
}

func tasksTable(w io.Writer, resp *masterpb.Response, all bool, ask func(masterpb.Call_Type) (*masterpb.Response, error)) error {
	ar, err := ask(masterpb.Call_GET_AGENTS)
	if err != nil {
		return err
	}
	hosts := map[string]string{}
	for _, a := range ar.GetGetAgents().GetAgents() {
		hosts[a.GetAgentInfo().GetId().GetValue()] = a.GetAgentInfo().GetHostname()
	}
	fmt.Fprintln(w, "ID\tNAME\tFRAMEWORK\tAGENT\tHOST\tSTATE\tCPUS\tMEM")
	g := resp.GetGetTasks()
	tasks := slices.Concat(g.GetPendingTasks(), g.GetTasks(), g.GetUnreachableTasks())
	if all {
		tasks = append(tasks, g.GetCompletedTasks()...)
	}
	for _, t := range tasks {
		res := scalars(t.GetResources())
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.GetTaskId().GetValue(), t.GetName(), t.GetFrameworkId().GetValue(),
			t.GetAgentId().GetValue(), orDash(hosts[t.GetAgentId().GetValue()]), t.GetState(), res.Scalar("cpus"), res.Scalar("mem"))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
