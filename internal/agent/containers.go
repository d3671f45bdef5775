package agent

import (
	"context"
	"errors"
	"fmt"
	"github.com/mesoproject/meso/internal/cpuprofile"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/containerizer"
	"github.com/mesoproject/meso/internal/launcher"
	"github.com/mesoproject/meso/internal/mesosflag"
)

// Sandbox layout (Mesos'):
//
//	<work_dir>/slaves/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/<container_id>
//
// with a `latest` symlink beside the runs naming the newest run.

// SandboxRoot is the directory holding every sandbox of the agent (what
// the files API serves).
func (a *Agent) SandboxRoot() string { return filepath.Join(a.cfg.WorkDir, "slaves") }

// executorDir is the directory of an executor's runs.
func (a *Agent) executorDir(agentID, frameworkID, executorID string) string {
	return filepath.Join(a.SandboxRoot(), agentID, "frameworks", frameworkID, "executors", executorID)
}

// Sandbox returns the sandbox of one run of an executor.
func (a *Agent) Sandbox(agentID, frameworkID, executorID, containerID string) string {
	return filepath.Join(a.executorDir(agentID, frameworkID, executorID), "runs", containerID)
}

// createSandbox makes the run directory and points `latest` at it.
func createSandbox(executorDir, containerID string) (string, error) {
	dir := filepath.Join(executorDir, "runs", containerID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	latest := filepath.Join(executorDir, "runs", "latest")
	tmp := latest + "." + containerID + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(containerID, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, latest); err != nil {
		return "", err
	}
	return dir, nil
}

// launchLocked starts launching an executor's container in the background.
func (a *Agent) launchLocked(e lifecycle.LaunchExecutor) {
	for _, id := range []string{e.FrameworkID, e.ExecutorID, e.ContainerID} {
		if err := validPathElement(id); err != nil {
			a.launchFailedLocked(e, fmt.Sprintf("invalid id: %v", err))
			return
		}
	}
	// The sandbox's directories, volume links and files API entry are
	// made by the launch goroutine (prepareSandbox), outside the lock.
	executorDir := a.executorDir(a.core.AgentID(), e.FrameworkID, e.ExecutorID)
	sandbox := filepath.Join(executorDir, "runs", e.ContainerID)
	ctx, cancel := context.WithCancel(a.runCtx)
	run := &containerRun{frameworkID: e.FrameworkID, executorID: e.ExecutorID, sandbox: sandbox, launching: true,
		launched: make(chan struct{}), cancelLaunch: cancel}
	a.containers[e.ContainerID] = run
	spec := containerizer.Spec{
		ContainerID: e.ContainerID,
		Sandbox:     sandbox,
		Command:     e.Executor.GetCommand(),
		Env:         a.executorEnvLocked(e, sandbox),
		User:        a.taskUser(e.User),
		Resources:   e.Resources,
		Container:   e.Executor.GetContainer(),
	}
	if runsDockerTask(e) {
		if err := a.dockerTaskSpec(&spec); err != nil {
			delete(a.containers, e.ContainerID)
			cancel()
			a.launchFailedLocked(e, err.Error())
			return
		}
		run.dockerTask = true
	}
	a.log.Info("launching executor", "framework", e.FrameworkID, "executor", e.ExecutorID,
		"container", e.ContainerID, "sandbox", sandbox)
	runCtx := a.runCtx
	a.tasks.Go(func() { a.runContainer(runCtx, ctx, e, spec, executorDir) })
}

// prepareSandbox makes a run's sandbox (with its `latest` link and its
// persistent volumes' links) and attaches it to the files API. It runs in
// the launch goroutine, not under the agent's lock: a task's directories
// cost a few hundred microseconds that every other input would wait for.
func (a *Agent) prepareSandbox(e lifecycle.LaunchExecutor, executorDir, user string) error {
	sandbox, err := createSandbox(executorDir, e.ContainerID)
	if err != nil {
		return fmt.Errorf("cannot create sandbox: %w", err)
	}
	if err := a.linkVolumes(sandbox, e.Resources, user); err != nil {
		return err
	}
	// Mesos' virtual path for the newest run of an executor.
	virtual := "/frameworks/" + e.FrameworkID + "/executors/" + e.ExecutorID + "/runs/latest"
	if err := a.files.Attach(virtual, sandbox); err != nil {
		a.log.Warn("cannot attach sandbox to the files API", "sandbox", sandbox, "err", err)
	}
	return nil
}

// validPathElement refuses ids that would escape the sandbox layout.
func validPathElement(id string) error {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id || id != filepath.Clean(id) {
		return fmt.Errorf("%q is not usable as a directory name", id)
	}
	return nil
}

func (a *Agent) launchFailedLocked(e lifecycle.LaunchExecutor, msg string) {
	a.log.Warn("executor launch failed", "framework", e.FrameworkID, "executor", e.ExecutorID, "err", msg)
	effs, err := a.core.ContainerLaunchFailed(e.FrameworkID, e.ExecutorID, e.ContainerID, msg, time.Now())
	if err != nil {
		a.log.Info("launch failure not applied", "err", err)
	}
	a.dispatchLocked(effs)
}

// runContainer fetches the executor's URIs, launches its container, then
// waits for its end. The container's handle is checkpointed before the
// container is marked launched, and an executor may subscribe only then
// (see subscribe): an agent killed between the fork and the checkpoint
// leaves an executor that never got a task, so the task the restarted
// agent reports as failed never ran (no double run). launchCtx is canceled when the container is destroyed
// while launching; ctx when the agent stops.
func (a *Agent) runContainer(ctx, launchCtx context.Context, e lifecycle.LaunchExecutor, spec containerizer.Spec, executorDir string) {
	err := a.prepareSandbox(e, executorDir, spec.User)
	if err == nil {
		err = a.fetch.Fetch(launchCtx, spec.Command.GetUris(), spec.Sandbox, spec.User)
	}
	if err == nil {
		err = a.cz.Launch(launchCtx, spec)
	}
	if err == nil {
		// Outside the agent's lock: a file's write and rename (not
		// fsynced: checkpoint.Store.WriteContainer).
		a.saveHandle(e.FrameworkID, e.ExecutorID, e.ContainerID)
	}
	a.mu.Lock()
	run := a.containers[e.ContainerID]
	run.launching = false
	close(run.launched)
	run.cancelLaunch()
	if err != nil {
		delete(a.containers, e.ContainerID)
		a.launchFailedLocked(e, err.Error())
		a.mu.Unlock()
		return
	}
	if run.destroyAfterLaunch {
		a.destroyLocked(e.ContainerID)
	}
	a.mu.Unlock()
	a.waitContainer(ctx, e.FrameworkID, e.ExecutorID, e.ContainerID, runsDockerTask(e))
}

// waitContainer waits for the end of a running container (launched, or
// adopted at recovery) and reports it to the core. ctx is Serve's.
func (a *Agent) waitContainer(ctx context.Context, frameworkID, executorID, containerID string, dockerTask bool) {
	term, err := a.cz.Wait(ctx, containerID)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("waiting for container failed", "container", containerID, "err", err)
		}
		term = containerizer.Termination{Status: -1, Message: "Failed to wait for the executor: " + err.Error()}
	}
	if ctx.Err() != nil {
		return // shutting down: destroyAll cleans up
	}
	// Forget the container in the containerizer.
	if err := a.cz.Destroy(ctx, containerID, 0); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
		a.log.Warn("cleaning up container failed", "container", containerID, "err", err)
	}
	if dockerTask {
		a.reapDockerTask(ctx, containerID)
	}
	a.log.Info("executor exited", "framework", frameworkID, "executor", executorID,
		"container", containerID, "status", term.Message)
	// Outside the agent's lock: the unlink and the pruning of the run's
	// directories are syscalls every other input would wait for. The
	// store serialises its changes to the tree; the container has ended,
	// and a new run of the executor has a new container id.
	if err := a.store.RemoveContainer(frameworkID, executorID, containerID); err != nil {
		a.log.Warn("cannot remove the container's checkpoint", "container", containerID, "err", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.containers, containerID)
	key := execKey{frameworkID, executorID}
	if st := a.streams[key]; st != nil && st.containerID == containerID {
		st.close()
		delete(a.streams, key)
	}
	_ = a.applyLocked("executor exit", func(now time.Time) ([]lifecycle.Effect, error) {
		return a.core.ExecutorExited(frameworkID, executorID, containerID, lifecycle.Termination{
			Status: int32(term.Status), Message: term.Message, Limited: term.Limited, Reason: term.Reason,
		}, now)
	})
}

