// Command meso-executor is the lean build of meso's built-in executors, as
// Mesos ships mesos-executor beside its daemons. An agent finds it in its
// --launcher_dir (by default the directory of its own binary) and starts it
// for command tasks and task groups instead of `meso executor` / `meso
// default-executor`: it links only the executor API, the launcher and the
// health checks, not the Docker, Prometheus, Raft or rdd packages of the
// daemon, so each task's executor starts several times faster
// (docs/BENCHMARKS.md, "Launch latency"). Command tasks in a Docker
// container still run in `meso executor`, which has the Docker client.
//
// Usage, by agents only (configured by the Mesos executor environment):
//
//	meso-executor                     # the command executor
//	meso-executor default-executor    # the default executor (task groups)
//	meso-executor command-host        # a command executor host (package cmdhost)
//	meso-executor version             # prints its version and exits
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/cmdhost"
	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/cpuprofile"
	"github.com/mesoproject/meso/internal/defaultexec"
	"github.com/mesoproject/meso/internal/launcher"
)

// version is set at build time with -ldflags "-X main.version=...", as
// meso's.
var version = "0.1.0-dev"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Println("meso-executor", version)
		return
	}
	stopProfile := cpuprofile.Start("meso-executor") // MESO_CPUPROFILE_DIR (benchmarks)
	err := run(os.Args[1:])
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meso-executor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 1 && args[0] == cmdhost.HostArg {
		return runHost(ctx)
	}
	env, err := executor.EnvFromOS()
	if err != nil {
		return err
	}
	noSwitchUser := os.Getenv(launcher.NoSwitchUserEnv) == "1"
	switch {
	case len(args) == 0:
		log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "command-executor")
		return commandexec.Run(ctx, commandexec.Config{Env: env, Logger: log, NoSwitchUser: noSwitchUser})
	case len(args) == 1 && args[0] == "default-executor":
		log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "default-executor")
		return defaultexec.Run(ctx, defaultexec.Config{Env: env, Logger: log, NoSwitchUser: noSwitchUser})
	default:
		return fmt.Errorf("unexpected arguments %q: run by agents with no arguments (command executor) or default-executor", args)
	}
}

// runHost serves as a command executor host on the abstract unix socket
// the agent named in cmdhost.SocketEnv.
func runHost(ctx context.Context) error {
	socket := os.Getenv(cmdhost.SocketEnv)
	if !strings.HasPrefix(socket, "@") {
		return fmt.Errorf("%s=%q: want an abstract socket name (@name)", cmdhost.SocketEnv, socket)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "command-executor-host")
	log.Info("command executor host listening", "socket", socket, "pid", os.Getpid())
	return cmdhost.Serve(ctx, ln, cmdhost.HostConfig{Logger: log})
}
