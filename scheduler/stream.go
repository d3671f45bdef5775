package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/subscribe"
)

// streamIDHeader names the subscription in every later call.
const streamIDHeader = "Mesos-Stream-Id"

// errStreamEnded: the master closed the event stream.
var errStreamEnded = subscribe.ErrEnded

// session makes one subscription to target and reads its events until it
// breaks. It returns whether SUBSCRIBED arrived, and why it ended.
func (c *Client) session(ctx context.Context, target *url.URL) (up bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.tornDown {
		c.mu.Unlock()
		return false, nil
	}
	c.cancel = cancel
	fid := c.frameworkID
	c.mu.Unlock()
	defer c.endSession()

	s, err := c.subscribe(ctx, target, fid)
	if err != nil {
		return false, err
	}
	defer s.Close()
	return c.readStream(ctx, target, s)
}

// endSession forgets the stream: calls fail with ErrNotSubscribed until the
// next SUBSCRIBED.
func (c *Client) endSession() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streamID = ""
	c.streamHeader = nil
	c.cancel = nil
}

// subscribe sends SUBSCRIBE and returns the event stream of its 200.
func (c *Client) subscribe(ctx context.Context, target *url.URL, fid *mesospb.FrameworkID) (*subscribe.Stream, error) {
	info := proto.CloneOf(c.cfg.Framework)
	info.Id = fid
	call := &schedulerpb.Call{
		FrameworkId: fid,
		Type:        schedulerpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedulerpb.Call_Subscribe{
			FrameworkInfo:   info,
			SuppressedRoles: c.cfg.SuppressedRoles,
		},
	}
	body, err := c.codec.Marshal(call)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding SUBSCRIBE: %w", ErrConfig, err)
	}
	c.log.Debug("subscribing", "master", target.String(), "framework_id", fid.GetValue())
	s, err := c.conn.Open(ctx, target, body, nil)
	switch {
	case err == nil:
		return s, nil
	case errors.As(err, new(*subscribe.Redirect)):
		return nil, err
	case errors.As(err, new(*subscribe.StatusError)):
		return nil, httpError(err)
	}
	return nil, fmt.Errorf("scheduler: subscribe to %s: %w", target, err)
}

// readStream delivers the events of a subscription until it breaks, the
// heartbeat is lost, or ctx is done.
func (c *Client) readStream(ctx context.Context, target *url.URL, s *subscribe.Stream) (up bool, err error) {
	streamID := s.Header.Get(streamIDHeader)
	if streamID == "" {
		return false, fmt.Errorf("scheduler: SUBSCRIBE answer from %s lacks %s", target, streamIDHeader)
	}
	watch := func(silence time.Duration) {
		s.Watch(silence, func() error {
			return fmt.Errorf("%w: no event from %s for %v", ErrHeartbeatLost, target, silence)
		})
	}
	watch(c.silenceLimit(0))
	for {
		ev := &schedulerpb.Event{}
		if err := s.Next(ev); err != nil {
			if errors.Is(err, ErrHeartbeatLost) || ctx.Err() != nil {
				return up, err
			}
			return up, fmt.Errorf("scheduler: %w", err)
		}
		switch ev.GetType() {
		case schedulerpb.Event_SUBSCRIBED:
			watch(c.subscribed(target, streamID, ev.GetSubscribed()))
			up = true
		case schedulerpb.Event_ERROR:
			c.deliver(ctx, ev)
			return up, fmt.Errorf("%w: %s", ErrRejected, ev.GetError().GetMessage())
		}
		if !c.deliver(ctx, ev) {
			return up, ctx.Err()
		}
	}
}

// subscribed records a SUBSCRIBED event and returns the new silence limit.
func (c *Client) subscribed(target *url.URL, streamID string, s *schedulerpb.Event_Subscribed) time.Duration {
	c.mu.Lock()
	c.frameworkID = s.GetFrameworkId()
	c.streamID = streamID
	c.streamHeader = http.Header{streamIDHeader: {streamID}}
	c.endpoint = target
	c.mu.Unlock()
	secs := s.GetHeartbeatIntervalSeconds()
	c.log.Info("subscribed", "master", target.String(), "framework_id", s.GetFrameworkId().GetValue(),
		"heartbeat_interval_seconds", secs)
	return c.silenceLimit(secs)
}

// silenceLimit is how long the stream may stay silent, given the heartbeat
// interval in seconds (0 or less, or NaN: the Mesos default), saturating
// at the longest Duration.
func (c *Client) silenceLimit(heartbeatSecs float64) time.Duration {
	return subscribe.Silence(c.cfg.HeartbeatMisses, heartbeatSecs, defaultHeartbeat)
}

// deliver hands ev to the consumer; false when ctx ended first.
func (c *Client) deliver(ctx context.Context, ev *schedulerpb.Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// header is the per-request hook: Config.Header on every request.
func (c *Client) header(h http.Header) {
	for k, vs := range c.cfg.Header {
		h[k] = append([]string(nil), vs...)
	}
}
