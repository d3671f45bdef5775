package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/rdd"
)

// newHistoryCmd is `meso history`, Spark's history server: the driver UI of
// the applications whose event logs are in a directory.
func newHistoryCmd() *cobra.Command {
	var dir, ip string
	var port int
	cmd := &cobra.Command{
		Use:   "history --dir DIR [--port 18080]",
		Short: "Serve the driver UI of finished rdd applications from their event logs (Spark's history server)",
		Long: `history serves, for every event log in --dir (the spark.eventLog.dir of rdd
applications: one <app>-<start>.jsonl file each), the same pages as the live
driver UI: jobs, stages with their DAG and skipped stages, tasks, executors
and environment. A log still being written is read again when it grows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if dir == "" {
				return errors.New("--dir is required (the applications' spark.eventLog.dir)")
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return fmt.Errorf("--dir %s: not a directory", dir)
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: rdd.HistoryHandler(dir), ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			fmt.Fprintf(cmd.OutOrStdout(), "history server: http://%s/ (event logs in %s)\n", ln.Addr(), dir)
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dir, "dir", "", "directory of the applications' event logs (spark.eventLog.dir)")
	fs.StringVar(&ip, "ip", "127.0.0.1", "address to listen on")
	fs.IntVar(&port, "port", 18080, "port to listen on (Spark's history server default)")
	return cmd
}
