package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/scheduler"
)

// executeFlags are the flags of `meso execute`, named after mesos-execute's.
type executeFlags struct {
	master         string
	tls            tlsFlags
	name           string
	command        string
	shell          bool
	env            string
	resources      string
	task           string
	role           string
	frameworkName  string
	principal      string
	secret         string
	checkpoint     bool
	partitionAware bool
	capabilities   []string
	contentType    string
	killAfter      time.Duration
	verbose        bool
	resourcesSet   bool           // --resources was given (it conflicts with --task)
	container      containerFlags // --docker_image, --containerizer, --volumes (execute_container.go)
	custom         executorFlags  // --executor, --uri, --data (execute_executor.go)
	taskGroup      string         // --task_group (execute_group.go)
}

const executeLong = `Run one command as a task on a Mesos (or meso) cluster, like mesos-execute.

meso execute subscribes to the master as a framework, waits for an offer that
holds --resources (declining the others), launches one command task, and
prints every status update of it as it arrives, acknowledging each. When the
task reaches a terminal state it prints the task's stdout and stderr, read
from the agent's /files API (stdout to stdout, stderr to stderr), tears the
framework down, and exits with the task's exit code:

  TASK_FINISHED                         0
  "Command exited with status N"        N
  "Command terminated with signal S"    128 + the signal's number (137 for SIGKILL)
  TASK_KILLED without such a message    137
  any other terminal state (TASK_LOST, TASK_ERROR, TASK_DROPPED, ...)   1

The task id is the --name. Flags may also be set from MESOS_<FLAG> or
MESO_<FLAG> environment variables.`

func newExecuteCmd() *cobra.Command { return newExecuteCmdWith(&executeFlags{}) }

