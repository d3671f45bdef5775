package rdd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
)

// Config configures a Session. Settings carry Spark's names where Spark has
// them (see Set); the zero value is a usable local configuration.
type Config struct {
	// Master says where tasks run (spark.master): "local" (one slot),
	// "local[N]" (N slots), "local[*]" (one per core), or
	// "mesos://host:port" (several masters: "mesos://h1:p1,h2:p2", tried in
	// order) to run executors on a Mesos cluster (see docs/rdd.md, cluster
	// mode). Empty means "local[*]".
	Master string
	// AppName names the application in logs and the event log
	// (spark.app.name).
	AppName string
	// DefaultParallelism (spark.default.parallelism) is the number of
	// partitions of sources built without an explicit count, and of shuffles
	// without one. 0: the number of slots for sources; for shuffles, the
	// largest partition count among the shuffle's parents.
	DefaultParallelism int
	// TaskMaxFailures (spark.task.maxFailures) is how many times one task may
	// fail before its job is aborted. 0 means 4.
	TaskMaxFailures int
	// StageMaxConsecutiveAttempts (spark.stage.maxConsecutiveAttempts) bounds
	// how often a stage is resubmitted after lost map outputs. 0 means 4.
	StageMaxConsecutiveAttempts int
	// LocalityWait (spark.locality.wait) is how long a stage keeps a task
	// whose cached input is on a busy executor waiting for a slot there,
	// since the stage last launched a task where its input is, before
	// running it elsewhere (Spark's delay scheduling; cluster mode). 0
	// means 3 s; negative: no waiting (spark.locality.wait=0).
	LocalityWait time.Duration
	// TaskPrefetch (spark.rdd.taskPrefetch, ours) is how many tasks a
	// coarse-grained cluster executor is given per slot beyond the one the
	// slot runs, so that it starts the next as soon as one ends instead of
	// a report round trip later (docs/rdd.md, "Task dispatch"). 0 means 2;
	// negative: none. Local and fine-grained mode do not prefetch.
	TaskPrefetch int
	// LocalDir (spark.local.dir) holds shuffle files, spills and disk-cached
	// partitions, in a fresh subdirectory removed by Close. Empty: the
	// system temporary directory.
	LocalDir string
	// ShuffleMemory (spark.shuffle.memory, bytes) is each running task's
	// budget for shuffle buffers and aggregation state; beyond it, tasks
	// spill sorted runs to LocalDir and merge them. 0 means 64 MiB.
	ShuffleMemory int64
	// ShuffleSpill (spark.shuffle.spill): false is accepted for Spark
	// compatibility, but spilling cannot be disabled (a job larger than
	// memory must finish), so it is ignored.
	ShuffleSpill bool
	// StorageMemory (spark.storage.memory, bytes) bounds partitions cached in
	// memory; the least recently used are evicted beyond it (to disk for
	// MemoryAndDisk). 0 means 1 GiB.
	StorageMemory int64
	// EventLogDir (spark.eventLog.dir): when set, every job writes JSON-lines
	// events (job, stage, task start and end, with metrics) to a file in it.
	EventLogDir string
	// ShowConsoleProgress (spark.ui.showConsoleProgress) draws a progress
	// line per running stage on Progress.
	ShowConsoleProgress bool
	// Progress receives the progress line; nil means os.Stderr.
	Progress io.Writer
	// UIEnabled (spark.ui.enabled=true) serves the driver's web UI (jobs,
	// stages, tasks, executors, storage, environment) on UIPort. A
	// mesos:// session serves it unless UIDisabled (spark.ui.enabled=false);
	// a local one only with UIEnabled, so that library use and tests open
	// no port by default (Spark serves it in every mode).
	UIEnabled  bool
	UIDisabled bool
	// UIPort (spark.ui.port) is the UI's first port to try, 4040 when 0; as
	// Spark, the next 16 are tried when it is taken. The UI listens on
	// spark.driver.host (default 127.0.0.1).
	UIPort int
	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger
	// CheckPortable (spark.rdd.checkPortable, ours) makes a local session
	// refuse, as cluster mode does, a job that executors could not run: a
	// stage with a dataset built outside an rdd.Func call, an action's
	// function not registered with Register, an argument gob cannot encode,
	// a Func whose second build differs from its first (see docs/rdd.md).
	// A program whose jobs pass with it runs on a cluster.
	CheckPortable bool
	// Cluster holds the cluster-mode settings by their Spark names
	// (spark.cores.max, spark.executor.*, spark.mesos.*, spark.executorEnv.*),
	// as Set stored them; they are checked when a mesos:// session starts.
	Cluster map[string]string
}

// keyTaskPrefetch is Config.TaskPrefetch's setting (ours).
const keyTaskPrefetch = "spark.rdd.taskPrefetch"

