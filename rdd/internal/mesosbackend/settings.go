package mesosbackend

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrSetting is wrapped by every error about a setting's value; the error
// names the setting.
var ErrSetting = errors.New("mesosbackend: invalid setting")

// Setting names, as Spark spells them.
const (
	KeyCoresMax                  = "spark.cores.max"
	KeyExecutorCores             = "spark.executor.cores"
	KeyExecutorMemory            = "spark.executor.memory"
	KeyMemoryOverhead            = "spark.mesos.executor.memoryOverhead"
	KeyExtraCores                = "spark.mesos.extra.cores"
	KeyConstraints               = "spark.mesos.constraints"
	KeyRole                      = "spark.mesos.role"
	KeyPrincipal                 = "spark.mesos.principal"
	KeySecret                    = "spark.mesos.secret"
	KeyRejectOfferDuration       = "spark.mesos.rejectOfferDuration"
	KeyRejectUnmetConstraints    = "spark.mesos.rejectOfferDurationForUnmetConstraints"
	KeyRejectReachedMaxCores     = "spark.mesos.rejectOfferDurationForReachedMaxCores"
	KeyFailoverTimeout           = "spark.mesos.driver.failoverTimeout"
	KeyFrameworkID               = "spark.mesos.driver.frameworkId"
	KeyWebUIURL                  = "spark.mesos.driver.webui.url"
	KeyTaskLabels                = "spark.mesos.task.labels"
	KeyDriverLabels              = "spark.mesos.driver.labels"
	KeyCheckpoint                = "spark.mesos.checkpoint"
	KeyFetcherCache              = "spark.mesos.fetcherCache.enable"
	KeyURIs                      = "spark.mesos.uris"
	KeyExecutorURI               = "spark.executor.uri"
	KeyDockerImage               = "spark.mesos.executor.docker.image"
	KeyDockerVolumes             = "spark.mesos.executor.docker.volumes"
	KeyDockerPortMaps            = "spark.mesos.executor.docker.portmaps"
	KeyDockerForcePull           = "spark.mesos.executor.docker.forcePullImage"
	KeyContainerizer             = "spark.mesos.containerizer"
	KeyExecutorHome              = "spark.mesos.executor.home"
	KeyShortageInterval          = "spark.mesos.shortageReportInterval"
	KeyShutdownTimeout           = "spark.mesos.coarse.shutdownTimeout"
	KeyConnectTimeout            = "spark.mesos.connectTimeout"
	KeyDynamicAllocation         = "spark.dynamicAllocation.enabled"
	KeyInitialExecutors          = "spark.dynamicAllocation.initialExecutors"
	KeyMinExecutors              = "spark.dynamicAllocation.minExecutors"
	defaultExecutorMemoryMiB     = 1024
	minMemoryOverheadMiB         = 384
	defaultRejectOfferDuration   = 120 * time.Second
	defaultShutdownTimeout       = 10 * time.Second
	defaultConnectTimeout        = 30 * time.Second
	maxCount                     = 1 << 20 // cores, executors: far above any cluster
	maxMemoryMiB                 = 1 << 30 // 1 PiB
	maxDuration                  = 365 * 24 * time.Hour
	containerizerDocker          = "docker"
	containerizerMesos           = "mesos"
	defaultRole                  = "*"
	overheadFractionDenominator  = 10 // overhead default: 10% of executor memory
	maxLabelOrConstraintTextSize = 64 << 10
)