// destroyLocked kills a container in the background; its end is reported
// by runContainer.
func (a *Agent) destroyLocked(containerID string) {
	run := a.containers[containerID]
	if run == nil || run.destroying {
		return
	}
	if run.launching {
		run.destroyAfterLaunch = true
		run.cancelLaunch()
		return
	}
	run.destroying = true
	ctx := a.runCtx
	a.tasks.Go(func() {
		if err := a.cz.Destroy(ctx, containerID, 0); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) && ctx.Err() == nil {
			a.log.Warn("destroying container failed", "container", containerID, "err", err)
		}
	})
}

// destroyAll kills every container when the agent stops, giving each the
// executor shutdown grace period; with LeaveExecutorsOnStop, those of
// checkpointing frameworks are left running for the next run to recover.
func (a *Agent) destroyAll() {
	leave := map[string]bool{}
	if a.cfg.LeaveExecutorsOnStop {
		a.mu.Lock()
		for _, fw := range a.core.Snapshot().Frameworks {
			if !fw.Info.GetCheckpoint() {
				continue
			}
			for _, ex := range fw.Executors {
				if ex.State != lifecycle.ExecutorTerminated {
					leave[ex.ContainerID] = true
				}
			}
		}
		a.mu.Unlock()
		a.forgetEnded(leave)
		if len(leave) > 0 {
			a.log.Info("leaving the executors of checkpointing frameworks running", "executors", len(leave))
		}
	}
	grace := a.cfg.ExecutorShutdownGracePeriod
	if grace <= 0 {
		grace = lifecycle.DefaultShutdownGracePeriod
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace+5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range a.cz.Containers() {
		if leave[id] {
			continue
		}
		wg.Go(func() {
			if err := a.cz.Destroy(ctx, id, grace); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
				a.log.Warn("destroying container on shutdown failed", "container", id, "err", err)
			}
		})
	}
	wg.Wait()
	a.mu.Lock()
	var tasks []string
	for id, run := range a.containers {
		if run.dockerTask && !leave[id] {
			tasks = append(tasks, id)
		}
	}
	a.mu.Unlock()
	for _, id := range tasks {
		a.reapDockerTask(ctx, id)
	}
	if a.hosts != nil {
		a.hosts.Close() // hosts running nothing exit; those holding left executors stay for the next run
	}
}

