package checkpoint

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

// tree maps every file under dir (relative) to its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A batch leaves the store as the same changes made one by one do
// (differential, over random sequences of writes, removals and clears of
// a few frameworks and runs): dropping superseded writes and grouping the
// others between removals changes nothing but the count of fsyncs.
func TestBatchEqualsOneByOne(t *testing.T) {
	fw, cp, _ := sample()
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 1))
		one, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		batched, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b := batched.NewBatch()
		for step := range 1 + rng.IntN(12) {
			fid := []string{"f1", "f2"}[rng.IntN(2)]
			eid, cid := []string{"e1", "e2"}[rng.IntN(2)], []string{"c1", "c2"}[rng.IntN(2)]
			var errOne, errBatch error
			switch rng.IntN(6) {
			case 0:
				a := Agent{AgentID: "a" + string(rune('0'+step)), BootID: "b"}
				errOne, errBatch = one.WriteAgent(a), b.WriteAgent(a)
			case 1:
				info := proto.CloneOf(fw)
				info.Id = &mesospb.FrameworkID{Value: proto.String(fid)}
				info.Name = proto.String(strings.Repeat("n", step+1))
				errOne, errBatch = one.WriteFramework(info), b.WriteFramework(info)
			case 2, 3:
				c := cp
				c.FrameworkID, c.ExecutorID, c.ContainerID = fid, eid, cid
				c.Info = &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String(eid)},
					Name: proto.String(strings.Repeat("x", step+1))}
				errOne, errBatch = one.WriteExecutor(c), b.WriteExecutor(c)
			case 4:
				if rng.IntN(3) == 0 {
					eid, cid = "", ""
				}
				errOne, errBatch = one.Remove(fid, eid, cid), b.Remove(fid, eid, cid)
			case 5:
				if rng.IntN(3) == 0 {
					errOne = one.Clear()
					b.Clear()
				}
			}
			if errOne != nil || errBatch != nil {
				t.Fatalf("seed %d step %d: %v, %v", seed, step, errOne, errBatch)
			}
		}
		if err := b.Commit(); err != nil {
			t.Fatalf("seed %d: commit: %v", seed, err)
		}
		want, got := tree(t, one.Dir()), tree(t, batched.Dir())
		if len(want) != len(got) {
			t.Fatalf("seed %d: one by one %d files %v, batched %d files %v", seed, len(want), keys(want), len(got), keys(got))
		}
		for p, w := range want {
			if got[p] != w {
				t.Fatalf("seed %d: %s differs (batched has %d bytes, one by one %d)", seed, p, len(got[p]), len(w))
			}
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A write that a later one in the batch replaces is not made: only the
// last content of each file is written (and synced), and a run removed
// later in the batch is not written at all.
func TestBatchSkipsSupersededWrites(t *testing.T) {
	fw, cp, _ := sample()
	ops := []op{
		{kind: opWrite, path: "/m/a", data: []byte("1")},
		{kind: opWrite, path: "/m/f/r1/x", data: []byte("1")},
		{kind: opWrite, path: "/m/a", data: []byte("2")},
		{kind: opRemove, path: "/m/f/r1"},
		{kind: opWrite, path: "/m/f/r2/x", data: []byte("1")},
	}
	got := live(ops)
	if len(got) != 3 || string(got[0].data) != "2" || got[1].kind != opRemove || got[2].path != "/m/f/r2/x" {
		t.Fatalf("live = %+v", got)
	}
	if got := live(append(ops, op{kind: opClear})); len(got) != 1 || got[0].kind != opClear {
		t.Fatalf("live before a clear = %+v", got)
	}
	// Through the store: two records of one run, the second kept.
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	if err := b.WriteFramework(fw); err != nil {
		t.Fatal(err)
	}
	first := cp
	first.State = 0
	if err := b.WriteExecutor(first); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteExecutor(cp); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load(true)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Executors) != 1 || st.Executors[0].State != cp.State {
		t.Fatalf("loaded %+v", st.Executors)
	}
}
