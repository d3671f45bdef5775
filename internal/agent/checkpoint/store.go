package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/containerizer"
)

// Errors callers branch on.
var (
	// ErrCorrupt: a checkpoint file cannot be read back.
	ErrCorrupt = errors.New("checkpoint: corrupt")
)

// File names.
const (
	agentFile     = "agent.json"
	frameworkFile = "framework.pb"
	executorFile  = "executor.json"
	containerFile = "container.json"
	tmpSuffix     = ".tmp"
)

// The core's records are what the agent received; required fields are
// not enforced again (a record is corrupt when it does not decode).
var (
	marshal   = proto.MarshalOptions{AllowPartial: true, Deterministic: true}
	unmarshal = proto.UnmarshalOptions{AllowPartial: true}
)

// Agent is the agent's own record.
type Agent struct {
	AgentID string `json:"agent_id"`
	BootID  string `json:"boot_id"`
}

// Store reads and writes the checkpoints under <work_dir>/meta. Calls may
// run concurrently, but not two writes of the same file: the steps that
// change the tree (creating directories, creating and renaming a file,
// removing) are serialised on tree, and the fsyncs run outside it, so one
// write's fsyncs do not hold up another call (the agent writes a
// container's handle outside its own lock; docs/BENCHMARKS.md, "Command
// tasks: profiled").
type Store struct {
	dir  string
	tree sync.Mutex
}

// New returns the store of a work directory, creating <work_dir>/meta.
func New(workDir string) (*Store, error) {
	dir := filepath.Join(workDir, "meta")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's root, <work_dir>/meta.
func (s *Store) Dir() string { return s.dir }

func (s *Store) frameworkDir(fid string) string { return filepath.Join(s.dir, "frameworks", fid) }

func (s *Store) runDir(fid, eid, cid string) string {
	return filepath.Join(s.frameworkDir(fid), "executors", eid, "runs", cid)
}

// checkIDs refuses ids that are not usable as one directory name.
func checkIDs(ids ...string) error {
	for _, id := range ids {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return fmt.Errorf("checkpoint: id %q is not usable as a directory name", id)
		}
	}
	return nil
}

// WriteFile replaces path with data atomically and durably: data goes to a
// temporary file in the same directory, which is synced, renamed over
// path, and the directory synced. Missing directories are created.
func WriteFile(path string, data []byte) error { return writeFile(path, data, 0o644, nil) }

// writeFile is WriteFile with a permission; tree, when not nil, is held
// around the steps that change the directory tree, not around the fsyncs.
// A directory holding the temporary file, or the file, is not empty, so
// Store's pruning of empty directories cannot remove it meanwhile.
func writeFile(path string, data []byte, perm os.FileMode, tree sync.Locker) error {
	if tree == nil {
		tree = noLock{}
	}
	dir := filepath.Dir(path)
	tmp := path + tmpSuffix
	tree.Lock()
	err := os.MkdirAll(dir, 0o755)
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	}
	tree.Unlock()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	tree.Lock()
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	tree.Unlock()
	if err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	return nil
}

type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

// write is writeFile under the store's tree lock.
func (s *Store) write(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, &s.tree)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteAgent records the agent's id and the boot id it runs under.
func (s *Store) WriteAgent(a Agent) error {
	return s.one(func(b *Batch) error { return b.WriteAgent(a) })
}

// WriteFramework records a checkpointing framework's info.
func (s *Store) WriteFramework(info *mesospb.FrameworkInfo) error {
	return s.one(func(b *Batch) error { return b.WriteFramework(info) })
}

// WriteExecutor records the core's record of an executor run.
func (s *Store) WriteExecutor(cp lifecycle.ExecutorCheckpoint) error {
	return s.one(func(b *Batch) error { return b.WriteExecutor(cp) })
}

// one commits a batch of the one change add makes.
func (s *Store) one(add func(*Batch) error) error {
	b := s.NewBatch()
	if err := add(b); err != nil {
		return err
	}
	return b.Commit()
}

// WriteContainer records how to find an executor's running container.
func (s *Store) WriteContainer(fid, eid string, h containerizer.Handle) error {
	if err := checkIDs(fid, eid, h.ContainerID); err != nil {
		return err
	}
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return s.write(filepath.Join(s.runDir(fid, eid, h.ContainerID), containerFile), data, 0o644)
}

