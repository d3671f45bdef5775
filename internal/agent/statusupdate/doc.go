// Package statusupdate is the agent's status update manager: a pure,
// deterministic state machine that makes task status updates reach the
// master at least once, in order per task, until they are acknowledged.
//
// Every task has a stream: a FIFO of updates. The head of a stream is "in
// flight": it is forwarded to the master as soon as it reaches the head, and
// forwarded again after RetryMin if no acknowledgement came, the interval
// doubling on every retry up to RetryMax (Mesos: 10 s doubling to 10 min).
// An acknowledgement carrying the head's uuid pops it and forwards the next
// update at once. Updates are identified by their uuid: a uuid received
// twice is a duplicate and ignored (ErrDuplicate); an acknowledgement for
// anything but the head is ignored (it is stale or early) and reported as
// ErrUnexpectedAck.
// Once a terminal update has been received, the stream accepts no new
// updates (ErrStreamTerminated); once that terminal update is acknowledged,
// the stream is removed.
//
// While paused (the agent has no link to the master) nothing is forwarded;
// Resume forwards every head at once and restarts its backoff, as a Mesos
// agent does when it (re-)registers.
//
// The Manager has no clock and no goroutines: every input takes the current
// time, outputs are the updates to forward now, and NextDeadline tells the
// caller when to call Tick next. It is not safe for concurrent use; its owner
// serialises calls. uuids are chosen by the caller, never here.
package statusupdate
