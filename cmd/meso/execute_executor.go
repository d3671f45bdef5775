package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// executorFlags are meso's additions to mesos-execute's flags for custom
// executors and fetched files. mesos-execute has neither flag (its --task
// JSON can carry an executor and URIs, and so can ours).
type executorFlags struct {
	executor string   // --executor: an ExecutorInfo in Mesos JSON, or a file holding one
	uris     []string // --uri, repeatable
	data     string   // --data: TaskInfo.data
}

func (e *executorFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&e.executor, "executor", "", `run the task on this custom executor instead of the command executor: an ExecutorInfo in Mesos JSON, such as '{"executor_id":{"value":"my-exec"},"command":{"value":"./my-executor","uris":[{"value":"http://repo/my-executor","executable":true}]},"resources":[...]}', or the path of a file holding one ('file:///path' or '/path'); type defaults to CUSTOM; the task then has no command (see --data); not in mesos-execute`)
	fs.StringArrayVar(&e.uris, "uri", nil, `fetch this URI into the sandbox before the task (with --executor: before the executor) starts; repeatable; a URI ('http://repo/app.tgz', 'file:///path', '/path': extracted when it is an archive), or a Mesos JSON CommandInfo.URI such as '{"value":"http://repo/tool","executable":true,"cache":true}'; not in mesos-execute`)
	fs.StringVar(&e.data, "data", "", "the task's data (TaskInfo.data), which a custom executor reads; not in mesos-execute")
}

// used reports whether --executor or --data was given (they replace the
// task's command).
func (e *executorFlags) used() bool { return e.executor != "" || e.data != "" }

// apply adds the flags to the task built from the other flags (or from
// --task) and returns the executor's resources, which the offer must hold
// too (none for the command executor). A task from --task may carry its
// own executor; --executor then is an error.
func (e *executorFlags) apply(task *mesospb.TaskInfo, fromTaskJSON bool) (resources.Resources, error) {
	if e.executor != "" {
		if task.Executor != nil {
			return nil, errors.New("--executor: the --task already names an executor")
		}
		ex, err := parseExecutorFlag(e.executor)
		if err != nil {
			return nil, err
		}
		if !fromTaskJSON {
			if err := moveCommandToExecutor(task, ex); err != nil {
				return nil, err
			}
		}
		task.Executor = ex
	}
	if e.data != "" {
		if task.Executor == nil {
			return nil, errors.New("--data needs --executor (the command executor does not read it)")
		}
		task.Data = []byte(e.data)
	}
	if err := e.addURIs(task); err != nil {
		return nil, err
	}
	if task.Executor == nil {
		return nil, nil
	}
	res, err := resources.FromProto(task.GetExecutor().GetResources())
	if err != nil {
		return nil, fmt.Errorf("executor resources: %w", err)
	}
	task.Executor.Resources = nil // given per offer, like the task's
	return res, nil
}

// moveCommandToExecutor checks that a flag-built task for a custom
// executor has no command of its own, keeping --env for the executor.
func moveCommandToExecutor(task *mesospb.TaskInfo, ex *mesospb.ExecutorInfo) error {
	ci := task.GetCommand()
	if ci.GetValue() != "" {
		return errors.New("--command and --executor exclude each other: a task runs a command or goes to an executor (give it --data)")
	}
	if task.Container != nil {
		return errors.New("--docker_image, --containerizer and --volumes do not apply with --executor (set container in the ExecutorInfo)")
	}
	if vars := ci.GetEnvironment().GetVariables(); len(vars) > 0 {
		if ex.Command.Environment == nil {
			ex.Command.Environment = &mesospb.Environment{}
		}
		ex.Command.Environment.Variables = append(ex.Command.Environment.Variables, vars...)
	}
	task.Command = nil
	return nil
}

// addURIs puts the --uri values on the command that runs first: the
// executor's, or the task's own.
func (e *executorFlags) addURIs(task *mesospb.TaskInfo) error {
	if len(e.uris) == 0 {
		return nil
	}
	ci := task.GetExecutor().GetCommand()
	if ci == nil {
		if task.Command == nil {
			return errors.New("--uri: the task has neither a command nor an executor command to fetch for")
		}
		ci = task.Command
	}
	for _, u := range e.uris {
		parsed, err := parseURIFlag(u)
		if err != nil {
			return err
		}
		ci.Uris = append(ci.Uris, parsed)
	}
	return nil
}

// parseURIFlag reads one --uri: a JSON CommandInfo.URI object, or a plain
// URI.
func parseURIFlag(s string) (*mesospb.CommandInfo_URI, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("--uri: empty")
	}
	if !strings.HasPrefix(s, "{") {
		return &mesospb.CommandInfo_URI{Value: proto.String(s)}, nil
	}
	u := &mesospb.CommandInfo_URI{}
	if err := codec.JSON.Unmarshal([]byte(s), u); err != nil {
		return nil, fmt.Errorf("--uri %s: %w", s, err)
	}
	if u.GetValue() == "" {
		return nil, fmt.Errorf("--uri %s: value is empty", s)
	}
	return u, nil
}

// parseExecutorFlag reads --executor: an ExecutorInfo in Mesos JSON, inline
// or in a file. The type defaults to CUSTOM, which needs a command.
func parseExecutorFlag(s string) (*mesospb.ExecutorInfo, error) {
	data, err := flagValueOrFile(s)
	if err != nil {
		return nil, fmt.Errorf("--executor: %w", err)
	}
	ex := &mesospb.ExecutorInfo{}
	if err := codec.JSON.Unmarshal(data, ex); err != nil {
		return nil, fmt.Errorf("--executor: %w", err)
	}
	if ex.GetExecutorId().GetValue() == "" {
		return nil, errors.New("--executor: executor_id.value is empty")
	}
	if ex.Type == nil {
		ex.Type = mesospb.ExecutorInfo_CUSTOM.Enum()
	}
	if ex.GetType() != mesospb.ExecutorInfo_CUSTOM || ex.Command == nil {
		return nil, errors.New("--executor: want a CUSTOM executor with a command (task groups and the default executor take --task_group)")
	}
	return ex, nil
}

// sandboxExecutorID is the executor whose sandbox holds the task's output:
// its custom executor, or the command executor named after the task.
func sandboxExecutorID(task *mesospb.TaskInfo) string {
	if id := task.GetExecutor().GetExecutorId().GetValue(); id != "" {
		return id
	}
	return task.GetTaskId().GetValue()
}

// fitTaskAndExecutor picks the task's and the executor's resources from one
// offer, both from the same pool (see fitTask). Without executor resources
// it is fitTask.
func fitTaskAndExecutor(o *mesospb.Offer, task, executor resources.Resources, role string) (resources.Resources, resources.Resources, bool) {
	if executor.IsEmpty() {
		res, ok := fitTask(o, task, role)
		return res, nil, ok
	}
	both, ok := fitTask(o, task.Add(executor), role)
	if !ok {
		return nil, nil, false
	}
	if task.HasReserved() || executor.HasReserved() {
		return task, executor, true // taken as given
	}
	// fitTask gave all of both the role of one pool; give each part that role.
	pool := resources.Unreserved
	if len(both) > 0 {
		pool = both[0].Role
	}
	return withRole(task, pool), withRole(executor, pool), true
}

func withRole(rs resources.Resources, role string) resources.Resources {
	out := make([]resources.Resource, 0, len(rs))
	for _, r := range rs {
		r.Role = role
		out = append(out, r)
	}
	res, _ := resources.New(out...)
	return res
}
