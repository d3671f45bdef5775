package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/agent"
	"github.com/mesoproject/meso/internal/cmdhost"
	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/scheduler"
)

// TestMain lets this test binary be the agent's launcher: `<binary>
// executor` runs the built-in command executor, as `meso executor` does.
//
// Run as meso-executor (a link to it in a launcher directory), it is the
// lean executor: no argument runs the command executor, command-host a
// command executor host.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "executor" {
		os.Exit(runExecutor())
	}
	if filepath.Base(os.Args[0]) == agent.LeanExecutorName {
		if len(os.Args) == 2 && os.Args[1] == cmdhost.HostArg {
			os.Exit(runHost())
		}
		os.Exit(runExecutor())
	}
	os.Exit(m.Run())
}

func runExecutor() int {
	env, err := executor.EnvFromOS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := commandexec.Run(context.Background(), commandexec.Config{Env: env, Logger: log}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runHost() int {
	ln, err := net.Listen("unix", os.Getenv(cmdhost.SocketEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := cmdhost.Serve(context.Background(), ln, cmdhost.HostConfig{Logger: log}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs a daemon until the test ends.
func serve(t *testing.T, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
}

// TestWithMasterAndRealExecutors runs a master, an agent with the posix
// containerizer and the real command executor (this binary), and a
// framework: tasks finish, fail with their exit status, and get killed;
// over the framed link (link version 3), and over the HTTP form against
// a master that serves only that (as one before version 3).
func TestWithMasterAndRealExecutors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, httpOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "framed", true: "http"}[httpOnly], func(t *testing.T) {
			withMasterAndRealExecutors(t, httpOnly, false)
		})
	}
}

// TestCommandExecutorHostReal is the same with CommandExecutorHost: the
// tasks' command executors run in one command executor host (this binary
// as meso-executor), which the tasks see as their parent, and every
// outcome is the same.
func TestCommandExecutorHostReal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	withMasterAndRealExecutors(t, false, true)
}

func withMasterAndRealExecutors(t *testing.T, httpOnly, host bool) {
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	m, err := master.New(master.Config{AllocationInterval: 50 * time.Millisecond, Logger: logger.With("component", "master"),
		NoFramedLink: httpOnly})
	if err != nil {
		t.Fatal(err)
	}
	mln := listen(t)
	serve(t, func(ctx context.Context) error { return m.Serve(ctx, mln) })

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	workDir := t.TempDir()
	cfg := agent.Config{
		Master:                      mln.Addr().String(),
		WorkDir:                     workDir,
		Launcher:                    self,
		ExecutorShutdownGracePeriod: 2 * time.Second,
		Logger:                      logger.With("component", "agent"),
	}
	if host {
		cfg.LauncherDir = t.TempDir()
		if err := os.Symlink(self, filepath.Join(cfg.LauncherDir, agent.LeanExecutorName)); err != nil {
			t.Fatal(err)
		}
		cfg.CommandExecutorHost = true
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	aln := listen(t)
	serve(t, func(ctx context.Context) error { return a.Serve(ctx, aln) })

	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sched := scheduler.New(scheduler.Config{
		Master:    mln.Addr().String(),
		Framework: &mesospb.FrameworkInfo{User: proto.String(me.Username), Name: proto.String("agent-test")},
		Logger:    logger.With("component", "scheduler"),
	})
	go func() { _ = sched.Run(ctx) }()

	commands := map[string]string{"ok": "echo hello from the task; tr '\\0' ' ' < /proc/$PPID/cmdline", "bad": "exit 3", "long": "sleep 100"}
	launched := false
	final := map[string]*mesospb.TaskStatus{}
	killed := false
	for len(final) < len(commands) {
		var ev *schedulerpb.Event
		select {
		case ev = <-sched.Events():
		case <-ctx.Done():
			t.Fatalf("timed out; final states so far: %v", final)
		}
		switch ev.GetType() {
		case schedulerpb.Event_OFFERS:
			for _, offer := range ev.GetOffers().GetOffers() {
				if launched {
					_ = sched.Decline(ctx, []*mesospb.OfferID{offer.GetId()}, nil)
					continue
				}
				var tasks []*mesospb.TaskInfo
				for id, cmd := range commands {
					tasks = append(tasks, &mesospb.TaskInfo{
						Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)}, AgentId: offer.GetAgentId(),
						Command: &mesospb.CommandInfo{Value: proto.String(cmd)},
						Resources: []*mesospb.Resource{
							{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(0.01)}},
							{Name: proto.String("mem"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(8)}},
						},
					})
				}
				if err := sched.Launch(ctx, offer, tasks...); err != nil {
					t.Fatalf("launch: %v", err)
				}
				launched = true
			}
		case schedulerpb.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			if len(st.GetUuid()) > 0 {
				if err := sched.Acknowledge(ctx, st); err != nil {
					t.Fatalf("acknowledge: %v", err)
				}
			}
			id := st.GetTaskId().GetValue()
			if id == "long" && st.GetState() == mesospb.TaskState_TASK_RUNNING && !killed {
				killed = true
				if err := sched.Kill(ctx, st.GetTaskId(), st.GetAgentId()); err != nil {
					t.Fatalf("kill: %v", err)
				}
			}
			switch st.GetState() {
			case mesospb.TaskState_TASK_FINISHED, mesospb.TaskState_TASK_FAILED, mesospb.TaskState_TASK_KILLED,
				mesospb.TaskState_TASK_LOST, mesospb.TaskState_TASK_ERROR, mesospb.TaskState_TASK_DROPPED:
				final[id] = st
			}
		}
	}
	want := map[string]mesospb.TaskState{"ok": mesospb.TaskState_TASK_FINISHED, "bad": mesospb.TaskState_TASK_FAILED,
		"long": mesospb.TaskState_TASK_KILLED}
	for id, st := range final {
		if st.GetState() != want[id] {
			t.Errorf("task %s ended %s (%q), want %s", id, st.GetState(), st.GetMessage(), want[id])
		}
	}
	if msg := final["bad"].GetMessage(); msg != "Command exited with status 3" {
		t.Errorf("failed task's message %q", msg)
	}
	out, err := os.ReadFile(filepath.Join(workDir, "slaves", a.ID(), "frameworks", sched.FrameworkID().GetValue(),
		"executors", "ok", "runs", "latest", "stdout"))
	if err != nil || !strings.Contains(string(out), "hello from the task") {
		t.Errorf("task stdout %q (%v)", out, err)
	}
	if hosted := strings.Contains(string(out), agent.LeanExecutorName+" "+cmdhost.HostArg); hosted != host {
		t.Errorf("task's parent (in its stdout %q): hosted %v, want %v", out, hosted, host)
	}
	resp, err := http.Get("http://" + mln.Addr().String() + "/metrics/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap map[string]float64
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	if want := map[bool]float64{false: 1, true: 0}[httpOnly]; snap["master/link_connections_framed"] != want || snap["master/links_open"] != 1 {
		t.Errorf("framed link connections %v, links %v; want %v, 1", snap["master/link_connections_framed"], snap["master/links_open"], want)
	}
}