// isClusterKey reports whether key is a cluster-mode setting kept in
// Config.Cluster.
func isClusterKey(key string) bool {
	for _, p := range []string{"spark.cores.max", "spark.executor.", "spark.executorEnv.", "spark.mesos.", "spark.driver.host",
		"spark.reducer.maxSizeInFlight", "spark.shuffle.io.", "spark.network.timeout", keyReadHostLocalDisk,
		"spark.dynamicAllocation.", "spark.shuffle.service.", "spark.storage.blockManagerSlaveTimeoutMs", "spark.task.cpus"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// mesosMasters returns the masters of a "mesos://" master URL, or nil when
// master is not one.
func mesosMasters(master string) ([]string, error) {
	rest, ok := strings.CutPrefix(master, "mesos://")
	if !ok {
		return nil, nil
	}
	var out []string
	for _, h := range strings.Split(rest, ",") {
		h = strings.TrimSuffix(strings.TrimSpace(h), "/")
		if h == "" || strings.ContainsAny(h, "/ ") {
			return nil, fmt.Errorf("%w: master %q: want mesos://host:port[,host:port...]", ErrConfig, master)
		}
		out = append(out, h)
	}
	return out, nil
}

var localMaster = regexp.MustCompile(`^local(\[(\*|[0-9]+)\])?$`)

// slots returns the number of concurrent tasks the master string allows.
func (c *Config) slots() (int, error) {
	m := c.Master
	if m == "" {
		m = "local[*]"
	}
	sub := localMaster.FindStringSubmatch(m)
	if sub == nil {
		return 0, fmt.Errorf("%w: master %q: want local, local[N], local[*] or mesos://host:port", ErrConfig, m)
	}
	switch sub[2] {
	case "":
		return 1, nil
	case "*":
		return runtime.NumCPU(), nil
	}
	n, err := strconv.Atoi(sub[2])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: master %q: bad slot count", ErrConfig, m)
	}
	return n, nil
}

func (c Config) withDefaults() Config {
	if c.TaskMaxFailures <= 0 {
		c.TaskMaxFailures = 4
	}
	if c.StageMaxConsecutiveAttempts <= 0 {
		c.StageMaxConsecutiveAttempts = 4
	}
	if c.LocalityWait == 0 {
		c.LocalityWait = 3 * time.Second
	}
	if c.TaskPrefetch == 0 {
		c.TaskPrefetch = 2
	}
	if c.ShuffleMemory <= 0 {
		c.ShuffleMemory = 64 << 20
	}
	if c.StorageMemory <= 0 {
		c.StorageMemory = 1 << 30
	}
	if c.AppName == "" {
		c.AppName = "rdd"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Set sets a setting by its Spark name, e.g. Set("spark.task.maxFailures",
// "8"). Sizes accept Spark's suffixes (k, m, g); a size beyond
// math.MaxInt64 bytes is an error.
func (c *Config) Set(key, value string) error {
	var err error
	switch key {
	case "spark.master":
		c.Master = value
	case "spark.app.name":
		c.AppName = value
	case "spark.default.parallelism":
		c.DefaultParallelism, err = strconv.Atoi(value)
	case "spark.task.maxFailures":
		c.TaskMaxFailures, err = strconv.Atoi(value)
	case "spark.stage.maxConsecutiveAttempts":
		c.StageMaxConsecutiveAttempts, err = strconv.Atoi(value)
	case "spark.local.dir":
		c.LocalDir = value
	case "spark.locality.wait":
		var d time.Duration
		if d, err = mesosbackend.ParseDuration(value, time.Millisecond); err == nil {
			c.LocalityWait = d
			if d == 0 {
				c.LocalityWait = -1 // no waiting, as Spark's 0
			}
		}
	case "spark.shuffle.memory":
		c.ShuffleMemory, err = parseBytes(value)
	case "spark.shuffle.spill":
		c.ShuffleSpill, err = strconv.ParseBool(value)
	case "spark.storage.memory":
		c.StorageMemory, err = parseBytes(value)
	case "spark.eventLog.dir":
		c.EventLogDir = value
	case keyTaskPrefetch:
		var n int
		switch n, err = strconv.Atoi(value); {
		case err == nil && n < 0:
			err = errors.New("want 0 or more")
		case err == nil && n == 0:
			c.TaskPrefetch = -1 // none
		case err == nil:
			c.TaskPrefetch = n
		}
	case "spark.rdd.checkPortable":
		c.CheckPortable, err = strconv.ParseBool(value)
	case "spark.ui.showConsoleProgress":
		c.ShowConsoleProgress, err = strconv.ParseBool(value)
	case "spark.ui.enabled":
		var on bool
		if on, err = strconv.ParseBool(value); err == nil {
			c.UIEnabled, c.UIDisabled = on, !on
		}
	case "spark.ui.port":
		c.UIPort, err = strconv.Atoi(value)
		if err == nil && (c.UIPort < 0 || c.UIPort > 65535) {
			err = errors.New("not a port")
		}
	default:
		if !isClusterKey(key) {
			return fmt.Errorf("%w: unknown setting %q", ErrConfig, key)
		}
		if c.Cluster == nil {
			c.Cluster = map[string]string{}
		}
		c.Cluster[key] = value
	}
	if err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrConfig, key, value, err)
	}
	return nil
}

func parseBytes(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || n < 0 {
		return 0, fmt.Errorf("bad size")
	}
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size out of range (at most %d bytes)", int64(math.MaxInt64))
	}
	return n * mult, nil
}
