package plan

import (
	"errors"
	"reflect"
	"testing"
)

type state struct {
	outputs map[[2]int]bool
	cached  map[[2]int]bool
}

func (s state) MapOutput(sh, m int) bool    { return s.outputs[[2]int{sh, m}] }
func (s state) Cached(n NodeID, p int) bool { return s.cached[[2]int{int(n), p}] }
func empty() state                          { return state{map[[2]int]bool{}, map[[2]int]bool{}} }
func narrow(parent NodeID) Dep              { return Dep{Parent: parent, Shuffle: -1} }
func shuffleDep(parent NodeID, sh int) Dep  { return Dep{Parent: parent, Shuffle: sh} }
func node(parts int, deps ...Dep) *Node     { return &Node{Partitions: parts, Deps: deps} }
func stage(sh int, n NodeID, missing []int, parents ...int) Stage {
	return Stage{Shuffle: sh, Node: n, Missing: missing, Parents: parents}
}

func check(t *testing.T, g Graph, target NodeID, parts []int, st State, want ...Stage) {
	t.Helper()
	p, err := Compute(g, target, parts, st)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if want[i].Parents == nil {
			want[i].Parents = []int{}
		}
	}
	for i := range p.Stages {
		if p.Stages[i].Parents == nil {
			p.Stages[i].Parents = []int{}
		}
	}
	if !reflect.DeepEqual(p.Stages, want) {
		t.Fatalf("stages:\n got %+v\nwant %+v", p.Stages, want)
	}
}

// range(0) -> map(1) -> filter(2): one pipelined stage.
func TestNarrowChainIsOneStage(t *testing.T) {
	g := Graph{0: node(3), 1: node(3, narrow(0)), 2: node(3, narrow(1))}
	check(t, g, 2, []int{2, 0, 1, 0}, empty(), stage(-1, 2, []int{0, 1, 2}))
}

// range(0) -> keyBy(1) =shuffle 7=> groupBy(2) -> map(3).
func demoGraph() Graph {
	return Graph{0: node(4), 1: node(4, narrow(0)), 2: node(2, shuffleDep(1, 7)), 3: node(2, narrow(2))}
}

func TestShuffleCutsStages(t *testing.T) {
	check(t, demoGraph(), 3, []int{0, 1}, empty(),
		stage(7, 1, []int{0, 1, 2, 3}),
		stage(-1, 3, []int{0, 1}, 7))
}

func TestExistingMapOutputsAreReused(t *testing.T) {
	st := empty()
	st.outputs[[2]int{7, 0}], st.outputs[[2]int{7, 2}] = true, true
	check(t, demoGraph(), 3, []int{1}, st,
		stage(7, 1, []int{1, 3}),
		stage(-1, 3, []int{1}, 7))
	for m := range 4 {
		st.outputs[[2]int{7, m}] = true
	}
	p, _ := Compute(demoGraph(), 3, []int{0, 1}, st)
	if len(p.Stages) != 1 || !reflect.DeepEqual(p.Stages[0].Parents, []int{7}) {
		t.Fatalf("complete shuffle: got %+v", p.Stages)
	}
	if len(p.Ready()) != 1 {
		t.Fatalf("result stage should be ready: %+v", p.Ready())
	}
}

func TestCachedPartitionsCutTheWalk(t *testing.T) {
	st := empty()
	// Partition 0 of the groupBy (node 2) is cached: computing node 3's
	// partition 0 needs no shuffle; partition 1 still does.
	st.cached[[2]int{2, 0}] = true
	check(t, demoGraph(), 3, []int{0}, st, stage(-1, 3, []int{0}))
	check(t, demoGraph(), 3, []int{0, 1}, st,
		stage(7, 1, []int{0, 1, 2, 3}),
		stage(-1, 3, []int{0, 1}, 7))
	// A cached target partition is read by its task.
	st.cached[[2]int{3, 1}] = true
	check(t, demoGraph(), 3, []int{0, 1}, st, stage(-1, 3, []int{0, 1}))
}

