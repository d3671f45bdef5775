package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/authn"
	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/internal/resources"
	"github.com/mesoproject/meso/rdd"
	"github.com/mesoproject/meso/scheduler"
)

// Config configures a Service.
type Config struct {
	Master    string // the Mesos master(s) drivers run on, host:port[,host:port]
	WorkDir   string // holds dispatcher.json, the persisted state
	Name      string // framework name (default "meso dispatcher")
	Role      string // default "*"
	Principal string // FrameworkInfo.principal, and who the dispatcher authenticates to the master as
	Secret    string // the principal's secret (HTTP Basic on the scheduler API)
	// Credentials, when set, are the principals allowed to submit, query
	// and kill drivers and to see the web UI (HTTP Basic; others get 401).
	Credentials     *authn.Credentials
	FailoverTimeout time.Duration // default one week: drivers outlive a dispatcher restart
	MaxRetryWait    time.Duration // spark.mesos.cluster.retry.wait.max (60 s)
	// URL is the dispatcher's address as the agents reach it, where their
	// fetcher gets uploaded programs (http://host:port).
	URL       string
	MaxUpload int64 // the largest uploaded program (DefaultMaxUpload)
	// MaxDrivers and RetainedDrivers are spark.mesos.maxDrivers (queued
	// drivers at most) and spark.mesos.retainedDrivers (ended drivers
	// kept); <= 0: Spark's defaults, 200 each.
	MaxDrivers, RetainedDrivers int
	Scheduler                   scheduler.Config
	Logger                      *slog.Logger
}

// Service is a running dispatcher: the core under a lock, persisted after
// every change, driven by the framework loop (Run) and the submission API
// (Handler).
type Service struct {
	cfg    Config
	log    *slog.Logger
	path   string
	bounds *httpbound.Bounds

	mu     sync.Mutex
	core   *Core
	fwID   string
	agents map[string]string // task id -> agent id, for kills
	wake   chan struct{}     // something wants offers again
	leader string            // the master the framework is subscribed to (http://host:port)
	user   string            // who the dispatcher runs as: its framework's user

	uploads chan struct{} // bounds the uploads read at once
	keyOnce sync.Once
	key     []byte
	keyErr  error
}

// state is the persisted file.
type state struct {
	FrameworkID string   `json:"framework_id,omitempty"`
	Core        Snapshot `json:"core"`
}

func (cfg Config) limits() Limits {
	return Limits{MaxRetryWait: cfg.MaxRetryWait, MaxQueued: cfg.MaxDrivers, Retained: cfg.RetainedDrivers}
}

// NewService loads the persisted state of cfg.WorkDir, if any.
func NewService(cfg Config) (*Service, error) {
	if cfg.Master == "" {
		return nil, errors.New("dispatcher: a Mesos master is required")
	}
	if cfg.WorkDir == "" {
		return nil, errors.New("dispatcher: a work dir is required")
	}
	if cfg.Name == "" {
		cfg.Name = "meso dispatcher"
	}
	if cfg.Role == "" {
		cfg.Role = "*"
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = 7 * 24 * time.Hour
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, err
	}
	bounds, err := httpbound.New(httpbound.Config{})
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, path: filepath.Join(cfg.WorkDir, "dispatcher.json"), bounds: bounds,
		core: New(cfg.limits()), agents: map[string]string{}, wake: make(chan struct{}, 1), uploads: make(chan struct{}, maxUploads)}
	if u, err := user.Current(); err == nil {
		s.user = u.Username
	}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		var st state
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("dispatcher: %s: %w", s.path, err)
		}
		s.fwID, s.core = st.FrameworkID, Restore(st.Core, cfg.limits())
		for _, d := range s.core.Drivers() {
			if d.State == Running {
				s.agents[d.TaskID] = d.AgentID
			}
		}
	}
	return s, nil
}

