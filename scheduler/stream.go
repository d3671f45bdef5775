package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// streamIDHeader names the subscription in every later call.
const streamIDHeader = "Mesos-Stream-Id"

// errStreamEnded: the master closed the event stream.
var errStreamEnded = errors.New("scheduler: event stream ended")

// redirectError is a 307 from a master that is not the leader.
type redirectError struct{ to *url.URL }

func (e *redirectError) Error() string { return "scheduler: redirected to " + e.to.String() }

// session makes one subscription to target and reads its events until it
// breaks. It returns why it ended.
func (c *Client) session(ctx context.Context, target *url.URL, b *backoff) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.tornDown {
		c.mu.Unlock()
		return nil
	}
	c.cancel = cancel
	fid := c.frameworkID
	c.mu.Unlock()
	defer c.endSession()

	resp, err := c.subscribe(ctx, target, fid)
	if err != nil {
		return err
	}
	return c.readStream(ctx, cancel, target, resp, b)
}

// endSession forgets the stream: calls fail with ErrNotSubscribed until the
// next SUBSCRIBED.
func (c *Client) endSession() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streamID = ""
	c.cancel = nil
}

// subscribe sends SUBSCRIBE and returns the 200 response whose body is the
// event stream.
func (c *Client) subscribe(ctx context.Context, target *url.URL, fid *mesospb.FrameworkID) (*http.Response, error) {
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
	req, err := c.newRequest(ctx, target, body, "")
	if err != nil {
		return nil, err
	}
	c.log.Debug("subscribing", "master", target.String(), "framework_id", fid.GetValue())
	resp, err := c.sub.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scheduler: subscribe to %s: %w", target, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTemporaryRedirect {
		return nil, redirect(target, resp)
	}
	return nil, readHTTPError(resp)
}

// newRequest builds a POST of body to target with the protocol's headers.
func (c *Client) newRequest(ctx context.Context, target *url.URL, body []byte, streamID string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	for k, vs := range c.cfg.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", c.codec.MediaType())
	req.Header.Set("Accept", c.codec.MediaType())
	if streamID != "" {
		req.Header.Set(streamIDHeader, streamID)
	}
	return req, nil
}

// redirect turns a 307 into a redirectError, or into an HTTPError when the
// Location header is unusable.
func redirect(from *url.URL, resp *http.Response) error {
	loc := resp.Header.Get("Location")
	to, err := resolveLocation(from, loc)
	if err != nil {
		return &HTTPError{Status: resp.StatusCode, Body: fmt.Sprintf("bad Location %q: %v", loc, err)}
	}
	return &redirectError{to: to}
}

// maxErrorBody bounds how much of an error response is kept.
const maxErrorBody = 4 << 10

// readHTTPError reads (a bounded prefix of) the body into an HTTPError.
func readHTTPError(resp *http.Response) *HTTPError {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &HTTPError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
}

// record is one decoded event, or the error that ended the stream.
type record struct {
	ev  *schedulerpb.Event
	err error
}

// readStream delivers the events of a subscription until it breaks, the
// heartbeat is lost, or ctx is done.
func (c *Client) readStream(ctx context.Context, cancel context.CancelFunc, target *url.URL, resp *http.Response, b *backoff) error {
	recs := make(chan record)
	done := make(chan struct{})
	defer func() {
		cancel()
		resp.Body.Close()
		<-done
	}()
	streamID := resp.Header.Get(streamIDHeader)
	if streamID == "" {
		close(done)
		return fmt.Errorf("scheduler: SUBSCRIBE answer from %s lacks %s", target, streamIDHeader)
	}
	dec, err := codec.ForContentType(resp.Header.Get("Content-Type"))
	if err != nil {
		close(done)
		return fmt.Errorf("scheduler: event stream from %s: %w", target, err)
	}
	go func() {
		defer close(done)
		readEvents(ctx, recordio.NewReader(resp.Body, c.cfg.MaxEventSize), dec, recs)
	}()

	silence := c.silenceLimit(0)
	timer := time.NewTimer(silence)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("%w: no event from %s for %v", ErrHeartbeatLost, target, silence)
		case r := <-recs:
			if r.err != nil {
				return r.err
			}
			ev := r.ev
			switch ev.GetType() {
			case schedulerpb.Event_SUBSCRIBED:
				silence = c.subscribed(target, streamID, ev.GetSubscribed())
				b.reset()
			case schedulerpb.Event_ERROR:
				c.deliver(ctx, ev)
				return fmt.Errorf("%w: %s", ErrRejected, ev.GetError().GetMessage())
			}
			if !c.deliver(ctx, ev) {
				return ctx.Err()
			}
			timer.Reset(silence)
		}
	}
}

// readEvents decodes records into recs until the body fails or ctx is done.
// A record that does not decode ends the stream (Mesos' own client does the
// same): the next subscription starts clean.
func readEvents(ctx context.Context, rd *recordio.Reader, dec codec.Codec, recs chan<- record) {
	for {
		var r record
		data, err := rd.ReadRecord()
		switch {
		case errors.Is(err, io.EOF):
			r.err = errStreamEnded
		case err != nil:
			r.err = fmt.Errorf("scheduler: reading event stream: %w", err)
		default:
			r.ev = &schedulerpb.Event{}
			if err := dec.Unmarshal(data, r.ev); err != nil {
				r = record{err: fmt.Errorf("scheduler: decoding event: %w", err)}
			}
		}
		select {
		case recs <- r:
		case <-ctx.Done():
			return
		}
		if r.err != nil {
			return
		}
	}
}

// subscribed records a SUBSCRIBED event and returns the new silence limit.
func (c *Client) subscribed(target *url.URL, streamID string, s *schedulerpb.Event_Subscribed) time.Duration {
	c.mu.Lock()
	c.frameworkID = s.GetFrameworkId()
	c.streamID = streamID
	c.endpoint = target
	c.mu.Unlock()
	secs := s.GetHeartbeatIntervalSeconds()
	c.log.Info("subscribed", "master", target.String(), "framework_id", s.GetFrameworkId().GetValue(),
		"heartbeat_interval_seconds", secs)
	return c.silenceLimit(secs)
}

// silenceLimit is how long the stream may stay silent, given the heartbeat
// interval in seconds (0 or less, or NaN: the Mesos default). It saturates
// at the longest Duration: an interval so large would otherwise wrap to a
// negative limit, and the heartbeat would count as lost at once.
func (c *Client) silenceLimit(heartbeatSecs float64) time.Duration {
	if !(heartbeatSecs > 0) {
		heartbeatSecs = defaultHeartbeat.Seconds()
	}
	limit := float64(c.cfg.HeartbeatMisses) * heartbeatSecs * float64(time.Second)
	if limit >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(limit)
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
