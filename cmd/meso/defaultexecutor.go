package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/executor"
	"github.com/mesoproject/meso/internal/defaultexec"
	"github.com/mesoproject/meso/internal/launcher"
)

// newDefaultExecutorCmd is `meso default-executor`, the built-in default
// executor that agents start for task groups (ExecutorInfo type DEFAULT).
// It is hidden: only agents run it, configured by the Mesos executor
// environment.
func newDefaultExecutorCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "default-executor",
		Short:  "Run the built-in default executor for task groups (started by agents, not by hand)",
		Hidden: true,
		Long: `Run the built-in default executor, meso's equivalent of Mesos' default executor.

An agent starts it for task groups launched with an ExecutorInfo of type DEFAULT.
It reads the Mesos executor environment (MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID,
MESOS_EXECUTOR_ID, MESOS_SANDBOX, MESOS_CHECKPOINT, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
...), subscribes to the agent's executor API, runs every task of every task group
it receives as its own process in <sandbox>/tasks/<task id>, kills a group when one
of its tasks fails or is killed, runs health checks and checks, and exits once no
task is left and its updates are acknowledged. Its log goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := executor.EnvFromOS()
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "default-executor")
			return defaultexec.Run(cmd.Context(), defaultexec.Config{Env: env, Logger: log,
				NoSwitchUser: os.Getenv(launcher.NoSwitchUserEnv) == "1"})
		},
	}
}