// saveLocked writes the state: temp file, fsync, rename.
func (s *Service) saveLocked() error {
	data, err := json.MarshalIndent(state{FrameworkID: s.fwID, Core: s.core.Snapshot()}, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

// Submit queues a driver, persisted before the id is answered.
func (s *Service) Submit(d Description) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkUploadsLocked(d); err != nil {
		return "", err
	}
	id, err := s.core.Submit(d, time.Now())
	if err != nil {
		return "", err
	}
	if err := s.saveLocked(); err != nil {
		return "", fmt.Errorf("dispatcher: persisting the submission: %w", err)
	}
	s.poke()
	return id, nil
}

// Status returns a driver's record.
func (s *Service) Status(id string) (Driver, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core.Driver(id)
}

// Kill ends a driver: at once if it has not started, else by killing its
// task. The request is persisted first; the task's kill is sent now if the
// framework is subscribed, and again on every resubscription and every
// killRetry until the task's terminal update arrives.
func (s *Service) Kill(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	task, err := s.core.Kill(id, time.Now())
	if err == nil {
		err = s.saveLocked()
	}
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	if task == "" {
		return "Killed the driver before it ran", nil
	}
	s.poke()
	return "Killing the running driver", nil
}

// killRetry is how often kills of running drivers are sent again until
// their task ends.
const killRetry = 5 * time.Second

// sendKills sends a kill for every running driver the user asked to kill.
func (s *Service) sendKills(ctx context.Context, c *scheduler.Client) {
	s.mu.Lock()
	var tasks, agents []string
	for _, d := range s.core.Drivers() {
		if d.State == Running && d.Killing {
			tasks, agents = append(tasks, d.TaskID), append(agents, s.agents[d.TaskID])
		}
	}
	s.mu.Unlock()
	for i, task := range tasks {
		var agent *mesospb.AgentID
		if agents[i] != "" {
			agent = &mesospb.AgentID{Value: proto.String(agents[i])}
		}
		if err := c.Kill(ctx, &mesospb.TaskID{Value: proto.String(task)}, agent); err != nil {
			s.log.Warn("kill", "task", task, "err", err)
		}
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run is the framework: it subscribes (failing over to its persisted id),
// reconciles running drivers, launches drivers on offers and follows their
// updates until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.user == "" {
		return errors.New("dispatcher: the current user is unknown")
	}
	fi := &mesospb.FrameworkInfo{
		User: proto.String(s.user), Name: proto.String(s.cfg.Name),
		Roles:           []string{s.cfg.Role},
		Checkpoint:      proto.Bool(true),
		FailoverTimeout: proto.Float64(s.cfg.FailoverTimeout.Seconds()),
		Capabilities:    []*mesospb.FrameworkInfo_Capability{{Type: mesospb.FrameworkInfo_Capability_MULTI_ROLE.Enum()}},
	}
	if s.cfg.Principal != "" {
		fi.Principal = proto.String(s.cfg.Principal)
	}
	s.mu.Lock()
	if s.fwID != "" {
		fi.Id = &mesospb.FrameworkID{Value: proto.String(s.fwID)}
	}
	s.mu.Unlock()
	sc := s.cfg.Scheduler
	sc.Master, sc.Framework = s.cfg.Master, fi
	if sc.Logger == nil {
		sc.Logger = s.log
	}
	if s.cfg.Principal != "" && s.cfg.Secret != "" {
		sc.Header = sc.Header.Clone()
		if sc.Header == nil {
			sc.Header = http.Header{}
		}
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(s.cfg.Principal, s.cfg.Secret)
		sc.Header.Set("Authorization", r.Header.Get("Authorization"))
	}
	c := scheduler.New(sc)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	kills := time.NewTicker(killRetry)
	defer kills.Stop()
	s.SweepBinaries(time.Now())
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	for {
		s.mu.Lock()
		next := s.core.NextWake()
		s.mu.Unlock()
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-s.wake:
			s.revive(ctx, c)
			s.sendKills(ctx, c)
		case <-kills.C:
			s.sendKills(ctx, c)
		case now := <-sweep.C:
			s.SweepBinaries(now)
		case <-timer.C:
			s.revive(ctx, c)
		case ev, ok := <-c.Events():
			if !ok {
				return <-errc
			}
			if err := s.event(ctx, c, ev); err != nil {
				return err
			}
		}
	}
}

