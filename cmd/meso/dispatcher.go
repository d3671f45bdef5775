package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/dispatcher"
	"github.com/mesoproject/meso/internal/mesosflag"
)

func newDispatcherCmd() *cobra.Command {
	var master, ip, workDir, name, role, principal, secret, credentials, advertise, maxUpload string
	var port int
	var retryWaitMax time.Duration
	var maxDrivers, retainedDrivers int
	cmd := &cobra.Command{
		Use:   "dispatcher --master HOST:PORT [--port 7077]",
		Short: "Run the cluster-mode driver dispatcher (Spark's MesosClusterDispatcher)",
		Long: `The dispatcher is a Mesos framework that runs drivers for 'meso submit
--deploy-mode cluster' (and for spark-submit, which speaks the same REST
submission protocol): it queues submitted drivers, launches each as a task
on the cluster, relaunches supervised drivers whose task failed or was lost
(back-off 1 s doubling to --retry_wait_max), and answers status and kill
requests. Its state (framework id, drivers) lives in --work_dir, so a
restarted dispatcher keeps its drivers and fails over to its framework id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if master == "" {
				return errors.New("--master is required (the Mesos master drivers run on)")
			}
			if workDir == "" {
				workDir = filepath.Join(os.TempDir(), "meso-dispatcher-"+strconv.Itoa(port))
			}
			if secret != "" && principal == "" {
				return errors.New("--secret needs --principal")
			}
			var creds *authn.Credentials
			if credentials != "" {
				c, err := authn.Load(credentials)
				if err != nil {
					return err
				}
				creds = c
			}
			limit, err := mesosflag.ParseBytes(maxUpload)
			if err != nil || limit <= 0 {
				return fmt.Errorf("--max_upload_size %q: want a positive size such as 512MB", maxUpload)
			}
			if maxDrivers < 1 || retainedDrivers < 1 {
				return fmt.Errorf("--max_drivers %d, --retained_drivers %d: want at least 1 each", maxDrivers, retainedDrivers)
			}
			if advertise != "" && !strings.HasPrefix(advertise, "http://") && !strings.HasPrefix(advertise, "https://") {
				return fmt.Errorf("--advertise_url %q: want http://host:port", advertise)
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				return err
			}
			if advertise == "" {
				host := ip
				if a := net.ParseIP(ip); a != nil && a.IsUnspecified() {
					if host, err = os.Hostname(); err != nil {
						return err
					}
				}
				advertise = "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			svc, err := dispatcher.NewService(dispatcher.Config{
				Master: strings.TrimPrefix(master, "mesos://"), WorkDir: workDir, Name: name, Role: role,
				Principal: principal, Secret: secret, Credentials: creds, MaxRetryWait: retryWaitMax, Logger: log,
				MaxDrivers: maxDrivers, RetainedDrivers: retainedDrivers,
				URL: advertise, MaxUpload: int64(limit),
			})
			if err != nil {
				ln.Close()
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := svc.Server()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			errc := make(chan error, 2)
			go func() { errc <- svc.Run(ctx) }()
			go func() {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					errc <- err
				}
			}()
			fmt.Fprintf(cmd.OutOrStdout(), "dispatcher: submissions at mesos://%s (work dir %s), drivers on %s\n", ln.Addr(), workDir, master)
			select {
			case <-ctx.Done():
				return nil
			case err := <-errc:
				return err
			}
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&master, "master", "", "the Mesos master drivers run on: host:port or mesos://host:port, a comma-separated list for several masters")
	fs.StringVar(&ip, "ip", "127.0.0.1", "address the submission server listens on")
	fs.IntVar(&port, "port", 7077, "port of the submission server (Spark's default)")
	fs.StringVar(&workDir, "work_dir", "", "where the dispatcher keeps its state (default: <tmp>/meso-dispatcher-<port>)")
	fs.StringVar(&name, "name", "meso dispatcher", "framework name")
	fs.StringVar(&role, "role", "*", "role the drivers' resources are taken from")
	fs.StringVar(&principal, "principal", "", "framework principal; with --secret, the dispatcher authenticates to the master as it (MESOS_PRINCIPAL)")
	fs.StringVar(&secret, "secret", "", "the principal's secret (MESOS_SECRET)")
	fs.StringVar(&credentials, "credentials", "", "credentials file (path or file:///path, JSON or 'principal secret' lines): submissions, status, kills and the web UI need HTTP Basic credentials from it")
	fs.StringVar(&advertise, "advertise_url", "", "the dispatcher's address as the agents reach it, where they fetch uploaded programs (default http://<ip>:<port>, the host name for 0.0.0.0)")
	fs.StringVar(&maxUpload, "max_upload_size", "512MB", "the largest program 'meso submit' may upload")
	mesosflag.DurationVar(fs, &retryWaitMax, "retry_wait_max", dispatcher.DefaultMaxRetryWait,
		"longest wait before relaunching a supervised driver (spark.mesos.cluster.retry.wait.max)")
	fs.IntVar(&maxDrivers, "max_drivers", dispatcher.DefaultMaxDrivers,
		"submissions are refused while this many drivers are queued (spark.mesos.maxDrivers)")
	fs.IntVar(&retainedDrivers, "retained_drivers", dispatcher.DefaultRetainedDrivers,
		"ended drivers kept for status queries and the web UI, the oldest ended forgotten first (spark.mesos.retainedDrivers)")
	return cmd
}

func newSubmitCmd() *cobra.Command {
	var master, deployMode, name, status, kill, driverMemory, principal, secret string
	var driverCores float64
	var supervise bool
	var conf []string
	cmd := &cobra.Command{
		Use:   "submit --master mesos://DISPATCHER:7077 --deploy-mode cluster [--supervise] PROGRAM [-- ARGS...]",
		Short: "Submit a driver to the dispatcher, or ask for its status or kill it (spark-submit)",
		Long: `submit sends PROGRAM to the dispatcher, which runs it on the cluster as
  ./PROGRAM --master mesos://<mesos master> [--conf k=v ...] ARGS...
so the program must take --master and --conf flags, as the examples do.
A local path is uploaded to the dispatcher, which serves it to the agents;
a URI (http://...) is fetched by the agents as it is; local:///path names
a program already on the agents (or in the driver's Docker image, set by
--conf spark.mesos.executor.docker.image=IMAGE).
--status ID prints a driver's state (QUEUED, RUNNING, RETRYING, FINISHED,
FAILED, KILLED; NOT_FOUND for an unknown id); --kill ID ends it.`,
		Example: `  meso submit --master mesos://127.0.0.1:7077 --deploy-mode cluster --supervise ./groupby -- --n 10000000
  meso submit --master mesos://127.0.0.1:7077 --status driver-20261207010203-0001
  meso submit --master mesos://127.0.0.1:7077 --kill driver-20261207010203-0001`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			base, err := dispatcherURL(master)
			if err != nil {
				return err
			}
			if (principal == "") != (secret == "") {
				return errors.New("--principal and --secret go together")
			}
			client := &http.Client{Timeout: 30 * time.Second, Transport: &basicAuth{principal, secret, http.DefaultTransport}}
			out := cmd.OutOrStdout()
			switch {
			case status != "":
				return submitCall(client, http.MethodGet, base+"/v1/submissions/status/"+status, nil, out)
			case kill != "":
				return submitCall(client, http.MethodPost, base+"/v1/submissions/kill/"+kill, nil, out)
			}
			if deployMode != "cluster" {
				return fmt.Errorf("--deploy-mode %q: only cluster mode goes through the dispatcher; in client mode run the program itself with --master mesos://<mesos master>", deployMode)
			}
			if len(args) == 0 {
				return errors.New("the program to submit is required")
			}
			dash := cmd.ArgsLenAtDash()
			if dash > 1 || (dash < 0 && len(args) > 1) {
				return errors.New("give the program's own arguments after --: meso submit ... PROGRAM -- ARGS")
			}
			program := args[0]
			if !strings.Contains(program, "://") {
				uploadClient := &http.Client{Timeout: 10 * time.Minute, Transport: client.Transport}
				if program, err = uploadProgram(uploadClient, base, program); err != nil {
					return err
				}
			}
			props := map[string]string{"spark.master": master, "spark.submit.deployMode": "cluster",
				"spark.driver.cores": strconv.FormatFloat(driverCores, 'g', -1, 64), "spark.driver.memory": driverMemory}
			if supervise {
				props["spark.driver.supervise"] = "true"
			}
			if name != "" {
				props["spark.app.name"] = name
			}
			for _, kv := range conf {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--conf %q: want key=value", kv)
				}
				props[k] = v
			}
			req := dispatcher.CreateRequest{Action: "CreateSubmissionRequest", AppResource: program,
				AppArgs: args[1:], SparkProperties: props, EnvironmentVariables: map[string]string{},
				ClientSparkVersion: dispatcher.ServerVersion}
			body, _ := json.Marshal(req)
			return submitCall(client, http.MethodPost, base+"/v1/submissions/create", body, out)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&master, "master", "", "the dispatcher: mesos://host:port (required)")
	fs.StringVar(&deployMode, "deploy-mode", "cluster", "cluster: the dispatcher runs the driver on the cluster")
	fs.BoolVar(&supervise, "supervise", false, "relaunch the driver when its task fails or is lost")
	fs.StringVar(&name, "name", "", "application name (spark.app.name)")
	fs.Float64Var(&driverCores, "driver-cores", 1, "cpus of the driver's task")
	fs.StringVar(&driverMemory, "driver-memory", "1g", "memory of the driver (plus max(384m, 10%) overhead)")
	fs.StringArrayVar(&conf, "conf", nil, "a Spark setting key=value given to the driver (repeatable)")
	fs.StringVar(&status, "status", "", "print the state of this submission id")
	fs.StringVar(&kill, "kill", "", "kill this submission id")
	fs.StringVar(&principal, "principal", "", "principal to authenticate to the dispatcher as (HTTP Basic; MESOS_PRINCIPAL)")
	fs.StringVar(&secret, "secret", "", "the principal's secret (MESOS_SECRET)")
	return cmd
}

