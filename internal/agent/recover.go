package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/checkpoint"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/containerizer"
)

// Recover modes (--recover).
const (
	RecoverReconnect = "reconnect"
	RecoverCleanup   = "cleanup"
)

// ErrRecover wraps every failure to recover from the checkpoints at start.
var ErrRecover = errors.New("agent: recover")

// recovery is what New decided from the checkpoints, for start to carry
// out: the state to recover (nil when starting as a new agent), the
// containers to adopt, and the containers of an earlier run to kill.
type recovery struct {
	state *checkpoint.State
	adopt map[string]checkpoint.Container // by container id
	kill  []checkpoint.Container
}

// known lists the container ids to adopt, for the containerizers (cgroups
// and Docker containers to keep).
func (r *recovery) known() []string {
	var ids []string
	for id := range r.adopt {
		ids = append(ids, id)
	}
	return ids
}

// planRecovery reads the checkpoints and decides: recover (same boot,
// --recover=reconnect, an agent record) or start as a new agent. In the
// latter case every checkpoint is cleared; the containers of the earlier
// run are killed unless the machine rebooted (their pids mean nothing
// then).
func planRecovery(cfg Config, store *checkpoint.Store, bootID string) (*recovery, error) {
	st, err := store.Load(!cfg.NonStrict)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (start with --strict=false to skip corrupt checkpoints)", ErrRecover, err)
	}
	for _, e := range st.Skipped {
		cfg.Logger.Warn("skipping corrupt checkpoint", "err", e)
	}
	r := &recovery{adopt: map[string]checkpoint.Container{}}
	rebooted := st.Agent != nil && bootID != "" && st.Agent.BootID != "" && st.Agent.BootID != bootID
	switch {
	case st.Agent == nil:
		r.kill = st.Containers
	case rebooted:
		cfg.Logger.Info("the machine rebooted since the last run; starting as a new agent", "old_agent_id", st.Agent.AgentID)
	case cfg.Recover == RecoverCleanup:
		cfg.Logger.Info("--recover=cleanup: killing the executors of the last run; starting as a new agent",
			"old_agent_id", st.Agent.AgentID, "containers", len(st.Containers))
		r.kill = st.Containers
	default:
		r.state = &st
		checkpointed := map[string]bool{}
		for _, ex := range st.Executors {
			checkpointed[ex.ContainerID] = ex.State != lifecycle.ExecutorTerminated
		}
		for _, c := range st.Containers {
			if checkpointed[c.Handle.ContainerID] {
				r.adopt[c.Handle.ContainerID] = c
			} else {
				r.kill = append(r.kill, c) // a framework that does not checkpoint
			}
		}
	}
	if r.state == nil {
		if err := store.Clear(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRecover, err)
		}
	}
	return r, nil
}

// killEarlier kills containers of an earlier run that are not recovered:
// those of frameworks that do not checkpoint, or all of them with
// --recover=cleanup. Each gets the executor shutdown grace period after
// SIGTERM (executors kill their tasks then: a task leads its own process
// group, which killing the executor's group would miss). Docker ones were
// removed when the Docker containerizer started (they were not among the
// known ones).
func (a *Agent) killEarlier(list []checkpoint.Container) {
	adopter, ok := a.cz.(containerizer.Adopter)
	if !ok {
		return
	}
	grace := a.cfg.ExecutorShutdownGracePeriod
	if grace <= 0 {
		grace = lifecycle.DefaultShutdownGracePeriod
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace+time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range list {
		if c.Handle.Kind == containerizer.NameDocker {
			continue
		}
		if err := adopter.Adopt(ctx, c.Handle); err != nil {
			continue // gone already
		}
		a.log.Info("killing executor of an earlier run", "framework", c.FrameworkID, "executor", c.ExecutorID,
			"container", c.Handle.ContainerID, "pid", c.Handle.Pid)
		wg.Go(func() {
			if err := a.cz.Destroy(ctx, c.Handle.ContainerID, grace); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
				a.log.Warn("cannot kill executor of an earlier run", "container", c.Handle.ContainerID, "err", err)
			}
		})
	}
	wg.Wait()
}