func (s *Service) revive(ctx context.Context, c *scheduler.Client) {
	s.mu.Lock()
	wanted := s.core.Wanted(time.Now())
	s.mu.Unlock()
	if wanted {
		if err := c.Revive(ctx); err != nil {
			s.log.Warn("revive", "err", err)
		}
	}
}

func (s *Service) event(ctx context.Context, c *scheduler.Client, ev *schedulerpb.Event) error {
	switch ev.GetType() {
	case schedulerpb.Event_SUBSCRIBED:
		s.mu.Lock()
		s.fwID = ev.GetSubscribed().GetFrameworkId().GetValue()
		s.leader = c.Leader()
		err := s.saveLocked()
		var tasks []*schedulerpb.Call_Reconcile_Task
		for _, id := range s.core.Running() {
			t := &schedulerpb.Call_Reconcile_Task{TaskId: &mesospb.TaskID{Value: proto.String(id)}}
			if a := s.agents[id]; a != "" {
				t.AgentId = &mesospb.AgentID{Value: proto.String(a)}
			}
			tasks = append(tasks, t)
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		s.log.Info("subscribed", "framework_id", s.fwID, "reconciling", len(tasks))
		if len(tasks) > 0 {
			if err := c.Reconcile(ctx, tasks...); err != nil {
				s.log.Warn("reconcile", "err", err)
			}
		}
		s.revive(ctx, c)
		s.sendKills(ctx, c)
	case schedulerpb.Event_OFFERS:
		s.offers(ctx, c, ev.GetOffers().GetOffers())
	case schedulerpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		if !mesospb.IsTerminal(st.GetState()) {
			s.mu.Lock()
			s.core.TaskUpdate(st.GetTaskId().GetValue(), st.GetState().String())
			s.mu.Unlock()
		} else {
			msg := st.GetState().String()
			if st.GetMessage() != "" {
				msg += ": " + st.GetMessage()
			}
			end := EndFailed
			switch st.GetState() {
			case mesospb.TaskState_TASK_FINISHED:
				end = EndFinished
			case mesospb.TaskState_TASK_KILLED:
				end = EndKilled
			case mesospb.TaskState_TASK_ERROR:
				end = EndError
			}
			s.mu.Lock()
			s.core.TaskEnded(st.GetTaskId().GetValue(), end, msg, time.Now())
			delete(s.agents, st.GetTaskId().GetValue())
			err := s.saveLocked()
			var retry string
			for _, d := range s.core.Drivers() {
				if d.State == Retrying && d.TaskID == st.GetTaskId().GetValue() {
					retry = d.ID
				}
			}
			s.mu.Unlock()
			if err != nil {
				return err
			}
			if retry != "" {
				go s.findFramework(ctx, c.Leader(), retry)
			}
			s.log.Info("driver task ended", "task", st.GetTaskId().GetValue(), "state", msg)
		}
		// Acknowledged only once the end is persisted: a crash before
		// that gets the update again.
		if len(st.GetUuid()) > 0 {
			if err := c.Acknowledge(ctx, st); err != nil {
				s.log.Warn("acknowledge", "err", err)
			}
		}
	}
	return nil
}

func (s *Service) offers(ctx context.Context, c *scheduler.Client, offers []*mesospb.Offer) {
	byID := map[string]*mesospb.Offer{}
	in := make([]Offer, 0, len(offers))
	for _, o := range offers {
		res, err := resources.FromProto(o.GetResources())
		if err != nil {
			continue
		}
		byID[o.GetId().GetValue()] = o
		in = append(in, Offer{ID: o.GetId().GetValue(), AgentID: o.GetAgentId().GetValue(), Resources: res.AllocatableTo(s.cfg.Role),
			Attributes: resources.AttributesFromProto(o.GetAttributes())})
	}
	s.mu.Lock()
	launches := s.core.Offers(in, time.Now())
	for _, l := range launches {
		s.agents[l.TaskID] = l.AgentID
	}
	err := s.saveLocked()
	wanted := s.core.Wanted(time.Now())
	s.mu.Unlock()
	if err != nil {
		s.log.Error("persisting launches", "err", err)
		return // the offers time out; nothing launched unrecorded
	}
	tasks := map[string][]*mesospb.TaskInfo{}
	for _, l := range launches {
		t, err := s.taskInfo(l)
		if err != nil {
			s.log.Error("driver task", "driver", l.DriverID, "err", err)
			s.mu.Lock()
			s.core.TaskEnded(l.TaskID, EndError, "TASK_ERROR: "+err.Error(), time.Now())
			_ = s.saveLocked()
			s.mu.Unlock()
			continue // its offer is declined
		}
		tasks[l.OfferID] = append(tasks[l.OfferID], t)
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var decline []*mesospb.OfferID
	for _, id := range ids {
		o := byID[id]
		if ts := tasks[id]; len(ts) > 0 {
			if err := c.Launch(ctx, o, ts...); err != nil {
				s.log.Warn("launch", "err", err)
			}
			continue
		}
		decline = append(decline, o.GetId())
	}
	if len(decline) > 0 {
		if err := c.Decline(ctx, decline, &mesospb.Filters{RefuseSeconds: proto.Float64(5)}); err != nil {
			s.log.Warn("decline", "err", err)
		}
	}
	if !wanted {
		if err := c.Suppress(ctx); err != nil {
			s.log.Warn("suppress", "err", err)
		}
	}
}

// taskInfo is a driver attempt as a command task: the program fetched from
// its URIs (an uploaded one from the dispatcher itself) and run by the
// shell, or, in a Docker image (which need not have a shell), run as
// value and arguments.
func (s *Service) taskInfo(l Launch) (*mesospb.TaskInfo, error) {
	cmd := &mesospb.CommandInfo{Value: proto.String(l.Desc.Command)}
	for _, u := range l.Desc.URIs {
		fu, err := s.fetchURI(u)
		if err != nil {
			return nil, err
		}
		cmd.Uris = append(cmd.Uris, &mesospb.CommandInfo_URI{Value: proto.String(fu), Executable: proto.Bool(true)})
	}
	vars := map[string]string{}
	for k, v := range l.Desc.Env {
		vars[k] = v
	}
	vars[EnvSubmissionID] = l.DriverID
	if vars["USER"] == "" && s.user != "" {
		vars["USER"] = s.user // the task's user; an image may know no user at all
	}
	delete(vars, EnvFrameworkID)
	if l.FrameworkID != "" {
		vars[EnvFrameworkID] = l.FrameworkID
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := &mesospb.Environment{}
	for _, k := range keys {
		env.Variables = append(env.Variables, &mesospb.Environment_Variable{Name: proto.String(k), Value: proto.String(vars[k])})
	}
	cmd.Environment = env
	var container *mesospb.ContainerInfo
	if len(l.Desc.Container) > 0 {
		var err error
		if container, err = rdd.DockerContainer(l.Desc.Container); err != nil {
			return nil, err
		}
	}
	if container != nil {
		argv := l.Desc.argv(l.DriverID, l.FrameworkID)
		cmd.Shell = proto.Bool(false)
		cmd.Value = proto.String(argv[0])
		// Docker runs value followed by the arguments; the Mesos
		// containerizer execs value with the arguments as argv.
		if container.GetType() == mesospb.ContainerInfo_DOCKER {
			argv = argv[1:]
		}
		cmd.Arguments = argv
	}
	name := l.Desc.Name
	if name == "" {
		name = l.DriverID
	}
	return &mesospb.TaskInfo{
		Name:      proto.String("Driver for " + strings.TrimSpace(name)),
		TaskId:    &mesospb.TaskID{Value: proto.String(l.TaskID)},
		AgentId:   &mesospb.AgentID{Value: proto.String(l.AgentID)},
		Resources: l.Desc.Resources.ToProto(s.cfg.Role, true),
		Command:   cmd,
		Container: container,
	}, nil
}