// RemoveContainer forgets a container that ended (its run's core record,
// if any, stays), and prunes the directories it leaves empty.
func (s *Store) RemoveContainer(fid, eid, cid string) error {
	if err := checkIDs(fid, eid, cid); err != nil {
		return err
	}
	run := s.runDir(fid, eid, cid)
	s.tree.Lock()
	defer s.tree.Unlock()
	if err := os.Remove(filepath.Join(run, containerFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	s.prune(run)
	return nil
}

// prune removes dir and its parents up to the frameworks directory while
// they are empty; it returns the first directory it kept. Callers hold
// the tree lock.
func (s *Store) prune(dir string) string {
	stop := filepath.Join(s.dir, "frameworks")
	for dir != stop && strings.HasPrefix(dir, stop) {
		if os.Remove(dir) != nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	return dir
}

// Remove deletes the records of one executor run, or of a whole framework
// when eid is empty.
func (s *Store) Remove(fid, eid, cid string) error {
	return s.one(func(b *Batch) error { return b.Remove(fid, eid, cid) })
}

// Clear deletes every checkpoint: the agent starts as a new one.
func (s *Store) Clear() error { return s.clear() }

// State is what Load read.
type State struct {
	// Agent is nil when no agent record exists.
	Agent *Agent
	// Frameworks are the checkpointing frameworks, by id; Executors the
	// core's records of their executor runs, by framework, executor and
	// container id.
	Frameworks []*mesospb.FrameworkInfo
	Executors  []lifecycle.ExecutorCheckpoint
	// Containers are the handles of every executor run that was running,
	// of any framework.
	Containers []Container
	// Skipped are the corrupt files left out (non-strict Load only).
	Skipped []error
}

// Container is the handle of one executor run.
type Container struct {
	FrameworkID string
	ExecutorID  string
	Handle      containerizer.Handle
}

// Recovered is the state as the lifecycle core's Recover takes it.
func (st State) Recovered() lifecycle.Recovered {
	r := lifecycle.Recovered{Frameworks: st.Frameworks, Executors: st.Executors}
	if st.Agent != nil {
		r.AgentID = st.Agent.AgentID
	}
	return r
}

// Load reads every checkpoint. Corrupt files are an error wrapping
// ErrCorrupt when strict; otherwise they are left out and listed in
// Skipped (an executor record whose framework is skipped is left out
// too; its container handle is kept, so the caller can kill it).
func (s *Store) Load(strict bool) (State, error) {
	var st State
	corrupt := func(path string, err error) error {
		e := fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
		if strict {
			return e
		}
		st.Skipped = append(st.Skipped, e)
		return nil
	}
	if data, err := os.ReadFile(filepath.Join(s.dir, agentFile)); err == nil {
		var a Agent
		if err := json.Unmarshal(data, &a); err != nil || a.AgentID == "" {
			if err == nil {
				err = errors.New("no agent_id")
			}
			if e := corrupt(agentFile, err); e != nil {
				return State{}, e
			}
		} else {
			st.Agent = &a
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("checkpoint: %w", err)
	}
	fids, err := dirNames(filepath.Join(s.dir, "frameworks"))
	if err != nil {
		return State{}, err
	}
	for _, fid := range fids {
		if err := s.loadFramework(&st, fid, corrupt); err != nil {
			return State{}, err
		}
	}
	return st, nil
}

func (s *Store) loadFramework(st *State, fid string, corrupt func(string, error) error) error {
	rel := func(p string) string { r, _ := filepath.Rel(s.dir, p); return r }
	checkpointing := false
	path := filepath.Join(s.frameworkDir(fid), frameworkFile)
	if data, err := os.ReadFile(path); err == nil {
		info := &mesospb.FrameworkInfo{}
		if err := unmarshal.Unmarshal(data, info); err != nil || info.GetId().GetValue() != fid {
			if err == nil {
				err = fmt.Errorf("framework id %q in the directory of %q", info.GetId().GetValue(), fid)
			}
			if e := corrupt(rel(path), err); e != nil {
				return e
			}
		} else {
			st.Frameworks = append(st.Frameworks, info)
			checkpointing = true
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	eids, err := dirNames(filepath.Join(s.frameworkDir(fid), "executors"))
	if err != nil {
		return err
	}
	for _, eid := range eids {
		cids, err := dirNames(filepath.Join(s.frameworkDir(fid), "executors", eid, "runs"))
		if err != nil {
			return err
		}
		for _, cid := range cids {
			run := s.runDir(fid, eid, cid)
			if data, err := os.ReadFile(filepath.Join(run, executorFile)); err == nil && checkpointing {
				cp, err := decodeExecutor(data)
				if err == nil && (cp.FrameworkID != fid || cp.ExecutorID != eid || cp.ContainerID != cid) {
					err = fmt.Errorf("record of %s/%s/%s in its directory", cp.FrameworkID, cp.ExecutorID, cp.ContainerID)
				}
				if err != nil {
					if e := corrupt(rel(filepath.Join(run, executorFile)), err); e != nil {
						return e
					}
				} else {
					st.Executors = append(st.Executors, cp)
				}
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("checkpoint: %w", err)
			}
			if data, err := os.ReadFile(filepath.Join(run, containerFile)); err == nil {
				var h containerizer.Handle
				if err := json.Unmarshal(data, &h); err != nil || h.ContainerID != cid {
					if err == nil {
						err = fmt.Errorf("handle of container %q in the directory of %q", h.ContainerID, cid)
					}
					if e := corrupt(rel(filepath.Join(run, containerFile)), err); e != nil {
						return e
					}
				} else {
					st.Containers = append(st.Containers, Container{FrameworkID: fid, ExecutorID: eid, Handle: h})
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("checkpoint: %w", err)
			}
		}
	}
	return nil
}

// dirNames lists the subdirectories of dir, sorted; none when dir does not
// exist.
func dirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// executorJSON is executor.json: the core's record, with the protobuf
// messages as protobuf bytes (base64 in JSON).
type executorJSON struct {
	FrameworkID string      `json:"framework_id"`
	ExecutorID  string      `json:"executor_id"`
	ContainerID string      `json:"container_id"`
	Info        []byte      `json:"executor_info"`
	Command     bool        `json:"command_executor"`
	State       string      `json:"state"`
	LaunchedAt  int64       `json:"launched_at_ns"`
	Queued      []queueJSON `json:"queued"`
	Tasks       []taskJSON  `json:"tasks"`
}

type queueJSON struct {
	Tasks [][]byte `json:"task_infos"`
	Group bool     `json:"group"`
}

type taskJSON struct {
	Info    []byte   `json:"task_info"`
	Task    []byte   `json:"task"`
	Updates [][]byte `json:"unacknowledged_updates"`
}

var executorStates = map[string]lifecycle.ExecutorState{}

func init() {
	for _, s := range []lifecycle.ExecutorState{lifecycle.ExecutorRegistering, lifecycle.ExecutorRunning,
		lifecycle.ExecutorTerminating, lifecycle.ExecutorTerminated} {
		executorStates[s.String()] = s
	}
}

func encodeExecutor(cp lifecycle.ExecutorCheckpoint) ([]byte, error) {
	var firstErr error
	m := func(msg proto.Message) []byte {
		b, err := marshal.Marshal(msg)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return b
	}
	out := executorJSON{
		FrameworkID: cp.FrameworkID, ExecutorID: cp.ExecutorID, ContainerID: cp.ContainerID,
		Info: m(cp.Info), Command: cp.Command, State: cp.State.String(), LaunchedAt: cp.LaunchedAt.UnixNano(),
		Queued: []queueJSON{}, Tasks: []taskJSON{},
	}
	for _, q := range cp.Queued {
		qj := queueJSON{Group: q.Group}
		for _, t := range q.Tasks {
			qj.Tasks = append(qj.Tasks, m(t))
		}
		out.Queued = append(out.Queued, qj)
	}
	for _, t := range cp.Tasks {
		tj := taskJSON{Info: m(t.Info), Task: m(t.Task)}
		for _, u := range t.Updates {
			tj.Updates = append(tj.Updates, m(u))
		}
		out.Tasks = append(out.Tasks, tj)
	}
	if firstErr != nil {
		return nil, fmt.Errorf("checkpoint: executor %s of framework %s: %w", cp.ExecutorID, cp.FrameworkID, firstErr)
	}
	return json.Marshal(out)
}

func decodeExecutor(data []byte) (lifecycle.ExecutorCheckpoint, error) {
	var in executorJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return lifecycle.ExecutorCheckpoint{}, err
	}
	var firstErr error
	u := func(field string, b []byte, msg proto.Message) {
		if err := unmarshal.Unmarshal(b, msg); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", field, err)
		}
	}
	state, ok := executorStates[in.State]
	if !ok {
		return lifecycle.ExecutorCheckpoint{}, fmt.Errorf("state: unknown executor state %q", in.State)
	}
	cp := lifecycle.ExecutorCheckpoint{
		FrameworkID: in.FrameworkID, ExecutorID: in.ExecutorID, ContainerID: in.ContainerID,
		Info: &mesospb.ExecutorInfo{}, Command: in.Command, State: state, LaunchedAt: time.Unix(0, in.LaunchedAt),
	}
	u("executor_info", in.Info, cp.Info)
	for i, q := range in.Queued {
		ql := lifecycle.QueuedLaunch{Group: q.Group}
		for j, b := range q.Tasks {
			t := &mesospb.TaskInfo{}
			u(fmt.Sprintf("queued[%d].task_infos[%d]", i, j), b, t)
			ql.Tasks = append(ql.Tasks, t)
		}
		cp.Queued = append(cp.Queued, ql)
	}
	for i, tj := range in.Tasks {
		tc := lifecycle.TaskCheckpoint{Info: &mesospb.TaskInfo{}, Task: &mesospb.Task{}}
		u(fmt.Sprintf("tasks[%d].task_info", i), tj.Info, tc.Info)
		u(fmt.Sprintf("tasks[%d].task", i), tj.Task, tc.Task)
		for j, b := range tj.Updates {
			st := &mesospb.TaskStatus{}
			u(fmt.Sprintf("tasks[%d].unacknowledged_updates[%d]", i, j), b, st)
			tc.Updates = append(tc.Updates, st)
		}
		cp.Tasks = append(cp.Tasks, tc)
	}
	if firstErr != nil {
		return lifecycle.ExecutorCheckpoint{}, firstErr
	}
	return cp, nil
}

// BootID returns the kernel's boot id (/proc/sys/kernel/random/boot_id),
// which changes on every boot of the machine.
func BootID() (string, error) {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("checkpoint: boot id: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
