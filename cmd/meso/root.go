package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// exitCode is returned by a command that wants the process to exit with a
// specific status without printing an error (meso execute mirrors the task's
// exit code).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func asExitCode(err error, target *exitCode) bool { return errors.As(err, target) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "meso",
		Short:         "A Mesos-compatible cluster manager and data engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newDevCmd(),
		newExecutorCmd(),
		newDefaultExecutorCmd(),
		newExecuteCmd(),
		newMasterCmd(),
		newAgentCmd(),
		newBenchCmd(),
		newAgentsCmd(), newFrameworksCmd(), newTasksCmd(),
		newCatCmd(), newTailCmd(),
		newTeardownCmd(), newDrainCmd(), newReactivateCmd(), newReserveCmd(), newUnreserveCmd(),
		newDispatcherCmd(), newSubmitCmd(), newHistoryCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the meso version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "meso %s\n", version)
			return nil
		},
	}
}

// bindEnv lets every flag of cmd be set from the environment the way Mesos
// daemons allow: --work_dir can also come from MESOS_WORK_DIR (or
// MESO_WORK_DIR, which wins). A flag given on the command line beats both.
func bindEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		key := strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		for _, prefix := range []string{"MESO_", "MESOS_"} {
			if v, ok := os.LookupEnv(prefix + key); ok {
				if err := f.Value.Set(v); err != nil {
					errs = append(errs, fmt.Errorf("%s%s=%q: %w", prefix, key, v, err))
				}
				f.Changed = true
				return
			}
		}
	})
	return errors.Join(errs...)
}