// uploadProgram sends a local program to the dispatcher and returns the
// appResource that names it there.
func uploadProgram(client *http.Client, base, program string) (string, error) {
	f, err := os.Open(program)
	if err != nil {
		return "", fmt.Errorf("program %s: %w", program, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("program %s is not a regular file", program)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/v1/binaries?name="+url.QueryEscape(filepath.Base(program)), f)
	if err != nil {
		return "", err
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("uploading %s: dispatcher unreachable: %w", program, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return "", errors.New("dispatcher refused the upload: 401 Unauthorized (give --principal and --secret, or MESOS_PRINCIPAL and MESOS_SECRET)")
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	var r dispatcher.Response
	if err := json.Unmarshal(data, &r); err != nil {
		return "", fmt.Errorf("uploading %s: dispatcher answered %s: %s", program, resp.Status, strings.TrimSpace(string(data)))
	}
	if resp.StatusCode != http.StatusOK || r.AppResource == "" {
		return "", fmt.Errorf("dispatcher refused the upload of %s: %s", program, r.Message)
	}
	return r.AppResource, nil
}

// dispatcherURL turns mesos://host:port (or host:port, http://...) into
// the submission server's base URL.
func dispatcherURL(master string) (string, error) {
	if master == "" {
		return "", errors.New("--master mesos://DISPATCHER:PORT is required")
	}
	m := strings.TrimPrefix(master, "mesos://")
	if !strings.HasPrefix(m, "http://") && !strings.HasPrefix(m, "https://") {
		m = "http://" + m
	}
	return strings.TrimSuffix(m, "/"), nil
}

// submitCall sends one request of the submission protocol and prints the
// answer; success=false or an ErrorResponse is an error.
func submitCall(client *http.Client, method, url string, body []byte, out io.Writer) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("dispatcher unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return errors.New("dispatcher refused: 401 Unauthorized (give --principal and --secret, or MESOS_PRINCIPAL and MESOS_SECRET)")
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var r dispatcher.Response
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("dispatcher answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	switch {
	case r.Action == "ErrorResponse":
		return fmt.Errorf("dispatcher refused: %s", r.Message)
	case r.Action == "CreateSubmissionResponse" && r.Success != nil && *r.Success:
		fmt.Fprintf(out, "%s\n", r.SubmissionID)
	case r.Action == "SubmissionStatusResponse":
		line := r.SubmissionID + " " + r.DriverState
		if r.Message != "" {
			line += " (" + r.Message + ")"
		}
		fmt.Fprintln(out, line)
		if r.TaskID != "" {
			fmt.Fprintf(out, "task: %s on agent %s\n", r.TaskID, r.WorkerID)
		}
		if r.TaskURL != "" {
			fmt.Fprintf(out, "sandbox: %s (or: meso cat --master <mesos master> %s stdout)\n", r.TaskURL, r.TaskID)
		}
	default:
		fmt.Fprintf(out, "%s %s\n", r.SubmissionID, r.Message)
	}
	if r.Success != nil && !*r.Success {
		return exitCode(1)
	}
	return nil
}