// Join: two shuffles feed the result; both map stages are ready at once, and
// a second-level shuffle waits for its parent.
func TestJoinAndChainedShuffles(t *testing.T) {
	g := Graph{
		0: node(2), 1: node(3),
		2: node(2, shuffleDep(0, 1), shuffleDep(1, 2)), // cogroup
		3: node(2, shuffleDep(2, 3)),                   // sort after join
	}
	p, err := Compute(g, 3, []int{0, 1}, empty())
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{
		stage(1, 0, []int{0, 1}),
		stage(2, 1, []int{0, 1, 2}),
		stage(3, 2, []int{0, 1}, 1, 2),
		stage(-1, 3, []int{0, 1}, 3),
	}
	for i := range want {
		if want[i].Parents == nil {
			want[i].Parents = nil
		}
	}
	if len(p.Stages) != 4 {
		t.Fatalf("got %+v", p.Stages)
	}
	for i := range want {
		if p.Stages[i].Shuffle != want[i].Shuffle || !reflect.DeepEqual(p.Stages[i].Missing, want[i].Missing) ||
			len(p.Stages[i].Parents) != len(want[i].Parents) {
			t.Fatalf("stage %d: got %+v want %+v", i, p.Stages[i], want[i])
		}
	}
	ready := p.Ready()
	if len(ready) != 2 || ready[0].Shuffle != 1 || ready[1].Shuffle != 2 {
		t.Fatalf("ready: %+v", ready)
	}
}

// Union and coalesce map partitions to parent partitions; only the needed
// parent partitions are walked.
func TestNarrowPartitionMapping(t *testing.T) {
	g := Graph{
		0: node(2, shuffleDep(5, 1)), 5: node(2),
		6: node(3),
		// union: partitions 0,1 from node 0, 2,3,4 from node 6
		7: node(5, Dep{Parent: 0, Shuffle: -1, Parents: func(p int) []int {
			if p < 2 {
				return []int{p}
			}
			return nil
		}}, Dep{Parent: 6, Shuffle: -1, Parents: func(p int) []int {
			if p >= 2 {
				return []int{p - 2}
			}
			return nil
		}}),
	}
	check(t, g, 7, []int{3, 4}, empty(), stage(-1, 7, []int{3, 4}))
	check(t, g, 7, []int{0, 4}, empty(), stage(1, 5, []int{0, 1}), stage(-1, 7, []int{0, 4}, 1))
}

func TestBadGraphs(t *testing.T) {
	cases := map[string]func() error{
		"unknown target": func() error { _, err := Compute(Graph{}, 1, nil, empty()); return err },
		"bad partition":  func() error { _, err := Compute(Graph{0: node(1)}, 0, []int{1}, empty()); return err },
		"unknown parent": func() error { _, err := Compute(Graph{0: node(1, narrow(9))}, 0, []int{0}, empty()); return err },
		"bad mapping": func() error {
			g := Graph{0: node(1), 1: node(1, Dep{Parent: 0, Shuffle: -1, Parents: func(int) []int { return []int{3} }})}
			_, err := Compute(g, 1, []int{0}, empty())
			return err
		},
		"cycle": func() error {
			g := Graph{0: node(1, shuffleDep(1, 1)), 1: node(1, shuffleDep(0, 2))}
			_, err := Compute(g, 0, []int{0}, empty())
			return err
		},
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrBadGraph) {
			t.Errorf("%s: got %v, want ErrBadGraph", name, err)
		}
	}
}

func TestDeterministic(t *testing.T) {
	g := Graph{}
	for i := range 20 {
		g[NodeID(i)] = node(3)
	}
	var deps []Dep
	for i := range 20 {
		deps = append(deps, shuffleDep(NodeID(i), 100-i))
	}
	g[50] = node(2, deps...)
	first, _ := Compute(g, 50, []int{0, 1}, empty())
	for range 20 {
		again, _ := Compute(g, 50, []int{0, 1}, empty())
		if !reflect.DeepEqual(first, again) {
			t.Fatal("plans differ between runs")
		}
	}
}