// Settings are the coarse-grained backend's Spark settings, resolved: every
// field holds the value to use (defaults filled in). Make them with
// ParseSettings (DefaultSettings for no settings at all); the zero value is
// not meaningful.
type Settings struct {
	// CoresMax is spark.cores.max: the cpus all executors together may
	// hold; 0 when unset (everything offered).
	CoresMax int
	// ExecutorCores is spark.executor.cores: cpus per executor; 0 when
	// unset, which in Spark's coarse mode means each executor takes all
	// the (whole) cpus of its offer, up to what CoresMax leaves.
	ExecutorCores int
	// ExecutorMemoryMiB is spark.executor.memory (default 1g), and
	// MemoryOverheadMiB spark.mesos.executor.memoryOverhead (default
	// max(384 MiB, 10% of the executor memory)). An executor task asks for
	// their sum.
	ExecutorMemoryMiB int
	MemoryOverheadMiB int
	// ExtraCores is spark.mesos.extra.cores: task slots an executor
	// advertises beyond its cpus (not asked from Mesos).
	ExtraCores int
	// Constraints is spark.mesos.constraints.
	Constraints Constraints
	// Role, Principal and Secret: spark.mesos.role (default "*"),
	// spark.mesos.principal, spark.mesos.secret.
	Role      string
	Principal string
	Secret    string
	// RejectOfferDuration (spark.mesos.rejectOfferDuration, 120 s) and its
	// two variants, which default to it: the filter sent with offers
	// declined for unmet constraints and for reached spark.cores.max.
	RejectOfferDuration    time.Duration
	RejectUnmetConstraints time.Duration
	RejectReachedMaxCores  time.Duration
	// FailoverTimeout is spark.mesos.driver.failoverTimeout (seconds,
	// default 0).
	FailoverTimeout time.Duration
	// FrameworkID is spark.mesos.driver.frameworkId: the id to subscribe
	// with, so that a relaunched driver (the dispatcher sets it) fails
	// over to its previous framework within its failover timeout.
	FrameworkID string
	// WebUIURL is spark.mesos.driver.webui.url.
	WebUIURL string
	// TaskLabels (spark.mesos.task.labels, on every executor task) and
	// DriverLabels (spark.mesos.driver.labels, on the framework):
	// "k:v,k2:v2", a backslash escapes ':' and ','.
	TaskLabels   []Label
	DriverLabels []Label
	// Checkpoint is spark.mesos.checkpoint: agents checkpoint the
	// executors, so they survive an agent restart.
	Checkpoint bool
	// FetcherCache is spark.mesos.fetcherCache.enable: URIs are marked
	// cacheable.
	FetcherCache bool
	// ExecutorURI (spark.executor.uri) and URIs (spark.mesos.uris, comma
	// separated) are fetched into every executor's sandbox.
	ExecutorURI string
	URIs        []string
	// Docker image settings: spark.mesos.executor.docker.image, .volumes
	// ("[host:]container[:ro|:rw]", comma separated), .portmaps
	// ("host:container[:proto]"), .forcePullImage, and
	// spark.mesos.containerizer ("docker", the default, or "mesos").
	DockerImage     string
	DockerVolumes   []Volume
	DockerPortMaps  []PortMap
	DockerForcePull bool
	Containerizer   string
	// ExecutorHome is spark.mesos.executor.home: the directory holding the
	// program in the executors' image (the driver uses it with a Docker
	// image and no spark.executor.uri; empty: the driver's own directory).
	ExecutorHome string
	// ShutdownTimeout is spark.mesos.coarse.shutdownTimeout (10 s): how
	// long Stop waits for executors' terminal updates.
	ShutdownTimeout time.Duration
	// ConnectTimeout (spark.mesos.connectTimeout, 30 s; not a Spark
	// setting) bounds how long Start waits for SUBSCRIBED.
	ConnectTimeout time.Duration
	// ShortageInterval (spark.mesos.shortageReportInterval, 30 s; meso's
	// own) is how long offers must have been too small for an executor
	// before the backend says which resource is short, and how often.
	ShortageInterval time.Duration
	// InitialTarget is the executor count wanted at start: Unlimited, or
	// with spark.dynamicAllocation.enabled the larger of
	// spark.dynamicAllocation.initialExecutors and .minExecutors (default
	// 0), as Spark starts dynamic allocation.
	InitialTarget int
}

// Label is one task label.
type Label struct{ Key, Value string }

// Volume is one Docker volume: HostPath may be empty; ReadOnly is mode RO.
type Volume struct {
	HostPath, ContainerPath string
	ReadOnly                bool
}

