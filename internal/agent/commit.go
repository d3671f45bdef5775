package agent

import (
	"context"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
)

// Group commit of checkpoints. An input's checkpoints must be durable
// before any of its effects is carried out (nothing is acknowledged to an
// executor or sent to the master before it is on disk), but the agent's
// lock must not wait for fsyncs: with a checkpointing framework every
// command task costs about six writes (docs/BENCHMARKS.md). So, while
// Serve runs, an input whose checkpoints are not empty does not carry out
// its effects at once: its changes join the commit batch and its effects
// wait in the commit queue, behind every input queued before it (an input
// with nothing to write queues too while the queue is not empty: effects
// keep the core's order). The commit loop takes the whole queue, commits
// its batch outside the lock (one group of writes and fsyncs; a write
// that a later input replaces is skipped), then, under the lock, carries
// out the queued effects in order. Before Serve (recovery) and after it,
// checkpoints are written at once under the lock.

// pendingInput is one queued input's effects. streams holds, for each
// SendExecutor effect, the executor stream that was current when the
// input was applied (the event belongs to that subscription).
type pendingInput struct {
	effs    []lifecycle.Effect
	streams []*eventStream
	done    chan struct{} // closed once the effects are carried out
}

// testHookCommit, when set (tests), is called by the commit loop before
// it commits a batch, outside the agent's lock.
var testHookCommit func()

// dispatchLocked checkpoints what the core asks and carries out effs, now
// or, while a commit is pending, after it (see above). It returns a
// channel closed once effs are carried out, nil when they already are.
func (a *Agent) dispatchLocked(effs []lifecycle.Effect) <-chan struct{} {
	b := a.checkpointsLocked()
	if !a.committer {
		if b != nil {
			if err := b.Commit(); err != nil {
				a.log.Error("checkpoint failed", "err", err)
			}
		}
		a.carryOutLocked(effs, nil)
		return nil
	}
	if b == nil && len(a.commitQueue) == 0 && !a.committing {
		a.carryOutLocked(effs, nil)
		return nil
	}
	if b != nil {
		if a.commitBatch == nil {
			a.commitBatch = a.store.NewBatch()
		}
		a.commitBatch.Append(b)
	}
	return a.queueLocked(effs, nil)
}

// queueLocked adds effects to the commit queue; streams, when nil, are
// the current ones.
func (a *Agent) queueLocked(effs []lifecycle.Effect, streams []*eventStream) <-chan struct{} {
	if streams == nil {
		streams = make([]*eventStream, len(effs))
		for i, e := range effs {
			if e, ok := e.(lifecycle.SendExecutor); ok {
				streams[i] = a.streams[execKey{e.FrameworkID, e.ExecutorID}]
			}
		}
	}
	p := pendingInput{effs: effs, streams: streams, done: make(chan struct{})}
	a.commitQueue = append(a.commitQueue, p)
	select {
	case a.commitWake <- struct{}{}:
	default:
	}
	return p.done
}

// carryOutLocked carries out effects in order; streams are as in
// pendingInput (nil: the current ones).
func (a *Agent) carryOutLocked(effs []lifecycle.Effect, streams []*eventStream) {
	for i, e := range effs {
		switch e := e.(type) {
		case lifecycle.LaunchExecutor:
			a.launchLocked(e)
		case lifecycle.SendExecutor:
			key := execKey{e.FrameworkID, e.ExecutorID}
			st := a.streams[key]
			if streams != nil {
				st = streams[i]
			}
			a.sendExecutorLocked(key, st, e)
		case lifecycle.SendMaster:
			a.enqueueLocked(e.Call)
		case lifecycle.DestroyContainer:
			a.destroyLocked(e.ContainerID)
		}
	}
}

// sendExecutorLocked queues an event on the executor stream st it was
// meant for. A stream that closed and was cleaned up while the event
// waited for a commit did not take it: the event is handed to the core
// as unsent on it (kills and messages wait for the next subscription),
// or, when the executor has subscribed again meanwhile, queued for the
// new stream behind that subscription's own effects.
func (a *Agent) sendExecutorLocked(key execKey, st *eventStream, e lifecycle.SendExecutor) {
	switch cur := a.streams[key]; {
	case st == nil:
		a.log.Info("dropping event for disconnected executor", "framework", e.FrameworkID,
			"executor", e.ExecutorID, "event", e.Event.GetType().String())
	case !st.closed || cur == st:
		st.push(e.Event)
	case cur != nil:
		a.queueLocked([]lifecycle.Effect{e}, []*eventStream{cur})
	default:
		a.core.ExecutorDisconnected(e.FrameworkID, e.ExecutorID, []*executorpb.Event{e.Event}...)
	}
}

// commitLoop commits the queued inputs' checkpoints and carries out their
// effects until ctx is done, then what is still queued, and leaves the
// agent writing checkpoints at once.
func (a *Agent) commitLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for {
				a.mu.Lock()
				if len(a.commitQueue) == 0 {
					a.committer = false
					a.mu.Unlock()
					return
				}
				a.mu.Unlock()
				a.commitRound()
			}
		case <-a.commitWake:
			a.commitRound()
		}
	}
}

// commitRound commits the batch of the inputs queued so far and carries
// out their effects.
func (a *Agent) commitRound() {
	a.mu.Lock()
	queue, b := a.commitQueue, a.commitBatch
	a.commitQueue, a.commitBatch = nil, nil
	if len(queue) == 0 {
		a.mu.Unlock()
		return
	}
	a.committing = true
	a.inFlight = queue
	a.mu.Unlock()
	if testHookCommit != nil {
		testHookCommit()
	}
	if b != nil {
		if err := b.Commit(); err != nil {
			a.log.Error("checkpoint failed", "err", err)
		}
	}
	a.mu.Lock()
	for _, p := range a.inFlight {
		a.carryOutLocked(p.effs, p.streams)
		close(p.done)
	}
	a.inFlight = nil
	a.committing = false
	if len(a.commitQueue) > 0 {
		select {
		case a.commitWake <- struct{}{}:
		default:
		}
	}
	a.mu.Unlock()
}

// forgetQueuedLocked drops, from the effects waiting for a commit (queued
// or in flight), those meant for the agent's old identity when the master
// gave it a new one: calls for the master, events for executors and
// launches. Destroying containers stays.
func (a *Agent) forgetQueuedLocked() {
	for _, list := range [][]pendingInput{a.inFlight, a.commitQueue} {
		for i := range list {
			p := &list[i]
			var effs []lifecycle.Effect
			var streams []*eventStream
			for j, e := range p.effs {
				if _, ok := e.(lifecycle.DestroyContainer); ok {
					effs, streams = append(effs, e), append(streams, p.streams[j])
				}
			}
			p.effs, p.streams = effs, streams
		}
	}
}
