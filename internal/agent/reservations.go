package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/launcher"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// Dynamic reservations and persistent volumes on the agent, as Mesos'
// agent keeps them: the master sends the whole list of the agent's
// dynamically reserved resources and volumes (CHECKPOINT_RESOURCES); the
// agent makes the directories of new volumes, checkpoints the list
// (checkpoint.Store.WriteResources), removes the directories of volumes no
// longer listed (DESTROY), and reports the list when it registers again
// (after a restart too). A persistent volume is the directory
//
//	<work_dir>/volumes/roles/<role>/<persistence_id>
//
// ('/' in a hierarchical role written as "%2F"), kept when tasks end. A
// task that uses a volume sees it at its container_path inside the
// sandbox, as a symbolic link to that directory (Mesos bind-mounts it;
// the link needs no privileges; a read-only volume is not enforced), and
// the directory belongs to the user the executor runs as.

// volumeDir is the directory of a persistent volume.
func volumeDir(workDir, role, id string) string {
	return filepath.Join(workDir, "volumes", "roles", strings.ReplaceAll(role, "/", "%2F"), id)
}

// loadCheckpointedResources reads the list at start; it must fit the
// agent's --resources, as in Mesos (an agent whose resources shrank
// below its reservations refuses to start).
func (a *Agent) loadCheckpointedResources() error {
	list, err := a.store.LoadResources()
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	ckpt, err := resources.FromProto(list)
	if err != nil {
		return fmt.Errorf("agent: checkpointed resources: %w", err)
	}
	if _, err := resources.ApplyCheckpointed(a.resources, ckpt); err != nil {
		return fmt.Errorf("agent: checkpointed resources are incompatible with --resources: %w", err)
	}
	if err := makeVolumes(a.cfg.WorkDir, ckpt); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.ckpt = ckpt
	return nil
}

// checkpointResources applies a CHECKPOINT_RESOURCES list. One that does
// not fit the agent's resources, or cannot be written, is logged and
// ignored: the agent reports its old list when it registers again, and
// the master sends its own again then.
func (a *Agent) checkpointResources(list []*mesospb.Resource) {
	ckpt, err := resources.FromProto(list)
	if err == nil {
		_, err = resources.ApplyCheckpointed(a.resources, ckpt)
	}
	if err == nil {
		err = makeVolumes(a.cfg.WorkDir, ckpt)
	}
	if err == nil {
		err = a.store.WriteResources(ckpt.ToProto("", false))
	}
	if err != nil {
		a.log.Warn("cannot apply the master's reservations and volumes", "err", err)
		return
	}
	a.mu.Lock()
	old := a.ckpt
	a.ckpt = ckpt
	a.mu.Unlock()
	keep := map[string]bool{}
	for _, v := range ckpt.Volumes() {
		keep[volumeDir(a.cfg.WorkDir, v.Role, v.Volume.ID)] = true
	}
	for _, v := range old.Volumes() {
		if dir := volumeDir(a.cfg.WorkDir, v.Role, v.Volume.ID); !keep[dir] {
			a.log.Info("destroying persistent volume", "role", v.Role, "id", v.Volume.ID, "dir", dir)
			if err := os.RemoveAll(dir); err != nil {
				a.log.Warn("cannot remove a destroyed volume", "dir", dir, "err", err)
			}
		}
	}
	a.log.Info("checkpointed reservations and volumes", "resources", ckpt.String())
}

// checkpointedLocked is the list the agent reports when it registers.
func (a *Agent) checkpointedLocked() []*mesospb.Resource {
	return a.ckpt.ToProto("", false)
}

// totalInfoLocked is a copy of the agent's AgentInfo whose resources
// include the dynamic reservations and volumes (what /state and GET_AGENT
// show, as Mesos' agent does); registration sends the --resources and the
// list apart.
func (a *Agent) totalInfoLocked() *mesospb.AgentInfo {
	info := proto.CloneOf(a.info)
	if total, err := resources.ApplyCheckpointed(a.resources, a.ckpt); err == nil && info != nil {
		info.Resources = total.ToProto("", false)
	}
	return info
}

// chownToUser gives dir to user when the agent can run as that user (the
// launcher's rule: root, and the user exists); otherwise it leaves dir
// alone and the launch reports the user problem.
func chownToUser(dir, user string) error {
	if user == "" {
		return nil
	}
	var cmd exec.Cmd
	if launcher.SetUser(&cmd, user) != nil || cmd.SysProcAttr == nil || cmd.SysProcAttr.Credential == nil {
		return nil
	}
	cred := cmd.SysProcAttr.Credential
	return os.Chown(dir, int(cred.Uid), int(cred.Gid))
}

func makeVolumes(workDir string, r resources.Resources) error {
	for _, v := range r.Volumes() {
		if err := os.MkdirAll(volumeDir(workDir, v.Role, v.Volume.ID), 0o755); err != nil {
			return fmt.Errorf("persistent volume %s: %w", v.Volume.ID, err)
		}
	}
	return nil
}

// linkVolumes makes the persistent volumes in an executor's resources
// (its own and its tasks') visible in its sandbox at their container
// paths. When the executor runs as another user (a root agent switching
// users), the volume's directory is handed to that user, as Mesos hands a
// volume to the user of the task that uses it.
func (a *Agent) linkVolumes(sandbox string, list []*mesospb.Resource, user string) error {
	res, err := resources.FromProto(list)
	if err != nil {
		return err
	}
	for _, v := range res.Volumes() {
		path := v.Volume.ContainerPath
		if !filepath.IsLocal(path) {
			return fmt.Errorf("persistent volume %s: container_path %q must be a relative path inside the sandbox", v.Volume.ID, path)
		}
		dir := volumeDir(a.cfg.WorkDir, v.Role, v.Volume.ID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("persistent volume %s: %w", v.Volume.ID, err)
		}
		if err := chownToUser(dir, user); err != nil {
			return fmt.Errorf("persistent volume %s: %w", v.Volume.ID, err)
		}
		target := filepath.Join(sandbox, path)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("persistent volume %s: %w", v.Volume.ID, err)
		}
		if err := os.Symlink(dir, target); err != nil {
			return fmt.Errorf("persistent volume %s: %w", v.Volume.ID, err)
		}
	}
	return nil
}
