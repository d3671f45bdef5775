package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/commandexec/dockerexec"
	"github.com/mesoproject/meso/internal/launcher"
)

// newExecutorCmd is `meso executor`, the built-in command executor that
// agents start for command tasks. It is configured only by the Mesos
// executor environment.
func newExecutorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "executor",
		Short: "Run the built-in command executor (started by agents, not by hand)",
		Long: `Run the built-in command executor, meso's equivalent of Mesos' command executor.

An agent starts it for a task that has a command and no executor of its own.
It reads the Mesos executor environment (MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID,
MESOS_EXECUTOR_ID, MESOS_SANDBOX, MESOS_CHECKPOINT, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
MESOS_RECOVERY_TIMEOUT, MESOS_SUBSCRIPTION_BACKOFF_MAX), subscribes to the agent's
executor API, runs the launched task's command in the sandbox, reports
TASK_STARTING, TASK_RUNNING and the terminal state, and exits 0 once the agent
has acknowledged the terminal update. Its log goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := executor.EnvFromOS()
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "command-executor")
			return commandexec.Run(cmd.Context(), commandexec.Config{Env: env, Logger: log,
				NoSwitchUser: os.Getenv(launcher.NoSwitchUserEnv) == "1", OpenDocker: dockerexec.Open})
		},
	}
}
