package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
)

// Batch collects checkpoint changes to be made durable together (group
// commit): the agent adds what the core asks to checkpoint after each of
// several inputs, commits them at once outside its own lock, and only
// then carries out those inputs' effects. A Batch is not safe for
// concurrent use; Commit it once.
type Batch struct {
	s   *Store
	ops []op
}

type opKind int

const (
	opWrite  opKind = iota // replace path with data
	opRemove               // remove the directory path, prune its empty parents
	opClear                // remove every checkpoint
)

type op struct {
	kind opKind
	path string
	data []byte
}

// NewBatch returns an empty batch of changes to the store.
func (s *Store) NewBatch() *Batch { return &Batch{s: s} }

// Len is the number of changes added (before Commit drops superseded
// writes).
func (b *Batch) Len() int { return len(b.ops) }

// Append adds other's changes after b's; other is left empty.
func (b *Batch) Append(other *Batch) {
	b.ops = append(b.ops, other.ops...)
	other.ops = nil
}

// WriteAgent adds the agent's record (its id and boot id).
func (b *Batch) WriteAgent(a Agent) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	b.write(filepath.Join(b.s.dir, agentFile), data)
	return nil
}

// WriteFramework adds a checkpointing framework's info.
func (b *Batch) WriteFramework(info *mesospb.FrameworkInfo) error {
	fid := info.GetId().GetValue()
	if err := checkIDs(fid); err != nil {
		return err
	}
	data, err := marshal.Marshal(info)
	if err != nil {
		return fmt.Errorf("checkpoint: framework %s: %w", fid, err)
	}
	b.write(filepath.Join(b.s.frameworkDir(fid), frameworkFile), data)
	return nil
}

// WriteExecutor adds the core's record of an executor run. The record is
// encoded now: the core may change it before Commit.
func (b *Batch) WriteExecutor(cp lifecycle.ExecutorCheckpoint) error {
	if err := checkIDs(cp.FrameworkID, cp.ExecutorID, cp.ContainerID); err != nil {
		return err
	}
	data, err := encodeExecutor(cp)
	if err != nil {
		return err
	}
	b.write(filepath.Join(b.s.runDir(cp.FrameworkID, cp.ExecutorID, cp.ContainerID), executorFile), data)
	return nil
}

// Remove adds the deletion of one executor run's records, or of a whole
// framework's when eid is empty.
func (b *Batch) Remove(fid, eid, cid string) error {
	if err := checkIDs(fid); err != nil {
		return err
	}
	dir := b.s.frameworkDir(fid)
	if eid != "" {
		if err := checkIDs(eid, cid); err != nil {
			return err
		}
		dir = b.s.runDir(fid, eid, cid)
	}
	b.ops = append(b.ops, op{kind: opRemove, path: dir})
	return nil
}

// Clear adds the deletion of every checkpoint.
func (b *Batch) Clear() { b.ops = append(b.ops, op{kind: opClear}) }

func (b *Batch) write(path string, data []byte) {
	b.ops = append(b.ops, op{kind: opWrite, path: path, data: data})
}

// Commit makes the batch's changes durable, in order, as if each had been
// made on its own: a write that a later change replaces or removes is
// skipped, and the others are done in groups between removals: every
// file of a group goes to its temporary file and is fsynced (in
// parallel, so that the filesystem can commit them together), then all
// are renamed over their targets and their directories fsynced once
// each. A crash leaves each file with its old or its new content. It
// returns every failure, joined; the other changes are made.
func (b *Batch) Commit() error {
	ops := live(b.ops)
	b.ops = nil
	var errs []error
	for len(ops) > 0 {
		n := 0
		for n < len(ops) && ops[n].kind == opWrite {
			n++
		}
		if n > 0 {
			errs = append(errs, b.s.writeGroup(ops[:n])...)
			ops = ops[n:]
			continue
		}
		switch o := ops[0]; o.kind {
		case opRemove:
			errs = append(errs, b.s.removeDir(o.path))
		case opClear:
			errs = append(errs, b.s.clear())
		}
		ops = ops[1:]
	}
	return errors.Join(errs...)
}

// live drops the writes that a later change in ops replaces (a write of
// the same file) or deletes (a removal of a directory holding it, a
// clear).
func live(ops []op) []op {
	written := map[string]bool{}
	var removed []string
	cleared := false
	keep := make([]bool, len(ops))
	for i := len(ops) - 1; i >= 0; i-- {
		o := ops[i]
		switch o.kind {
		case opWrite:
			keep[i] = !cleared && !written[o.path] && !under(o.path, removed)
			written[o.path] = true
		case opRemove:
			keep[i] = !cleared && !under(o.path, removed)
			removed = append(removed, o.path)
		case opClear:
			keep[i] = !cleared
			cleared = true
		}
	}
	out := ops[:0:0]
	for i, o := range ops {
		if keep[i] {
			out = append(out, o)
		}
	}
	return out
}

// under reports whether path is one of dirs or inside one.
func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// writeGroup writes files (distinct paths) as one group; see Commit.
func (s *Store) writeGroup(files []op) []error {
	errs := make([]error, len(files))
	tmps := make([]*os.File, len(files))
	s.tree.Lock()
	for i, f := range files {
		err := os.MkdirAll(filepath.Dir(f.path), 0o755)
		if err == nil {
			tmps[i], err = os.OpenFile(f.path+tmpSuffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		}
		errs[i] = err
	}
	s.tree.Unlock()
	parallel(len(files), func(i int) {
		if errs[i] != nil {
			return
		}
		_, err := tmps[i].Write(files[i].data)
		if err == nil {
			err = tmps[i].Sync()
		}
		if cerr := tmps[i].Close(); err == nil {
			err = cerr
		}
		errs[i] = err
	})
	var dirs []string
	seen := map[string]bool{}
	s.tree.Lock()
	for i, f := range files {
		if tmps[i] == nil {
			continue
		}
		if errs[i] == nil {
			errs[i] = os.Rename(f.path+tmpSuffix, f.path)
		}
		if errs[i] != nil {
			_ = os.Remove(f.path + tmpSuffix)
			continue
		}
		if dir := filepath.Dir(f.path); !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	s.tree.Unlock()
	dirErrs := make([]error, len(dirs))
	parallel(len(dirs), func(i int) { dirErrs[i] = syncDir(dirs[i]) })
	var out []error
	for i, err := range errs {
		if err != nil {
			out = append(out, fmt.Errorf("checkpoint: write %s: %w", files[i].path, err))
		}
	}
	for i, err := range dirErrs {
		if err != nil {
			out = append(out, fmt.Errorf("checkpoint: sync %s: %w", dirs[i], err))
		}
	}
	return out
}

// maxParallelSyncs bounds the goroutines a group's fsyncs run on.
const maxParallelSyncs = 8

// parallel runs f(0..n-1) on up to maxParallelSyncs goroutines and waits
// for all of them.
func parallel(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(n, maxParallelSyncs) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// removeDir deletes dir (an executor run's or a framework's records) and
// the parents it leaves empty, and syncs the directory that kept it.
func (s *Store) removeDir(dir string) error {
	s.tree.Lock()
	err := os.RemoveAll(dir)
	kept := dir
	if err == nil {
		kept = s.prune(filepath.Dir(dir))
	}
	s.tree.Unlock()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := syncDir(kept); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// clear deletes every checkpoint.
func (s *Store) clear() error {
	s.tree.Lock()
	defer s.tree.Unlock()
	for _, p := range []string{filepath.Join(s.dir, "frameworks"), filepath.Join(s.dir, agentFile)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return syncDir(s.dir)
}