// forgetEnded drops from leave the containers that have ended already
// (their exit not yet applied): they are cleaned up like the others, not
// left for the next run.
func (a *Agent) forgetEnded(leave map[string]bool) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id := range leave {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), endedCheck)
			defer cancel()
			if _, err := a.cz.Wait(ctx, id); err == nil || errors.Is(err, containerizer.ErrUnknownContainer) {
				mu.Lock()
				delete(leave, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// endedCheck bounds how long destroyAll waits to learn whether a container
// it would leave running has in fact ended.
const endedCheck = time.Second

// executorEnvLocked is the Mesos executor environment.
func (a *Agent) executorEnvLocked(e lifecycle.LaunchExecutor, sandbox string) []string {
	checkpoint := "0"
	if e.Framework.GetCheckpoint() {
		checkpoint = "1"
	}
	agentID := a.core.AgentID()
	env := []string{
		"MESOS_FRAMEWORK_ID=" + e.FrameworkID,
		"MESOS_EXECUTOR_ID=" + e.ExecutorID,
		"MESOS_AGENT_ENDPOINT=" + a.endpoint,
		"MESOS_DIRECTORY=" + sandbox,
		"MESOS_SANDBOX=" + sandbox,
		"MESOS_CHECKPOINT=" + checkpoint,
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=" + mesosflag.FormatDuration(a.core.ShutdownGracePeriod(e.Executor)),
		"MESOS_SLAVE_ID=" + agentID,
		"MESOS_AGENT_ID=" + agentID,
	}
	if a.tokenKey != nil {
		env = append(env, "MESOS_EXECUTOR_AUTHENTICATION_TOKEN="+executorToken(a.tokenKey, e.FrameworkID, e.ExecutorID))
	}
	env = append(env, a.cfg.TLS.Environ()...)
	if a.cfg.ShuffleService != "" {
		env = append(env, "MESO_SHUFFLE_SERVICE_ADDR="+a.cfg.ShuffleService)
	}
	if e.CommandExecutor {
		env = append(env, "MESOS_HTTP_COMMAND_EXECUTOR=1")
	}
	if a.cfg.NoSwitchUser {
		env = append(env, launcher.NoSwitchUserEnv+"=1")
	}
	if dir := os.Getenv(cpuprofile.Env); dir != "" {
		env = append(env, cpuprofile.Env+"="+dir) // profiling the agent profiles its executors too
	}
	if e.Framework.GetCheckpoint() {
		env = append(env,
			"MESOS_RECOVERY_TIMEOUT="+mesosflag.FormatDuration(a.cfg.RecoveryTimeout),
			"MESOS_SUBSCRIPTION_BACKOFF_MAX="+mesosflag.FormatDuration(defaultSubscriptionBackoffMax))
	}
	return env
}

// defaultSubscriptionBackoffMax is what checkpointing executors are told
// as MESOS_SUBSCRIPTION_BACKOFF_MAX (Mesos' default).
const defaultSubscriptionBackoffMax = 2 * time.Second
