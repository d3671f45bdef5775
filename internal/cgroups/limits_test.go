package cgroups

import (
	"errors"
	"path"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSelect(t *testing.T) {
	s := Select([]string{"posix/cpu", IsolatorMem, IsolatorAll, "filesystem/posix"})
	if !slices.Equal(s.Controllers, []Controller{CPU, Memory, Pids}) {
		t.Errorf("controllers %v", s.Controllers)
	}
	if s.Flag(Memory) != "--isolation=cgroups/mem" || s.Flag(CPU) != "--isolation=cgroups/all" {
		t.Errorf("flags %v", s.By)
	}
	if s := Select([]string{"posix/mem"}); len(s.Controllers) != 0 {
		t.Errorf("posix only: %v", s.Controllers)
	}
}

func TestComputeLimits(t *testing.T) {
	all := Select([]string{IsolatorAll})
	cases := []struct {
		name      string
		sel       Selection
		cpus      float64
		mem       uint64
		cfs       bool
		pids      uint64
		want      Limits
		wantV2CPU string
		wantW     uint64
	}{
		{"half cpu cfs", all, 0.5, 64 << 20, true, 100,
			Limits{CPUShares: 512, CFSPeriod: 100 * time.Millisecond, CFSQuota: 50 * time.Millisecond, MemoryBytes: 64 << 20, MemorySoftBytes: 64 << 20, Pids: 100},
			"50000 100000", 20},
		{"tiny cpu and mem hit the minimums", all, 0.001, 1 << 20, true, 0,
			Limits{CPUShares: 2, CFSPeriod: 100 * time.Millisecond, CFSQuota: time.Millisecond, MemoryBytes: 32 << 20, MemorySoftBytes: 32 << 20},
			"1000 100000", 1},
		{"no cfs", all, 2, 0, false, 0, Limits{CPUShares: 2048}, "max 100000", 79},
		{"huge cpus capped", all, 1000, 0, false, 0, Limits{CPUShares: 262144}, "max 100000", 10000},
		{"mem only", Select([]string{IsolatorMem}), 4, 128 << 20, true, 7,
			Limits{MemoryBytes: 128 << 20, MemorySoftBytes: 128 << 20}, "max 100000", 0},
		{"nothing given", all, 0, 0, true, 0, Limits{}, "max 100000", 0},
	}
	for _, c := range cases {
		got := ComputeLimits(c.sel, c.cpus, c.mem, c.cfs, c.pids)
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
		if v := V2CPUMax(got); v != c.wantV2CPU {
			t.Errorf("%s: cpu.max %q, want %q", c.name, v, c.wantV2CPU)
		}
		if w := V2Weight(got.CPUShares); w != c.wantW {
			t.Errorf("%s: cpu.weight %d, want %d", c.name, w, c.wantW)
		}
	}
	if w := V2Weight(1024); w != 39 {
		t.Errorf("weight of the default shares = %d", w)
	}
}

func TestV2Resources(t *testing.T) {
	l := ComputeLimits(Select([]string{IsolatorAll}), 1.5, 256<<20, true, 64)
	r := V2Resources(l, []string{"cpu", "memory", "pids"})
	if *r.CPU.Weight != 59 || r.CPU.Max != "150000 100000" {
		t.Errorf("cpu %v %q", *r.CPU.Weight, r.CPU.Max)
	}
	if *r.Memory.Max != 256<<20 || *r.Memory.Low != 256<<20 || !*r.Memory.OOMGroup {
		t.Errorf("memory %+v", r.Memory)
	}
	if r.Pids.Max != 64 {
		t.Errorf("pids %+v", r.Pids)
	}
	if ctrls := r.EnabledControllers(); !slices.Equal(ctrls, []string{"cpu", "memory", "pids"}) {
		t.Errorf("controllers %v", ctrls)
	}
	if r := V2Resources(l, []string{"memory"}); r.CPU != nil || r.Pids != nil || r.Memory == nil {
		t.Errorf("only memory: %+v", r)
	}
}

func TestFormatBytesAndMessage(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 1000: "1000B", 1024: "1KB", 1536 << 10: "1536KB", 32 << 20: "32MB", 3 << 30: "3GB", 5 << 40: "5TB", 2048 << 40: "2048TB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	msg := MemoryLimitMessage(64<<20, 64<<20, "cache 0\nrss 67108864\n")
	want := "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB\n\nMEMORY STATISTICS: \ncache 0\nrss 67108864"
	if msg != want {
		t.Errorf("message %q", msg)
	}
	if msg := MemoryLimitMessage(32<<20, 1000, ""); msg != "Memory limit exceeded: Requested: 32MB Maximum Used: 1000B" {
		t.Errorf("no stat: %q", msg)
	}
}

func TestPaths(t *testing.T) {
	p, err := GroupPath("/process_api/abc", "meso", "c-1")
	if err != nil || p != "/process_api/abc/meso/c-1" {
		t.Errorf("GroupPath = %q, %v", p, err)
	}
	if p, _ := GroupPath("/", "meso/agent1", "x"); p != "/meso/agent1/x" {
		t.Errorf("root own: %q", p)
	}
	for _, bad := range [][3]string{{"/", "", "x"}, {"/", "/abs", "x"}, {"/", "a/../b", "x"}, {"/", "a//b", "x"}, {"/", "meso", ""}, {"/", "meso", ".."}, {"/", "meso", "a/b"}, {"rel", "meso", "x"}} {
		if _, err := GroupPath(bad[0], bad[1], bad[2]); !errors.Is(err, ErrInvalid) {
			t.Errorf("GroupPath%q: %v", bad, err)
		}
	}
	own, err := parseV2Group("12:memory:/x\n0::/user.slice/session-1.scope\n")
	if err != nil || own != "/user.slice/session-1.scope" {
		t.Errorf("parseV2Group = %q, %v", own, err)
	}
	if _, err := parseV2Group("4:memory:/x\n"); err == nil {
		t.Error("no v2 line accepted")
	}
	if agentLeaf("meso/a") != "meso_a.agent" {
		t.Errorf("agentLeaf = %q", agentLeaf("meso/a"))
	}
}

// FuzzGroupPath: an accepted path is clean, lies under the cleaned own
// cgroup, and below it holds exactly the root's segments and then id, none
// of them "." or "..".
func FuzzGroupPath(f *testing.F) {
	for _, s := range []string{"meso", "a/b", "../x", "", "/", "a//b", ".", "..0", "a/.../b"} {
		f.Add("/own", s, "id")
	}
	f.Add("//wn", "meso", "c-1")
	f.Add("/", "meso", "..0")
	f.Add("/a/../b/", "meso", "x")
	f.Fuzz(func(t *testing.T, own, root, id string) {
		p, err := GroupPath(own, root, id)
		if err != nil {
			return
		}
		base := path.Clean(own)
		rel, ok := strings.CutPrefix(p, strings.TrimSuffix(base, "/")+"/")
		if !ok || path.Clean(p) != p {
			t.Fatalf("GroupPath(%q, %q, %q) = %q: not a clean path under %q", own, root, id, p, base)
		}
		segs := strings.Split(rel, "/")
		if rel != root+"/"+id || segs[len(segs)-1] != id {
			t.Fatalf("GroupPath(%q, %q, %q) = %q: want %q/%q below %q", own, root, id, p, root, id, base)
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." {
				t.Fatalf("GroupPath(%q, %q, %q) = %q escapes %q through %q", own, root, id, p, base, s)
			}
		}
	})
}
