package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/subscribe"
)

// ErrBadCall: the call cannot be sent as given (SUBSCRIBE through Call, a
// status to acknowledge without an agent id, and so on).
var ErrBadCall = errors.New("scheduler: bad call")

// Call sends one call to the subscribed master on its own request, with the
// Mesos-Stream-Id of the current subscription. It sets call.framework_id
// when unset. A 2xx answer is success; any other status gives an *HTTPError;
// a 307 is followed. SUBSCRIBE is Run's job and is refused here.
func (c *Client) Call(ctx context.Context, call *schedulerpb.Call) error {
	if call.GetType() == schedulerpb.Call_SUBSCRIBE {
		return fmt.Errorf("%w: SUBSCRIBE is sent by Run", ErrBadCall)
	}
	c.mu.Lock()
	streamID, hdr, target, fid := c.streamID, c.streamHeader, c.endpoint, c.frameworkID
	c.mu.Unlock()
	if streamID == "" {
		return ErrNotSubscribed
	}
	if call.FrameworkId == nil {
		call.FrameworkId = fid
	}
	body, err := c.codec.Marshal(call)
	if err != nil {
		return fmt.Errorf("%w: encoding %s: %w", ErrBadCall, call.GetType(), err)
	}
	return c.post(ctx, target, hdr, body, call.GetType())
}

// post sends body with the stream's header, following up to maxRedirects
// 307s.
func (c *Client) post(ctx context.Context, target *url.URL, hdr http.Header, body []byte, typ schedulerpb.Call_Type) error {
	err := c.conn.Send(ctx, target, body, hdr)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*subscribe.StatusError](err); ok {
		return httpError(err)
	}
	return fmt.Errorf("scheduler: %s call: %w", typ, err)
}

// Teardown ends the framework: the master kills its tasks and forgets it.
// After a successful Teardown, Run returns nil.
func (c *Client) Teardown(ctx context.Context) error {
	c.mu.Lock()
	c.tearingDown = true
	c.mu.Unlock()
	err := c.Call(ctx, &schedulerpb.Call{Type: schedulerpb.Call_TEARDOWN.Enum()})
	if err != nil {
		c.mu.Lock()
		c.tearingDown = false
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	c.tornDown = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.stopOnce.Do(func() { close(c.stopped) })
	return nil
}

// Accept accepts offers with operations (an empty list declines them).
// filters may be nil.
func (c *Client) Accept(ctx context.Context, offerIDs []*mesospb.OfferID, ops []*mesospb.Offer_Operation, filters *mesospb.Filters) error {
	return c.Call(ctx, &schedulerpb.Call{
		Type:   schedulerpb.Call_ACCEPT.Enum(),
		Accept: &schedulerpb.Call_Accept{OfferIds: offerIDs, Operations: ops, Filters: filters},
	})
}

// Launch accepts one offer with a LAUNCH of tasks. Tasks without an agent_id
// get the offer's.
func (c *Client) Launch(ctx context.Context, offer *mesospb.Offer, tasks ...*mesospb.TaskInfo) error {
	for _, t := range tasks {
		if t.AgentId == nil {
			t.AgentId = offer.GetAgentId()
		}
	}
	op := &mesospb.Offer_Operation{
		Type:   mesospb.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesospb.Offer_Operation_Launch{TaskInfos: tasks},
	}
	return c.Accept(ctx, []*mesospb.OfferID{offer.GetId()}, []*mesospb.Offer_Operation{op}, nil)
}

// Decline declines offers; filters (may be nil: Mesos' 5 s) say for how long
// their resources stay away from this framework.
func (c *Client) Decline(ctx context.Context, offerIDs []*mesospb.OfferID, filters *mesospb.Filters) error {
	return c.Call(ctx, &schedulerpb.Call{
		Type:    schedulerpb.Call_DECLINE.Enum(),
		Decline: &schedulerpb.Call_Decline{OfferIds: offerIDs, Filters: filters},
	})
}

// Revive clears the framework's filters and resumes offers for roles (all
// its roles when none are given).
func (c *Client) Revive(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &schedulerpb.Call{
		Type:   schedulerpb.Call_REVIVE.Enum(),
		Revive: &schedulerpb.Call_Revive{Roles: roles},
	})
}

// Suppress stops offers for roles (all the framework's roles when none are
// given) until Revive.
func (c *Client) Suppress(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &schedulerpb.Call{
		Type:     schedulerpb.Call_SUPPRESS.Enum(),
		Suppress: &schedulerpb.Call_Suppress{Roles: roles},
	})
}

// Kill asks for a task to be killed. agentID may be nil when unknown.
func (c *Client) Kill(ctx context.Context, taskID *mesospb.TaskID, agentID *mesospb.AgentID) error {
	return c.Call(ctx, &schedulerpb.Call{
		Type: schedulerpb.Call_KILL.Enum(),
		Kill: &schedulerpb.Call_Kill{TaskId: taskID, AgentId: agentID},
	})
}

// Acknowledge acknowledges a status update. Updates without a uuid (such as
// answers to reconciliation) need no acknowledgement: it returns nil for
// them without sending anything.
func (c *Client) Acknowledge(ctx context.Context, status *mesospb.TaskStatus) error {
	if len(status.GetUuid()) == 0 {
		return nil
	}
	if status.GetAgentId() == nil {
		return fmt.Errorf("%w: status of task %q has a uuid but no agent_id", ErrBadCall, status.GetTaskId().GetValue())
	}
	return c.Call(ctx, &schedulerpb.Call{
		Type: schedulerpb.Call_ACKNOWLEDGE.Enum(),
		Acknowledge: &schedulerpb.Call_Acknowledge{
			AgentId: status.GetAgentId(),
			TaskId:  status.GetTaskId(),
			Uuid:    status.GetUuid(),
		},
	})
}

// Reconcile asks for the latest state of tasks; with none it is an implicit
// reconciliation of all the framework's tasks.
func (c *Client) Reconcile(ctx context.Context, tasks ...*schedulerpb.Call_Reconcile_Task) error {
	return c.Call(ctx, &schedulerpb.Call{
		Type:      schedulerpb.Call_RECONCILE.Enum(),
		Reconcile: &schedulerpb.Call_Reconcile{Tasks: tasks},
	})
}

// Message sends data to one of the framework's executors.
func (c *Client) Message(ctx context.Context, agentID *mesospb.AgentID, executorID *mesospb.ExecutorID, data []byte) error {
	if data == nil {
		data = []byte{} // required: present even when empty
	}
	return c.Call(ctx, &schedulerpb.Call{
		Type:    schedulerpb.Call_MESSAGE.Enum(),
		Message: &schedulerpb.Call_Message{AgentId: agentID, ExecutorId: executorID, Data: data},
	})
}

// Shutdown asks an agent to shut one of the framework's executors down.
func (c *Client) Shutdown(ctx context.Context, executorID *mesospb.ExecutorID, agentID *mesospb.AgentID) error {
	return c.Call(ctx, &schedulerpb.Call{
		Type:     schedulerpb.Call_SHUTDOWN.Enum(),
		Shutdown: &schedulerpb.Call_Shutdown{ExecutorId: executorID, AgentId: agentID},
	})
}
