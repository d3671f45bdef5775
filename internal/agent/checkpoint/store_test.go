package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/containerizer"
)

func sample() (*mesospb.FrameworkInfo, lifecycle.ExecutorCheckpoint, containerizer.Handle) {
	fw := &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"),
		Id: &mesospb.FrameworkID{Value: proto.String("f1")}, Checkpoint: proto.Bool(true)}
	tid := &mesospb.TaskID{Value: proto.String("t1")}
	cp := lifecycle.ExecutorCheckpoint{
		FrameworkID: "f1", ExecutorID: "e1", ContainerID: "c1",
		Info:    &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("e1")}},
		Command: true, State: lifecycle.ExecutorRunning, LaunchedAt: time.Unix(100, 5),
		Queued: []lifecycle.QueuedLaunch{{Group: true, Tasks: []*mesospb.TaskInfo{{Name: proto.String("q"),
			TaskId: &mesospb.TaskID{Value: proto.String("t2")}}}}},
		Tasks: []lifecycle.TaskCheckpoint{{
			Info: &mesospb.TaskInfo{Name: proto.String("t"), TaskId: tid},
			Task: &mesospb.Task{Name: proto.String("t"), TaskId: tid, State: mesospb.TaskState_TASK_RUNNING.Enum()},
			Updates: []*mesospb.TaskStatus{
				{TaskId: tid, State: mesospb.TaskState_TASK_RUNNING.Enum(), Uuid: []byte("0123456789abcdef")},
				{TaskId: tid, State: mesospb.TaskState_TASK_FINISHED.Enum(), Uuid: []byte("fedcba9876543210")},
			},
		}},
	}
	h := containerizer.Handle{ContainerID: "c1", Kind: containerizer.NameMesos, Pid: 42, StartTime: 7, Sandbox: "/s"}
	return fw, cp, h
}

func write(t *testing.T, s *Store) {
	t.Helper()
	fw, cp, h := sample()
	for _, err := range []error{s.WriteAgent(Agent{AgentID: "a1", BootID: "b1"}), s.WriteFramework(fw),
		s.WriteExecutor(cp), s.WriteContainer("f1", "e1", h),
		// a framework that does not checkpoint: only its container handle
		s.WriteContainer("f2", "e2", containerizer.Handle{ContainerID: "c2", Kind: containerizer.NameMesos, Pid: 43})} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	work := t.TempDir()
	s, err := New(work)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s)
	st, err := s.Load(true)
	if err != nil {
		t.Fatal(err)
	}
	fw, cp, h := sample()
	if st.Agent == nil || *st.Agent != (Agent{AgentID: "a1", BootID: "b1"}) {
		t.Fatalf("agent %+v", st.Agent)
	}
	if len(st.Frameworks) != 1 || !proto.Equal(st.Frameworks[0], fw) {
		t.Fatalf("frameworks %v", st.Frameworks)
	}
	if len(st.Executors) != 1 {
		t.Fatalf("executors %v", st.Executors)
	}
	got := st.Executors[0]
	if got.ExecutorID != "e1" || got.ContainerID != "c1" || !got.Command || got.State != lifecycle.ExecutorRunning ||
		!got.LaunchedAt.Equal(cp.LaunchedAt) || !proto.Equal(got.Info, cp.Info) || len(got.Queued) != 1 || !got.Queued[0].Group ||
		len(got.Tasks) != 1 || !proto.Equal(got.Tasks[0].Task, cp.Tasks[0].Task) || len(got.Tasks[0].Updates) != 2 ||
		!proto.Equal(got.Tasks[0].Updates[1], cp.Tasks[0].Updates[1]) {
		t.Fatalf("executor record %+v", got)
	}
	if len(st.Containers) != 2 || st.Containers[0].Handle != h || st.Containers[1].FrameworkID != "f2" {
		t.Fatalf("containers %+v", st.Containers)
	}
	if r := st.Recovered(); r.AgentID != "a1" || len(r.Executors) != 1 {
		t.Fatalf("recovered %+v", r)
	}

	// A container that ended leaves its core record; the other framework's
	// tree goes entirely.
	if err := s.RemoveContainer("f2", "e2", "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "frameworks", "f2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("f2's directories left: %v", err)
	}
	if err := s.Remove("f1", "e1", "c1"); err != nil {
		t.Fatal(err)
	}
	if st, err = s.Load(true); err != nil || len(st.Executors) != 0 || len(st.Frameworks) != 1 || len(st.Containers) != 0 {
		t.Fatalf("after removal: %+v, %v", st, err)
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if st, err = s.Load(true); err != nil || st.Agent != nil || len(st.Frameworks) != 0 {
		t.Fatalf("after Clear: %+v, %v", st, err)
	}
}