// newExecuteCmdWith builds the command around f, which receives the flags.
func newExecuteCmdWith(f *executeFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "execute --master HOST:PORT --name NAME --command CMD [flags]",
		Short: "Run one command as a task on a cluster and print its updates and output (mesos-execute)",
		Long:  executeLong,
		Example: `  meso execute --master 127.0.0.1:5050 --name hello --command 'echo hello; exit 3' --resources 'cpus:0.1;mem:32'
  meso execute --master 127.0.0.1:5050 --name sleeper --command 'sleep 100' --kill_after 5secs
  meso execute --master 127.0.0.1:5050 --name in-docker --docker_image busybox:latest --command 'echo hi from $(hostname)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			f.resourcesSet = cmd.Flags().Changed("resources")
			code, err := runExecute(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.master, "master", "", "master to subscribe to: host:port or http(s) URL; a comma-separated list is tried in turn (required)")
	f.tls.add(fs, false)
	fs.StringVar(&f.name, "name", "", "name of the task, also its task id (required unless --task)")
	fs.StringVar(&f.command, "command", "", "command to run (required unless --task)")
	fs.BoolVar(&f.shell, "shell", true, "run --command with /bin/sh -c; with --shell=false the command is split on white space into the program and its argv")
	fs.StringVar(&f.env, "env", "", `environment variables of the command: a JSON object such as '{"NAME": "value"}', or the path of a file holding one ('file:///path' or '/path')`)
	fs.StringVar(&f.resources, "resources", "cpus:1;mem:128", "resources of the task, in agent --resources syntax")
	fs.StringVar(&f.task, "task", "", "a whole TaskInfo in Mesos JSON, or the path of a file holding one ('file:///path' or '/path'); agent_id need not be set; excludes --name, --command, --env, --resources")
	fs.StringVar(&f.role, "role", "*", "role to subscribe with")
	fs.StringVar(&f.frameworkName, "framework_name", "meso-execute instance", "name of the framework")
	fs.StringVar(&f.principal, "principal", "", "principal of the framework (FrameworkInfo.principal) and of its HTTP Basic credential (default $MESOS_PRINCIPAL)")
	fs.StringVar(&f.secret, "secret", "", "secret of the principal, sent as HTTP Basic on every scheduler call (default $MESOS_SECRET)")
	fs.BoolVar(&f.checkpoint, "checkpoint", false, "ask agents to checkpoint the framework's tasks")
	fs.BoolVar(&f.partitionAware, "partition_aware", true, "declare the PARTITION_AWARE capability (TASK_UNREACHABLE instead of TASK_LOST)")
	fs.StringSliceVar(&f.capabilities, "framework_capabilities", nil, "extra framework capabilities, comma-separated (only GPU_RESOURCES; TASK_KILLING_STATE and RESERVATION_REFINEMENT are always declared)")
	fs.StringVar(&f.contentType, "content_type", "protobuf", "encoding of the scheduler API: protobuf or json")
	mesosflag.DurationVar(fs, &f.killAfter, "kill_after", 0, "kill the task this long after it is TASK_RUNNING (e.g. 10secs, 2mins); 0 means never")
	fs.Lookup("kill_after").DefValue = "0" // no "(default 0ns)" in the help
	fs.BoolVar(&f.verbose, "verbose", false, "log the scheduler client's connection events to stderr")
	f.container.register(fs)
	f.custom.register(fs)
	fs.StringVar(&f.taskGroup, "task_group", "", taskGroupUsage)
	cmd.Long += taskGroupLong
	return cmd
}

// executePlan is what the flags ask for, validated.
type executePlan struct {
	task      *mesospb.TaskInfo   // without agent_id and resources
	resources resources.Resources // what the task needs
	// executorResources are what a custom executor needs besides (none
	// for the command executor); the offer must hold both.
	executorResources resources.Resources
	framework         *mesospb.FrameworkInfo
	codec             codec.Codec
	group             *groupPlan // --task_group; task is then its first task
}

// plan validates the flags and builds the task and framework.
func (f *executeFlags) plan(username string) (*executePlan, error) {
	if f.master == "" {
		return nil, errors.New("--master is required")
	}
	p := &executePlan{}
	switch strings.ToLower(f.contentType) {
	case "protobuf", codec.MediaTypeProtobuf:
		p.codec = codec.Protobuf
	case "json", codec.MediaTypeJSON:
		p.codec = codec.JSON
	default:
		return nil, fmt.Errorf("--content_type=%q: want protobuf or json", f.contentType)
	}
	var err error
	if f.taskGroup != "" {
		if p.group, p.resources, err = f.groupFromJSON(); err == nil {
			p.task = p.group.group.GetTasks()[0]
		}
	} else if f.task != "" {
		p.task, p.resources, err = f.taskFromJSON()
	} else {
		p.task, p.resources, err = f.taskFromFlags()
	}
	if err != nil {
		return nil, err
	}
	if f.taskGroup == "" {
		if p.executorResources, err = f.custom.apply(p.task, f.task != ""); err != nil {
			return nil, err
		}
	}
	p.framework, err = f.frameworkInfo(username)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (f *executeFlags) taskFromFlags() (*mesospb.TaskInfo, resources.Resources, error) {
	if f.name == "" {
		return nil, nil, errors.New("--name is required (or give --task)")
	}
	imageCmd := f.command == "" && !f.shell && f.container.dockerImage != "" // the image's own command
	if f.command == "" && !imageCmd && !f.custom.used() {
		return nil, nil, errors.New("--command is required (or give --task)")
	}
	res, err := resources.Parse(f.resources)
	if err != nil {
		return nil, nil, fmt.Errorf("--resources: %w", err)
	}
	if res.IsEmpty() {
		return nil, nil, errors.New("--resources: a task needs some resources")
	}
	ci := &mesospb.CommandInfo{Shell: proto.Bool(f.shell), Value: proto.String(f.command)}
	if imageCmd {
		ci.Value = nil
	} else if !f.shell && f.command != "" {
		argv := strings.Fields(f.command)
		ci.Value, ci.Arguments = proto.String(argv[0]), argv
	}
	if f.env != "" {
		if ci.Environment, err = parseEnvFlag(f.env); err != nil {
			return nil, nil, err
		}
	}
	task := &mesospb.TaskInfo{
		Name:    proto.String(f.name),
		TaskId:  &mesospb.TaskID{Value: proto.String(f.name)},
		Command: ci,
	}
	if task.Container, err = f.container.containerInfo(); err != nil {
		return nil, nil, err
	}
	return task, res, nil
}

// taskFromJSON reads --task. Mesos lets agent_id be left out there, but it
// is required in TaskInfo, so an empty one is put in before decoding.
func (f *executeFlags) taskFromJSON() (*mesospb.TaskInfo, resources.Resources, error) {
	if f.name != "" || f.command != "" || f.env != "" || f.resourcesSet || f.container.used() {
		return nil, nil, errors.New("--task excludes --name, --command, --env, --resources, --docker_image, --containerizer and --volumes")
	}
	data, err := flagValueOrFile(f.task)
	if err != nil {
		return nil, nil, fmt.Errorf("--task: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, nil, fmt.Errorf("--task: want a JSON object: %w", err)
	}
	if obj == nil {
		return nil, nil, errors.New("--task: want a JSON object, got null")
	}
	if _, ok := obj["agent_id"]; !ok {
		obj["agent_id"] = json.RawMessage(`{"value": ""}`)
	}
	data, _ = json.Marshal(obj)
	task := &mesospb.TaskInfo{}
	if err := codec.JSON.Unmarshal(data, task); err != nil {
		return nil, nil, fmt.Errorf("--task: %w", err)
	}
	if task.GetTaskId().GetValue() == "" {
		return nil, nil, errors.New("--task: task_id.value is empty")
	}
	res, err := resources.FromProto(task.GetResources())
	if err != nil {
		return nil, nil, fmt.Errorf("--task: resources: %w", err)
	}
	if res.IsEmpty() {
		return nil, nil, errors.New("--task: a task needs some resources")
	}
	task.AgentId, task.Resources = nil, nil
	return task, res, nil
}

// frameworkInfo builds the FrameworkInfo, with the capabilities
// mesos-execute declares.
func (f *executeFlags) frameworkInfo(username string) (*mesospb.FrameworkInfo, error) {
	if err := resources.ValidateRole(f.role); err != nil && f.role != resources.Unreserved {
		return nil, fmt.Errorf("--role: %w", err)
	}
	caps := []mesospb.FrameworkInfo_Capability_Type{
		mesospb.FrameworkInfo_Capability_RESERVATION_REFINEMENT,
		mesospb.FrameworkInfo_Capability_TASK_KILLING_STATE,
	}
	if f.partitionAware {
		caps = append(caps, mesospb.FrameworkInfo_Capability_PARTITION_AWARE)
	}
	for _, c := range f.capabilities {
		if strings.TrimSpace(c) != "GPU_RESOURCES" {
			return nil, fmt.Errorf("--framework_capabilities: %q is not supported (only GPU_RESOURCES)", c)
		}
		caps = append(caps, mesospb.FrameworkInfo_Capability_GPU_RESOURCES)
	}
	fw := &mesospb.FrameworkInfo{
		User:       proto.String(username),
		Name:       proto.String(f.frameworkName),
		Role:       proto.String(f.role),
		Checkpoint: proto.Bool(f.checkpoint),
	}
	if principal := cmp.Or(f.principal, os.Getenv("MESOS_PRINCIPAL")); principal != "" {
		fw.Principal = proto.String(principal)
	}
	for _, c := range caps {
		fw.Capabilities = append(fw.Capabilities, &mesospb.FrameworkInfo_Capability{Type: c.Enum()})
	}
	return fw, nil
}

// parseEnvFlag reads --env: a JSON object of strings, inline or in a file.
func parseEnvFlag(s string) (*mesospb.Environment, error) {
	data, err := flagValueOrFile(s)
	if err != nil {
		return nil, fmt.Errorf("--env: %w", err)
	}
	var vars map[string]string
	if err := json.Unmarshal(data, &vars); err != nil {
		return nil, fmt.Errorf(`--env: want a JSON object of strings such as {"NAME": "value"}: %w`, err)
	}
	env := &mesospb.Environment{}
	for _, name := range sortedKeys(vars) {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, fmt.Errorf("--env: bad variable name %q", name)
		}
		if strings.ContainsRune(vars[name], 0) {
			return nil, fmt.Errorf("--env: variable %q: a value cannot hold a NUL byte (no process could receive it)", name)
		}
		env.Variables = append(env.Variables, &mesospb.Environment_Variable{
			Name:  proto.String(name),
			Type:  mesospb.Environment_Variable_VALUE.Enum(),
			Value: proto.String(vars[name]),
		})
	}
	return env, nil
}

// flagValueOrFile returns the flag's value, or the content of the file it
// names ("file:///path" or "/path"), as Mesos' JSON flags allow.
func flagValueOrFile(s string) ([]byte, error) {
	path, isFile := strings.CutPrefix(s, "file://")
	if !isFile && strings.HasPrefix(s, "/") {
		path, isFile = s, true
	}
	if !isFile {
		return []byte(s), nil
	}
	return os.ReadFile(path)
}

// currentUser is the framework's user: the one running meso execute.
func currentUser() (string, error) {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username, nil
	}
	if u := os.Getenv("USER"); u != "" {
		return u, nil
	}
	return "", errors.New("cannot tell the current user's name")
}

// runExecute runs the whole mesos-execute flow and returns the exit code.
func runExecute(ctx context.Context, f *executeFlags, stdout, stderr io.Writer) (int, error) {
	username, err := currentUser()
	if err != nil {
		return 1, err
	}
	p, err := f.plan(username)
	if err != nil {
		return 1, err
	}
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	tc, err := f.tls.config()
	if err != nil {
		return 1, err
	}
	tr, secure, err := clientTransport(tc)
	if err != nil {
		return 1, err
	}
	hc := &http.Client{Transport: tr}
	var header http.Header
	if principal, secret := p.framework.GetPrincipal(), cmp.Or(f.secret, os.Getenv("MESOS_SECRET")); secret != "" {
		if principal == "" {
			return 1, errors.New("--secret given without --principal (or MESOS_PRINCIPAL)")
		}
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(principal, secret)
		header = req.Header
	}
	client := scheduler.New(scheduler.Config{
		Master: withScheme(f.master, secure), Framework: p.framework, Codec: p.codec, HTTPClient: hc, Logger: logger,
		Header: header,
	})
	x := &execution{plan: p, flags: f, client: client, http: hc, secure: secure, stdout: stdout, stderr: stderr}
	return x.run(ctx)
}

// execution is one run of meso execute, driven by run's event loop.
type execution struct {
	plan   *executePlan
	flags  *executeFlags
	client *scheduler.Client
	secure bool // the cluster speaks TLS: agents are reached over https
	http   *http.Client
	stdout io.Writer
	stderr io.Writer

	launched  bool
	suppress  bool           // SUPPRESS sent after the launch
	offer     *mesospb.Offer // the offer the task was launched with
	killTimer <-chan time.Time
}

// callTimeout bounds each call to the master and each sandbox request.
const callTimeout = 15 * time.Second

func (x *execution) run(ctx context.Context) (int, error) {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- x.client.Run(cctx) }()
	defer func() {
		cancel()
		for range x.client.Events() { // let Run return
		}
	}()

	events := x.client.Events()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				err := <-runErr
				if err == nil {
					err = errors.New("scheduler stopped")
				}
				return 1, err
			}
			if final := x.handle(cctx, ev); final != nil {
				return x.finish(cctx, final), nil
			}
		case <-x.killTimer:
			x.killTimer = nil
			x.kill(cctx)
		case <-ctx.Done():
			fmt.Fprintln(x.stderr, "Interrupted; tearing the framework down")
			x.teardown(cctx)
			return 130, nil
		}
	}
}

// handle acts on one event; it returns the terminal status of the task
// when there is one.
func (x *execution) handle(ctx context.Context, ev *schedulerpb.Event) *mesospb.TaskStatus {
	switch ev.GetType() {
	case schedulerpb.Event_SUBSCRIBED:
		fmt.Fprintf(x.stdout, "Subscribed with ID %s\n", ev.GetSubscribed().GetFrameworkId().GetValue())
	case schedulerpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			x.offer1(ctx, o)
		}
	case schedulerpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		formatUpdate(x.stdout, st)
		if err := x.call(ctx, func(c context.Context) error { return x.client.Acknowledge(c, st) }); err != nil {
			fmt.Fprintf(x.stderr, "Failed to acknowledge the update: %v\n", err)
		}
		if x.plan.group != nil {
			return x.groupUpdate(st)
		}
		if st.GetTaskId().GetValue() != x.plan.task.GetTaskId().GetValue() {
			return nil
		}
		if st.GetState() == mesospb.TaskState_TASK_RUNNING && x.flags.killAfter > 0 && x.killTimer == nil {
			x.killTimer = time.After(x.flags.killAfter)
		}
		if mesospb.IsTerminal(st.GetState()) {
			return st
		}
	case schedulerpb.Event_ERROR:
		fmt.Fprintf(x.stderr, "Received an ERROR event: %s\n", ev.GetError().GetMessage())
	case schedulerpb.Event_FAILURE:
		if f := ev.GetFailure(); f.GetExecutorId() == nil {
			fmt.Fprintf(x.stderr, "Agent %s was lost\n", f.GetAgentId().GetValue())
		} else {
			fmt.Fprintf(x.stdout, "Executor '%s' on agent '%s' exited (wait status %d)\n",
				f.GetExecutorId().GetValue(), f.GetAgentId().GetValue(), f.GetStatus())
		}
	}
	return nil
}

// offer1 launches the task with a fitting offer, or declines it.
func (x *execution) offer1(ctx context.Context, o *mesospb.Offer) {
	if !x.launched {
		if res, exRes, ok := fitTaskAndExecutor(o, x.plan.resources, x.plan.executorResources, x.plan.framework.GetRole()); ok {
			if x.plan.group != nil {
				x.launchGroup(ctx, o, res)
				return
			}
			task := proto.CloneOf(x.plan.task)
			task.AgentId = o.GetAgentId()
			task.Resources = res.ToProto(x.plan.framework.GetRole(), false)
			if task.Executor != nil {
				task.Executor.Resources = exRes.ToProto(x.plan.framework.GetRole(), false)
			}
			err := x.call(ctx, func(c context.Context) error { return x.client.Launch(c, o, task) })
			if err != nil {
				fmt.Fprintf(x.stderr, "Failed to launch on offer %s: %v\n", o.GetId().GetValue(), err)
				return
			}
			x.launched, x.offer = true, o
			fmt.Fprintf(x.stdout, "Submitted task '%s' to agent '%s'\n", task.GetName(), o.GetAgentId().GetValue())
			return
		}
	}
	refuse := 1.0 // a short filter while waiting for room: the offer comes back soon
	if x.launched {
		refuse = 3600
	}
	_ = x.call(ctx, func(c context.Context) error {
		return x.client.Decline(c, []*mesospb.OfferID{o.GetId()}, &mesospb.Filters{RefuseSeconds: proto.Float64(refuse)})
	})
	if x.launched && !x.suppress {
		x.suppress = true
		_ = x.call(ctx, func(c context.Context) error { return x.client.Suppress(c) })
	}
}

func (x *execution) kill(ctx context.Context) {
	fmt.Fprintf(x.stdout, "Asked to kill task '%s' on agent '%s'\n",
		x.plan.task.GetTaskId().GetValue(), x.offer.GetAgentId().GetValue())
	err := x.call(ctx, func(c context.Context) error {
		return x.client.Kill(c, x.plan.task.GetTaskId(), x.offer.GetAgentId())
	})
	if err != nil {
		fmt.Fprintf(x.stderr, "Failed to kill the task: %v\n", err)
	}
}

// finish prints the task's output, tears the framework down and returns
// the exit code.
func (x *execution) finish(ctx context.Context, final *mesospb.TaskStatus) int {
	if x.plan.group != nil {
		return x.finishGroup(ctx, final)
	}
	if x.offer != nil && final.GetAgentId() != nil {
		x.printSandbox(ctx, final)
	}
	x.teardown(ctx)
	return taskExitCode(final)
}

func (x *execution) teardown(ctx context.Context) {
	if err := x.call(ctx, x.client.Teardown); err != nil && !errors.Is(err, scheduler.ErrNotSubscribed) {
		fmt.Fprintf(x.stderr, "Failed to tear the framework down: %v\n", err)
	}
}

// call runs one call with a timeout.
func (x *execution) call(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return fn(ctx)
}

// fitTask picks the task's resources from an offer: reserved to the
// framework's role first, then unreserved (as mesos-execute does), all
// from one of the two. Offered resources this client cannot model
// (volumes, revocable) are ignored.
func fitTask(o *mesospb.Offer, want resources.Resources, role string) (resources.Resources, bool) {
	var offered resources.Resources
	for _, r := range o.GetResources() {
		one, err := resources.FromProto([]*mesospb.Resource{r})
		if err != nil {
			continue
		}
		offered = offered.Add(one)
	}
	if role != resources.Unreserved && !want.HasReserved() {
		reserved := make([]resources.Resource, 0, len(want))
		for _, r := range want {
			r.Role = role
			reserved = append(reserved, r)
		}
		if wr, err := resources.New(reserved...); err == nil && offered.Contains(wr) {
			return wr, true
		}
	}
	if offered.Contains(want) {
		return want, true
	}
	return nil, false
}