// PortMap is one Docker port mapping; Protocol is "tcp" unless given.
type PortMap struct {
	HostPort, ContainerPort uint32
	Protocol                string
}

// MemoryMiB is what one executor task asks for: executor memory plus
// overhead.
func (s Settings) MemoryMiB() int { return s.ExecutorMemoryMiB + s.MemoryOverheadMiB }

// DefaultSettings are the settings when none is given.
func DefaultSettings() Settings {
	s, err := ParseSettings(nil)
	if err != nil {
		panic(err) // defaults always parse
	}
	return s
}

// ParseSettings reads the settings this package knows from conf (keys as
// Spark names them); other keys are ignored. A value out of range or
// malformed is an error wrapping ErrSetting and naming the key.
func ParseSettings(conf map[string]string) (Settings, error) {
	p := parser{conf: conf}
	s := Settings{
		CoresMax:          p.count(KeyCoresMax, 1),
		ExecutorCores:     p.count(KeyExecutorCores, 1),
		ExecutorMemoryMiB: p.mebibytes(KeyExecutorMemory, defaultExecutorMemoryMiB, 1),
		ExtraCores:        p.count(KeyExtraCores, 0),
		Role:              p.text(KeyRole, defaultRole),
		Principal:         p.text(KeyPrincipal, ""),
		Secret:            p.text(KeySecret, ""),
		WebUIURL:          p.text(KeyWebUIURL, ""),
		FetcherCache:      p.boolean(KeyFetcherCache),
		Checkpoint:        p.boolean(KeyCheckpoint),
		ExecutorURI:       p.text(KeyExecutorURI, ""),
		DockerImage:       p.text(KeyDockerImage, ""),
		DockerForcePull:   p.boolean(KeyDockerForcePull),
		Containerizer:     p.text(KeyContainerizer, containerizerDocker),
		ExecutorHome:      p.text(KeyExecutorHome, ""),
		FailoverTimeout:   p.seconds(KeyFailoverTimeout),
		FrameworkID:       p.text(KeyFrameworkID, ""),
	}
	s.MemoryOverheadMiB = p.mebibytes(KeyMemoryOverhead,
		max(minMemoryOverheadMiB, s.ExecutorMemoryMiB/overheadFractionDenominator), 0)
	s.RejectOfferDuration = p.duration(KeyRejectOfferDuration, time.Second, defaultRejectOfferDuration)
	s.RejectUnmetConstraints = p.duration(KeyRejectUnmetConstraints, time.Second, s.RejectOfferDuration)
	s.RejectReachedMaxCores = p.duration(KeyRejectReachedMaxCores, time.Second, s.RejectOfferDuration)
	s.ShutdownTimeout = p.duration(KeyShutdownTimeout, time.Millisecond, defaultShutdownTimeout)
	s.ConnectTimeout = p.duration(KeyConnectTimeout, time.Millisecond, defaultConnectTimeout)
	s.ShortageInterval = p.duration(KeyShortageInterval, time.Second, DefaultShortageInterval)
	if s.ConnectTimeout == 0 && p.err == nil {
		p.fail(KeyConnectTimeout, conf[KeyConnectTimeout], "must be positive")
	}
	if v, ok := conf[KeyConstraints]; ok && p.err == nil {
		cs, err := ParseConstraints(v)
		if err != nil {
			p.err = fmt.Errorf("%w: %s=%q: %w", ErrSetting, KeyConstraints, v, err)
		}
		s.Constraints = cs
	}
	if p.err == nil {
		s.TaskLabels = p.labels(KeyTaskLabels)
		s.DriverLabels = p.labels(KeyDriverLabels)
		s.URIs = p.list(KeyURIs)
		s.DockerVolumes = p.volumes(KeyDockerVolumes)
		s.DockerPortMaps = p.portMaps(KeyDockerPortMaps)
	}
	if p.err == nil && s.Containerizer != containerizerDocker && s.Containerizer != containerizerMesos {
		p.fail(KeyContainerizer, s.Containerizer, `must be "docker" or "mesos"`)
	}
	s.InitialTarget = Unlimited
	if p.boolean(KeyDynamicAllocation) {
		s.InitialTarget = max(p.count(KeyInitialExecutors, 0), p.count(KeyMinExecutors, 0))
	}
	if p.err == nil && s.CoresMax > 0 && s.ExecutorCores > s.CoresMax {
		p.fail(KeyExecutorCores, conf[KeyExecutorCores],
			fmt.Sprintf("is more than %s=%d: no executor could ever start", KeyCoresMax, s.CoresMax))
	}
	if p.err != nil {
		return Settings{}, p.err
	}
	return s, nil
}

