package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// Update is what a Monitor reports for a task: a health result (Health) or
// a changed check status (Check).
type Update struct {
	TaskID string
	Health *Status
	Check  *mesospb.CheckStatusInfo
}

// TaskStatus builds the status update Mesos' executors send for u: a copy
// of the task's last status (state, message, data, labels and the other
// of healthy / check_status kept), without uuid and timestamp (the
// executor client sets fresh ones), with reason
// REASON_TASK_HEALTH_CHECK_STATUS_UPDATED and healthy set, or
// REASON_TASK_CHECK_STATUS_UPDATED and check_status set.
func (u Update) TaskStatus(last *mesospb.TaskStatus) *mesospb.TaskStatus {
	st := proto.CloneOf(last)
	st.Uuid, st.Timestamp = nil, nil
	if u.Health != nil {
		st.Reason = mesospb.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.Enum()
		st.Healthy = proto.Bool(u.Health.Healthy)
	}
	if u.Check != nil {
		st.Reason = mesospb.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED.Enum()
		st.CheckStatus = proto.CloneOf(u.Check)
	}
	return st
}

// Config configures a Monitor. Health and Check are optional (a Monitor
// with neither does nothing).
type Config struct {
	TaskID string
	Health *HealthSpec
	Check  *CheckSpec
	Prober *Prober
	Start  time.Time    // when the task started (default: now)
	Logger *slog.Logger // default: discard
}

// Monitor runs the probes of one task, one goroutine per check, and sends
// what is to be reported on the channel given to Start.
type Monitor struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// tracker is Health or Check as the monitor drives them.
type tracker interface {
	Due() time.Time
	probe() Probe
	observe(r Result, now time.Time) (Update, bool)
}

func (h *Health) probe() Probe { return h.spec.Probe }

func (h *Health) observe(r Result, now time.Time) (Update, bool) {
	st, ok := h.Observe(r, now)
	return Update{Health: &st}, ok
}

func (c *Check) probe() Probe { return c.spec.Probe }

func (c *Check) observe(r Result, now time.Time) (Update, bool) {
	st, ok := c.Observe(r, now)
	return Update{Check: st}, ok
}

// Start starts probing. Updates go to out until Stop; a send blocks until
// out is read or the monitor is stopped.
func Start(cfg Config, out chan<- Update) *Monitor {
	if cfg.Start.IsZero() {
		cfg.Start = time.Now()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Prober == nil {
		cfg.Prober = &Prober{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Monitor{cancel: cancel}
	var trackers []tracker
	if cfg.Health != nil {
		trackers = append(trackers, NewHealth(*cfg.Health, cfg.Start))
	}
	if cfg.Check != nil {
		trackers = append(trackers, NewCheck(*cfg.Check, cfg.Start))
	}
	for _, t := range trackers {
		m.wg.Go(func() { m.run(ctx, cfg, t, out) })
	}
	return m
}

// Stop stops probing and waits for a running probe to be abandoned (a
// COMMAND probe is killed). No update is sent after Stop returns.
func (m *Monitor) Stop() {
	m.cancel()
	m.wg.Wait()
}

func (m *Monitor) run(ctx context.Context, cfg Config, t tracker, out chan<- Update) {
	timer := time.NewTimer(time.Until(t.Due()))
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		r := cfg.Prober.Run(ctx, t.probe())
		if ctx.Err() != nil {
			return
		}
		u, ok := t.observe(r, time.Now())
		if r.Err != nil {
			cfg.Logger.Info("probe gave no result", "task_id", cfg.TaskID, "kind", t.probe().Kind.String(), "err", r.Err)
		}
		if ok {
			u.TaskID = cfg.TaskID
			select {
			case out <- u:
			case <-ctx.Done():
				return
			}
		}
		timer.Reset(time.Until(t.Due()))
	}
}
