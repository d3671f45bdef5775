package commandexec

import (
	"context"
	"log/slog"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/executor"
)

// sendQueue bounds the updates waiting to be sent; past it, queueing one
// waits, as a synchronous send did.
const sendQueue = 16

// sender sends the executor's status updates to the agent in the order
// they were made, from one goroutine, so the executor goes on (forks the
// task, reaps it) while an update's call is under way: TASK_STARTING's
// round trip overlaps the fork, TASK_RUNNING's the task's run.
type sender struct {
	client *executor.Client
	log    *slog.Logger
	q      chan *mesospb.TaskStatus
	done   chan struct{} // closed when every queued update was sent (or given up)
}

func newSender(ctx context.Context, client *executor.Client, log *slog.Logger) *sender {
	s := &sender{client: client, log: log, q: make(chan *mesospb.TaskStatus, sendQueue), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for st := range s.q {
			if err := s.client.Update(ctx, st); err != nil {
				s.log.Warn("sending status update", "state", st.GetState().String(), "err", err)
			}
		}
	}()
	return s
}

// send queues st; it has its uuid already.
func (s *sender) send(st *mesospb.TaskStatus) { s.q <- st }

// drain stops taking updates and waits until those queued were sent, at
// most wait (or until abort closes).
func (s *sender) drain(wait time.Duration, abort <-chan struct{}) {
	close(s.q)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		s.log.Warn("status updates not sent before the executor's end", "waited", wait)
	case <-abort:
	}
}