// parser reads values and keeps the first error.
type parser struct {
	conf map[string]string
	err  error
}

func (p *parser) fail(key, val, msg string) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s=%q: %s", ErrSetting, key, val, msg)
	}
}

func (p *parser) get(key string) (string, bool) {
	v, ok := p.conf[key]
	if !ok || p.err != nil {
		return "", false
	}
	return strings.TrimSpace(v), true
}

// count reads a whole number in [lo, maxCount]; 0 when unset.
func (p *parser) count(key string, lo int) int {
	v, ok := p.get(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > maxCount {
		p.fail(key, v, fmt.Sprintf("want a whole number from %d to %d", lo, maxCount))
		return 0
	}
	return n
}

func (p *parser) text(key, def string) string {
	v, ok := p.get(key)
	if !ok || v == "" {
		return def
	}
	return v
}

func (p *parser) boolean(key string) bool {
	v, ok := p.get(key)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, v, "want true or false")
	}
	return b
}

// seconds reads a (fractional) number of seconds, as
// spark.mesos.driver.failoverTimeout is given.
func (p *parser) seconds(key string) time.Duration {
	v, ok := p.get(key)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > maxDuration.Seconds() || math.IsNaN(f) {
		p.fail(key, v, "want a number of seconds, 0 or more")
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// mebibytes reads a size in Spark's forms (see ParseSize) with MiB as the
// unit of a plain number, in [lo, maxMemoryMiB] MiB.
func (p *parser) mebibytes(key string, def, lo int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	b, err := ParseSize(v, 1<<20)
	if err == nil && b%(1<<20) != 0 {
		err = errors.New("not a whole number of MiB")
	}
	mib := b >> 20
	if err == nil && (mib < int64(lo) || mib > maxMemoryMiB) {
		err = fmt.Errorf("want %d MiB to %d MiB", lo, maxMemoryMiB)
	}
	if err != nil {
		p.fail(key, v, err.Error())
		return 0
	}
	return int(mib)
}

// duration reads a time in Spark's forms (see ParseDuration); unit is what
// a plain number counts.
func (p *parser) duration(key string, unit, def time.Duration) time.Duration {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	d, err := ParseDuration(v, unit)
	if err != nil {
		p.fail(key, v, err.Error())
	}
	return d
}

// list splits a comma-separated value, dropping empty items.
func (p *parser) list(key string) []string {
	v, ok := p.get(key)
	if !ok {
		return nil
	}
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (p *parser) labels(key string) []Label {
	v, ok := p.get(key)
	if !ok {
		return nil
	}
	ls, err := ParseLabels(v)
	if err != nil {
		p.fail(key, v, err.Error())
	}
	return ls
}

func (p *parser) volumes(key string) []Volume {
	var out []Volume
	for _, spec := range p.list(key) {
		parts := strings.Split(spec, ":")
		vol := Volume{}
		mode := ""
		switch len(parts) {
		case 1:
			vol.ContainerPath = parts[0]
		case 2:
			if parts[1] == "ro" || parts[1] == "rw" {
				vol.ContainerPath, mode = parts[0], parts[1]
			} else {
				vol.HostPath, vol.ContainerPath = parts[0], parts[1]
			}
		case 3:
			vol.HostPath, vol.ContainerPath, mode = parts[0], parts[1], parts[2]
		}
		if len(parts) > 3 || vol.ContainerPath == "" || (mode != "" && mode != "ro" && mode != "rw") ||
			(len(parts) == 3 && vol.HostPath == "") {
			p.fail(key, spec, "want [host_path:]container_path[:ro|:rw]")
			return nil
		}
		vol.ReadOnly = mode == "ro"
		out = append(out, vol)
	}
	return out
}

func (p *parser) portMaps(key string) []PortMap {
	var out []PortMap
	for _, spec := range p.list(key) {
		parts := strings.Split(spec, ":")
		if len(parts) < 2 || len(parts) > 3 {
			p.fail(key, spec, "want host_port:container_port[:tcp|:udp]")
			return nil
		}
		host, err1 := strconv.ParseUint(parts[0], 10, 16)
		cont, err2 := strconv.ParseUint(parts[1], 10, 16)
		pm := PortMap{HostPort: uint32(host), ContainerPort: uint32(cont), Protocol: "tcp"}
		if len(parts) == 3 {
			pm.Protocol = parts[2]
		}
		if err1 != nil || err2 != nil || (pm.Protocol != "tcp" && pm.Protocol != "udp") {
			p.fail(key, spec, "want host_port:container_port[:tcp|:udp] with ports up to 65535")
			return nil
		}
		out = append(out, pm)
	}
	return out
}

// ParseSize reads a byte size as Spark does: a whole number with an
// optional binary unit suffix b, k/kb, m/mb, g/gb, t/tb, p/pb (any case; 1k
// = 1024 bytes). A plain number counts plainUnit bytes (Spark reads
// spark.executor.memory's plain numbers as MiB). Fractions are refused, as
// Spark refuses them.
func ParseSize(s string, plainUnit int64) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits, suffix := s[:i], s[i:]
	if digits == "" {
		return 0, errors.New("want a whole number with an optional unit (b, k, m, g, t, p)")
	}
	unit := plainUnit
	switch suffix {
	case "":
	case "b":
		unit = 1
	case "k", "kb":
		unit = 1 << 10
	case "m", "mb":
		unit = 1 << 20
	case "g", "gb":
		unit = 1 << 30
	case "t", "tb":
		unit = 1 << 40
	case "p", "pb":
		unit = 1 << 50
	default:
		return 0, fmt.Errorf("unknown size unit %q (want b, k, m, g, t or p)", suffix)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, errors.New("size too large")
	}
	return n * unit, nil
}

// ParseDuration reads a time as Spark does: a whole number with an optional
// suffix us, ms, s, m/min, h, d. A plain number counts plainUnit (seconds for
// the offer filters, milliseconds for spark.mesos.coarse.shutdownTimeout).
// Negative values and values over a year are refused.
func ParseDuration(s string, plainUnit time.Duration) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits, suffix := s[:i], strings.TrimSpace(s[i:])
	if digits == "" {
		return 0, errors.New("want a whole number with an optional unit (ms, s, min, h, d)")
	}
	unit := plainUnit
	switch suffix {
	case "":
	case "us":
		unit = time.Microsecond
	case "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m", "min":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("unknown time unit %q (want us, ms, s, min, h or d)", suffix)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > int64(maxDuration/unit) {
		return 0, errors.New("more than a year")
	}
	return time.Duration(n) * unit, nil
}

// ParseLabels reads "k:v,k2:v2"; a backslash escapes the next character
// (so keys and values may hold ':' and ','). A label without ':' has an
// empty value.
func ParseLabels(s string) ([]Label, error) {
	if len(s) > maxLabelOrConstraintTextSize {
		return nil, errors.New("too long")
	}
	var out []Label
	var cur strings.Builder
	var key string
	inValue := false
	flush := func() error {
		text := cur.String()
		cur.Reset()
		if !inValue {
			key, text = text, ""
		}
		inValue = false
		if strings.TrimSpace(key) == "" && text == "" {
			return nil // empty item, as in "a:b,"
		}
		if key == "" {
			return errors.New("a label needs a key")
		}
		out = append(out, Label{Key: key, Value: text})
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ':' && !inValue:
			key = cur.String()
			cur.Reset()
			inValue = true
		case c == ',':
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}
