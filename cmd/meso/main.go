// Command meso is the single binary of the meso project: a Mesos-compatible
// cluster manager (master, agent, embedded dev cluster), its command-line
// tools, and the built-in executors that agents start.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mesoproject/meso/internal/cpuprofile"
	"github.com/mesoproject/meso/rdd"
)

func main() {
	if os.Getenv("MESO_RDD_DRIVER_URL") != "" && len(os.Args) > 1 && os.Args[1] == "dev" {
		// This process is an executor of the rdd driver that `meso dev
		// --example` runs (the driver's binary is its executor, started
		// with the driver's arguments): rdd.Start runs the executor and
		// exits; it never returns here. Only "dev": the built-in command
		// executor that starts every executor task (`meso executor`) sees
		// the same environment.
		rdd.Start(rdd.Config{})
	}
	role := "meso"
	if len(os.Args) > 1 {
		role = os.Args[1]
	}
	stopProfile := cpuprofile.Start(role) // MESO_CPUPROFILE_DIR (benchmarks)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	stopProfile()
	if err != nil {
		var ec exitCode
		if asExitCode(err, &ec) {
			os.Exit(int(ec))
		}
		fmt.Fprintln(os.Stderr, "meso:", err)
		os.Exit(1)
	}
}
