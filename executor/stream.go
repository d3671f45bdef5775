package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/subscribe"
)

var errRecoveryTimeout = errors.New("executor: recovery timeout reached during a subscription attempt")

// Run subscribes and keeps the subscription according to the package
// documentation's rules. It may be called once.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(c.events)
	if c.cfgErr != nil {
		return c.cfgErr
	}
	rec := newRecovery(c.cfg.RecoveryTimeout, c.cfg.Checkpoint, time.Now())
	loop := subscribe.Loop{
		Policy: &subscribe.Policy{
			Route:   subscribe.NewRoute([]*url.URL{c.endpoint}, 0),
			Backoff: subscribe.Backoff{Min: c.cfg.BackoffMin, Max: c.cfg.BackoffMax},
		},
		Session: func(ctx context.Context, target *url.URL) (bool, error) {
			return c.session(ctx, target, rec.deadline())
		},
		End: func(_ bool, err error) (bool, error) {
			if he, ok := errors.AsType[*HTTPError](err); ok && he.Status >= 400 && he.Status < 500 {
				c.log.Error("subscription refused", "err", err)
				return true, err
			}
			return false, nil
		},
		// The recovery timer bounds the retries.
		Gate: func(now time.Time, up bool, wait time.Duration) (time.Duration, error) {
			if up {
				rec.subscribed()
			}
			return rec.next(now, wait)
		},
		Log: c.log,
	}
	return loop.Run(ctx)
}

// session makes one subscription at target and reads it until it breaks;
// wasUp tells whether SUBSCRIBED arrived. Until then the attempt is
// abandoned at deadline (the recovery timer), whatever it is waiting for: a
// connection, the answer, or the first event.
func (c *Client) session(ctx context.Context, target *url.URL, deadline time.Time) (wasUp bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(time.Until(deadline), func() { cancel(errRecoveryTimeout) })
	defer timer.Stop()
	defer func() {
		if cause := context.Cause(ctx); err != nil && errors.Is(cause, errRecoveryTimeout) && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	}()
	c.mu.Lock()
	c.gen++
	gen := c.gen
	tasks, updates := c.unackedLocked()
	for _, p := range c.updates {
		p.gen = gen
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.subscribed = false
		c.mu.Unlock()
	}()

	call := &executorpb.Call{
		Type:      executorpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &executorpb.Call_Subscribe{UnacknowledgedTasks: tasks, UnacknowledgedUpdates: updates},
	}
	c.fillIDs(call)
	body, err := c.codec.Marshal(call)
	if err != nil {
		return false, fmt.Errorf("%w: encoding SUBSCRIBE: %w", ErrBadCall, err)
	}
	s, err := c.conn.Open(ctx, target, body, nil)
	if err != nil {
		return false, c.callError(executorpb.Call_SUBSCRIBE, err)
	}
	defer s.Close()
	for {
		ev := &executorpb.Event{}
		if err := s.Next(ev); err != nil {
			if ctx.Err() != nil {
				return wasUp, err
			}
			return wasUp, fmt.Errorf("executor: %w", err)
		}
		if ev.GetType() == executorpb.Event_SUBSCRIBED {
			if !wasUp && !timer.Stop() {
				return false, errRecoveryTimeout // the timer won the race
			}
			wasUp = true
			c.onSubscribed(ctx, gen, ev.GetSubscribed())
		} else {
			c.track(ev)
		}
		select {
		case c.events <- ev:
		case <-ctx.Done():
			return wasUp, ctx.Err()
		}
	}
}

// onSubscribed marks the client subscribed and sends the updates made after
// the SUBSCRIBE left (they were not in it).
func (c *Client) onSubscribed(ctx context.Context, gen int, s *executorpb.Event_Subscribed) {
	c.mu.Lock()
	c.subscribed = true
	c.info = s
	var late []*executorpb.Call_Update
	for _, p := range c.updates {
		if p.gen != gen {
			p.gen = gen
			late = append(late, p.update)
		}
	}
	c.mu.Unlock()
	c.log.Info("subscribed", "agent", c.endpoint.Host, "agent_id", s.GetAgentInfo().GetId().GetValue())
	for _, u := range late {
		call := &executorpb.Call{Type: executorpb.Call_UPDATE.Enum(), Update: u}
		if err := c.send(ctx, call); err != nil {
			c.log.Warn("sending update made while disconnected", "task_id", u.GetStatus().GetTaskId().GetValue(), "err", err)
		}
	}
}

// track keeps the unacknowledged tasks and updates current.
func (c *Client) track(ev *executorpb.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.GetType() {
	case executorpb.Event_LAUNCH:
		c.addTaskLocked(ev.GetLaunch().GetTask())
	case executorpb.Event_LAUNCH_GROUP:
		for _, t := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
			c.addTaskLocked(t)
		}
	case executorpb.Event_ACKNOWLEDGED:
		ack := ev.GetAcknowledged()
		id := ack.GetTaskId().GetValue()
		if _, ok := c.tasks[id]; ok {
			delete(c.tasks, id)
			c.taskOrder = slices.DeleteFunc(c.taskOrder, func(s string) bool { return s == id })
		}
		for i, p := range c.updates {
			if bytes.Equal(p.update.GetStatus().GetUuid(), ack.GetUuid()) {
				c.updates = append(c.updates[:i], c.updates[i+1:]...)
				break
			}
		}
	}
}

func (c *Client) addTaskLocked(t *mesospb.TaskInfo) {
	id := t.GetTaskId().GetValue()
	if _, ok := c.tasks[id]; !ok {
		c.taskOrder = append(c.taskOrder, id)
	}
	c.tasks[id] = t
}