// WriteFile leaves the old content or the new one: a crash before the
// rename leaves a temporary file beside the old content, which Load
// ignores; the rename replaces the file whole.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+tmpSuffix, []byte("half-writ"), 0o644); err != nil { // a crash mid-write
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("content %q", b)
	}
	if err := WriteFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if _, err := os.Stat(path + tmpSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}

	// A stray temporary file in a run directory does not disturb Load.
	s, _ := New(t.TempDir())
	write(t, s)
	stray := filepath.Join(s.runDir("f1", "e1", "c1"), executorFile+tmpSuffix)
	if err := os.WriteFile(stray, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(true); err != nil {
		t.Fatal(err)
	}
}

// Corrupt files fail a strict Load, naming the file, and are skipped by a
// lenient one.
func TestCorrupt(t *testing.T) {
	cases := []struct {
		name string
		file func(s *Store) string
		data string
		// what a lenient Load still has
		agent                    bool
		frameworks, executors, n int
	}{
		{"agent", func(s *Store) string { return filepath.Join(s.Dir(), agentFile) }, "{not json", false, 1, 1, 2},
		{"agent-without-id", func(s *Store) string { return filepath.Join(s.Dir(), agentFile) }, `{"boot_id":"b"}`, false, 1, 1, 2},
		{"framework", func(s *Store) string { return filepath.Join(s.frameworkDir("f1"), frameworkFile) }, "\xff\xff\xff", true, 0, 0, 2},
		{"executor", func(s *Store) string { return filepath.Join(s.runDir("f1", "e1", "c1"), executorFile) }, `{"state":"RUNNING","executor_info":"!!"}`, true, 1, 0, 2},
		{"executor-state", func(s *Store) string { return filepath.Join(s.runDir("f1", "e1", "c1"), executorFile) }, `{"state":"DANCING"}`, true, 1, 0, 2},
		{"executor-misplaced", func(s *Store) string { return filepath.Join(s.runDir("f1", "e1", "c1"), executorFile) },
			`{"framework_id":"f1","executor_id":"e9","container_id":"c1","state":"RUNNING"}`, true, 1, 0, 2},
		{"container", func(s *Store) string { return filepath.Join(s.runDir("f1", "e1", "c1"), containerFile) }, "", true, 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := New(t.TempDir())
			write(t, s)
			if err := os.WriteFile(c.file(s), []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(true); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("strict Load: %v, want ErrCorrupt", err)
			}
			st, err := s.Load(false)
			if err != nil {
				t.Fatal(err)
			}
			if (st.Agent != nil) != c.agent || len(st.Frameworks) != c.frameworks || len(st.Executors) != c.executors ||
				len(st.Containers) != c.n || len(st.Skipped) != 1 {
				t.Fatalf("lenient Load: agent=%v frameworks=%d executors=%d containers=%d skipped=%v",
					st.Agent, len(st.Frameworks), len(st.Executors), len(st.Containers), st.Skipped)
			}
		})
	}
}

func TestBootID(t *testing.T) {
	id, err := BootID()
	if err != nil {
		t.Skip("this machine has no /proc/sys/kernel/random/boot_id:", err)
	}
	if len(id) < 16 {
		t.Fatalf("boot id %q", id)
	}
}

// TestConcurrentContainerWrites: the agent writes a container's handle
// outside its lock, beside its other checkpoint calls. Handles written
// while sibling runs of the same framework are removed (the pruning of
// empty directories racing the creation of new ones) all succeed and are
// all read back; the removed ones are gone and leave no directory.
func TestConcurrentContainerWrites(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	handle := func(i int) containerizer.Handle {
		return containerizer.Handle{ContainerID: fmt.Sprintf("c%d", i), Kind: containerizer.NameMesos, Pid: 100 + i}
	}
	errs := make(chan error, 3*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- s.WriteContainer("f1", fmt.Sprintf("e%d", i), handle(i)) })
		wg.Go(func() {
			// a sibling run that comes and goes
			err := s.WriteContainer("f1", fmt.Sprintf("gone%d", i), handle(n+i))
			if err == nil {
				err = s.RemoveContainer("f1", fmt.Sprintf("gone%d", i), fmt.Sprintf("c%d", n+i))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st, err := s.Load(true)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Containers) != n {
		t.Fatalf("%d containers read back, want %d: %+v", len(st.Containers), n, st.Containers)
	}
	for _, c := range st.Containers {
		if !strings.HasPrefix(c.ExecutorID, "e") {
			t.Errorf("removed run read back: %+v", c)
		}
	}
	left, err := filepath.Glob(filepath.Join(s.Dir(), "frameworks", "f1", "executors", "gone*"))
	if err != nil || len(left) > 0 {
		t.Errorf("removed runs left directories: %v %v", left, err)
	}
}
