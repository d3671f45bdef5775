// Command testexecutor is a custom Mesos executor for meso's end-to-end
// tests. It is written only against the public Mesos v1 executor HTTP API:
// plain net/http, the v1 wire types, a codec and RecordIO framing, and none
// of meso's executor client, so the tests that run it show that an
// executor written by someone else works with the agent.
//
// Usage:
//
//	testexecutor [--codec=json|protobuf] [--ignore-shutdown]
//
// (or TESTEXECUTOR_CODEC / TESTEXECUTOR_IGNORE_SHUTDOWN=1 in the
// environment). It reads the Mesos executor environment, subscribes to
// MESOS_AGENT_ENDPOINT, and runs every task it is given (LAUNCH or
// LAUNCH_GROUP) by the script in the task's data: steps separated by ';'
//
//	finish     TASK_FINISHED (an empty script is "finish")
//	fail       TASK_FAILED
//	hang       wait for KILL (then TASK_KILLED)
//	sleep:D    wait D (a Go duration), or until KILL
//	crash:N    exit the whole executor at once with status N
//	park       close the event stream, tell the scheduler "parked:<task id>",
//	           wait until the file <sandbox>/resume exists, then subscribe
//	           again listing the unacknowledged tasks and updates
//
// Every task reports TASK_RUNNING first; a KILL at any step ends it with
// TASK_KILLED. Framework messages are answered with a message:
//
//	ping:X  ->  pong:X
//	env     ->  env:<JSON object: the MESOS_* variables, and PWD>
//	stats   ->  stats:<JSON object: subscriptions, launched, acknowledged, unacknowledged, events>
//
// SHUTDOWN kills every task, waits (at most half of
// MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD) for the agent to acknowledge the
// TASK_KILLED updates and exits 0. With --ignore-shutdown it ignores both
// SHUTDOWN and SIGTERM, so the agent has to kill it. ERROR makes it exit 1.
// When the stream to the agent breaks, it exits 1, unless the framework
// checkpoints: then it subscribes again (backing off up to
// MESOS_SUBSCRIPTION_BACKOFF_MAX) for MESOS_RECOVERY_TIMEOUT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mesoproject/meso/api/codec"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("testexecutor: ")
	codecName := flag.String("codec", os.Getenv("TESTEXECUTOR_CODEC"), "json or protobuf (default protobuf)")
	ignore := flag.Bool("ignore-shutdown", os.Getenv("TESTEXECUTOR_IGNORE_SHUTDOWN") == "1", "ignore SHUTDOWN and SIGTERM")
	flag.Parse()
	cfg, err := configFromEnv(*codecName, *ignore)
	if err != nil {
		log.Fatal(err)
	}
	if cfg.ignoreShutdown {
		signal.Ignore(syscall.SIGTERM)
	}
	e := newExecutor(cfg)
	if err := e.run(context.Background()); err != nil {
		log.Printf("exiting: %v", err)
		os.Exit(1)
	}
	log.Print("exiting after SHUTDOWN")
}

// config is what the agent tells the executor through its environment.
type config struct {
	codec          codec.Codec
	endpoint       string // http://host:port/api/v1/executor
	frameworkID    string
	executorID     string
	sandbox        string
	grace          time.Duration
	checkpoint     bool
	recovery       time.Duration
	backoffMax     time.Duration
	ignoreShutdown bool
	token          string // MESOS_EXECUTOR_AUTHENTICATION_TOKEN, sent as Bearer when set
}

func configFromEnv(codecName string, ignore bool) (config, error) {
	cfg := config{ignoreShutdown: ignore, recovery: 15 * time.Minute, backoffMax: 2 * time.Second}
	switch strings.ToLower(codecName) {
	case "", "protobuf":
		cfg.codec = codec.Protobuf
	case "json":
		cfg.codec = codec.JSON
	default:
		return cfg, fmt.Errorf("unknown codec %q", codecName)
	}
	var missing []string
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	cfg.endpoint = "http://" + get("MESOS_AGENT_ENDPOINT") + "/api/v1/executor"
	cfg.frameworkID = get("MESOS_FRAMEWORK_ID")
	cfg.executorID = get("MESOS_EXECUTOR_ID")
	cfg.sandbox = get("MESOS_SANDBOX")
	cfg.token = os.Getenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
	grace := get("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD")
	checkpoint := get("MESOS_CHECKPOINT")
	if len(missing) > 0 {
		return cfg, fmt.Errorf("missing environment: %s", strings.Join(missing, ", "))
	}
	var err error
	if cfg.grace, err = parseMesosDuration(grace); err != nil {
		return cfg, fmt.Errorf("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: %w", err)
	}
	cfg.checkpoint = checkpoint == "1"
	if !cfg.checkpoint {
		return cfg, nil
	}
	for name, dst := range map[string]*time.Duration{"MESOS_RECOVERY_TIMEOUT": &cfg.recovery, "MESOS_SUBSCRIPTION_BACKOFF_MAX": &cfg.backoffMax} {
		if *dst, err = parseMesosDuration(os.Getenv(name)); err != nil {
			return cfg, fmt.Errorf("%s: %w", name, err)
		}
	}
	return cfg, nil
}

// parseMesosDuration reads the duration syntax Mesos puts in executor
// environments ("5secs", "100ms", "15mins"), and nothing else: a Go
// duration such as "5s" here would be a bug in the agent.
func parseMesosDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"weeks", 7 * 24 * time.Hour}, {"days", 24 * time.Hour}, {"hrs", time.Hour}, {"mins", time.Minute},
		{"secs", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", time.Nanosecond}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			break
		}
		return time.Duration(v * float64(u.unit)), nil
	}
	return 0, fmt.Errorf("not a Mesos duration: %q", s)
}
