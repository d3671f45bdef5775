package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
)

var (
	errStreamEnded     = errors.New("executor: event stream ended")
	errRecoveryTimeout = errors.New("executor: recovery timeout reached during a subscription attempt")
)

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
	b := backoff{min: c.cfg.BackoffMin, max: c.cfg.BackoffMax}
	rec := newRecovery(c.cfg.RecoveryTimeout, c.cfg.Checkpoint, time.Now())
	for {
		wasUp, err := c.session(ctx, &b, rec.deadline())
		if ctx.Err() != nil {
			return nil
		}
		if he, ok := errors.AsType[*HTTPError](err); ok && he.Status >= 400 && he.Status < 500 {
			c.log.Error("subscription refused", "err", err)
			return err
		}
		if wasUp {
			rec.subscribed()
		}
		wait, giveUp := rec.next(time.Now(), b.next())
		if giveUp != nil {
			if wait > 0 {
				c.log.Warn("no subscription; giving up when the recovery timeout ends", "err", err, "in", wait)
			}
			if !sleep(ctx, wait) {
				return nil
			}
			c.log.Error("giving up on the agent", "err", giveUp)
			return fmt.Errorf("%w: %w", giveUp, err)
		}
		c.log.Warn("subscription lost; retrying", "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// session makes one subscription and reads it until it breaks; wasUp tells
// whether SUBSCRIBED arrived. Until then the attempt is abandoned at
// deadline (the recovery timer), whatever it is waiting for: a connection,
// the answer, or the first event.
func (c *Client) session(ctx context.Context, b *backoff, deadline time.Time) (wasUp bool, err error) {
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
	resp, err := c.post(ctx, c.sub, call)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, readHTTPError(resp)
	}
	dec, err := codec.ForContentType(resp.Header.Get("Content-Type"))
	if err != nil {
		return false, fmt.Errorf("executor: event stream: %w", err)
	}
	rd := recordio.NewReader(resp.Body, c.cfg.MaxEventSize)
	for {
		ev := &executorpb.Event{}
		if err := rd.ReadMessage(dec, ev); err != nil {
			if errors.Is(err, io.EOF) {
				err = errStreamEnded
			}
			return wasUp, fmt.Errorf("executor: reading event stream: %w", err)
		}
		if ev.GetType() == executorpb.Event_SUBSCRIBED {
			if !wasUp && !timer.Stop() {
				return false, errRecoveryTimeout // the timer won the race
			}
			wasUp = true
			b.reset()
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

// backoff yields exponentially growing delays with jitter in [d/2, d].
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

func (b *backoff) reset() { b.cur = 0 }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