// recoverLocked rebuilds the core from the checkpoints and re-attaches to
// the executors still alive; the others are reported as exited. Called by
// start, before anything else runs.
func (a *Agent) recoverLocked(now time.Time) error {
	r := a.recovery
	a.recovery = nil
	a.killEarlier(r.kill)
	for _, c := range r.kill {
		_ = a.store.RemoveContainer(c.FrameworkID, c.ExecutorID, c.Handle.ContainerID)
	}
	if r.state == nil {
		return nil
	}
	st := r.state
	effs, err := a.core.Recover(st.Recovered(), a.cfg.RecoveryTimeout, now)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRecover, err)
	}
	a.savedAgentID = st.Agent.AgentID
	a.log.Info("recovering", "agent_id", st.Agent.AgentID, "frameworks", len(st.Frameworks), "executors", len(st.Executors))
	adopter, _ := a.cz.(containerizer.Adopter)
	ctx, cancel := context.WithTimeout(a.runCtx, time.Minute)
	defer cancel()
	for _, ex := range st.Executors {
		if ex.State == lifecycle.ExecutorTerminated || a.core.ContainerID(ex.FrameworkID, ex.ExecutorID) != ex.ContainerID {
			continue
		}
		c, ok := r.adopt[ex.ContainerID]
		err := errors.New("no container was checkpointed")
		if ok && adopter != nil {
			err = adopter.Adopt(ctx, c.Handle)
		}
		if err != nil {
			a.log.Info("executor of the last run is gone", "framework", ex.FrameworkID, "executor", ex.ExecutorID,
				"container", ex.ContainerID, "err", err)
			_ = a.store.RemoveContainer(ex.FrameworkID, ex.ExecutorID, ex.ContainerID)
			more, _ := a.core.ExecutorExited(ex.FrameworkID, ex.ExecutorID, ex.ContainerID, lifecycle.Termination{
				Status: -1, Message: "Executor was gone when the agent restarted",
			}, now)
			effs = append(effs, more...)
			continue
		}
		a.log.Info("re-attached to executor", "framework", ex.FrameworkID, "executor", ex.ExecutorID,
			"container", ex.ContainerID, "pid", c.Handle.Pid)
		virtual := "/frameworks/" + ex.FrameworkID + "/executors/" + ex.ExecutorID + "/runs/latest"
		if err := a.files.Attach(virtual, c.Handle.Sandbox); err != nil {
			a.log.Warn("cannot attach sandbox to the files API", "sandbox", c.Handle.Sandbox, "err", err)
		}
		ci := ex.Info.GetContainer()
		dockerTask := ex.Command && ci != nil && ci.GetType() == mesospb.ContainerInfo_DOCKER
		a.containers[ex.ContainerID] = &containerRun{frameworkID: ex.FrameworkID, executorID: ex.ExecutorID,
			sandbox: c.Handle.Sandbox, dockerTask: dockerTask}
		runCtx, fid, eid, cid := a.runCtx, ex.FrameworkID, ex.ExecutorID, ex.ContainerID
		a.tasks.Go(func() { a.waitContainer(runCtx, fid, eid, cid, dockerTask) })
	}
	a.dispatchLocked(effs)
	return nil
}

// checkpointsLocked collects what the core asks to checkpoint after an
// input, and the agent's own record when its id changed, as a batch to
// commit before the input's effects are carried out (commit.go); nil when
// there is nothing to write. A change that cannot be encoded is logged:
// the agent goes on, and a restart may then lose it.
func (a *Agent) checkpointsLocked() *checkpoint.Batch {
	var b *checkpoint.Batch
	batch := func() *checkpoint.Batch {
		if b == nil {
			b = a.store.NewBatch()
		}
		return b
	}
	if id := a.core.AgentID(); id != a.savedAgentID {
		if a.savedAgentID != "" {
			batch().Clear() // the checkpoints of the old agent id
		}
		if id != "" {
			if err := batch().WriteAgent(checkpoint.Agent{AgentID: id, BootID: a.bootID}); err != nil {
				a.log.Error("cannot checkpoint the agent id", "err", err)
			}
		}
		a.savedAgentID = id
	}
	for _, e := range a.core.Checkpoints() {
		var err error
		switch e := e.(type) {
		case lifecycle.CheckpointFramework:
			err = batch().WriteFramework(e.Info)
		case lifecycle.CheckpointExecutor:
			err = batch().WriteExecutor(e.Executor)
		case lifecycle.RemoveCheckpoint:
			err = batch().Remove(e.FrameworkID, e.ExecutorID, e.ContainerID)
		}
		if err != nil {
			a.log.Error("checkpoint failed", "err", err)
		}
	}
	return b
}

// saveHandle checkpoints how to find a launched container again. It needs
// no lock: the store serialises its changes to the tree, and only the
// container's runContainer writes its handle.
func (a *Agent) saveHandle(frameworkID, executorID, containerID string) {
	adopter, ok := a.cz.(containerizer.Adopter)
	if !ok {
		return
	}
	h, err := adopter.Handle(containerID)
	if err == nil {
		err = a.store.WriteContainer(frameworkID, executorID, h)
	}
	if err != nil && !errors.Is(err, containerizer.ErrUnsupported) {
		a.log.Warn("cannot checkpoint the executor's container; it will not be recovered after a restart",
			"container", containerID, "err", err)
	}
}
