package blocks

import (
	"os"
	"sort"
)

// Summary is one dataset's cached partitions.
type Summary struct {
	Node       int
	Level      Level
	Partitions int
	Memory     int64 // estimated bytes of the partitions held in memory
	Disk       int64 // bytes of the partitions' files on disk
}

// String names a level as Spark's StorageLevel does.
func (l Level) String() string {
	switch l {
	case MemoryOnly:
		return "MEMORY_ONLY"
	case MemoryAndDisk:
		return "MEMORY_AND_DISK"
	case DiskOnly:
		return "DISK_ONLY"
	}
	return "NONE"
}

// Summaries lists the cached partitions per dataset, by dataset id.
func (bm *Manager) Summaries() []Summary {
	type disk struct {
		node int
		path string
	}
	bm.mu.Lock()
	by := map[int]*Summary{}
	var files []disk
	for k, b := range bm.blocks {
		s := by[k.Node]
		if s == nil {
			s = &Summary{Node: k.Node, Level: b.level}
			by[k.Node] = s
		}
		s.Partitions++
		if b.data != nil {
			s.Memory += b.size
		}
		if b.path != "" {
			files = append(files, disk{k.Node, b.path})
		}
	}
	bm.mu.Unlock()
	for _, f := range files { // outside the lock: a stat may be slow
		if fi, err := os.Stat(f.path); err == nil {
			by[f.node].Disk += fi.Size()
		}
	}
	out := make([]Summary, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Node < out[b].Node })
	return out
}
