package plan

import (
	"errors"
	"fmt"
	"slices"
)

// ErrBadGraph is wrapped by errors about an inconsistent lineage graph.
var ErrBadGraph = errors.New("plan: bad graph")

// NodeID identifies a dataset in a Graph.
type NodeID int

// Dep is one dependency of a node on a parent.
type Dep struct {
	Parent NodeID
	// Shuffle is the shuffle id of a shuffle dependency, or -1 for a narrow
	// dependency.
	Shuffle int
	// Parents maps a partition of the child to the parent partitions it reads
	// (narrow dependencies only). Nil means the same partition (one-to-one).
	Parents func(part int) []int
}

// Node is one dataset of the graph.
type Node struct {
	Partitions int
	Deps       []Dep
}

// Graph is a lineage graph.
type Graph map[NodeID]*Node

// State tells what already exists. It is a snapshot: Plan calls it only while
// it runs.
type State interface {
	// MapOutput reports whether map task m of shuffle s has a usable output.
	MapOutput(shuffle, m int) bool
	// Cached reports whether partition p of node n is cached.
	Cached(n NodeID, p int) bool
}

// Stage is one stage of a plan.
type Stage struct {
	// Shuffle is the shuffle this stage writes, or -1 for the result stage.
	Shuffle int
	// Node is the last dataset of the stage's pipeline.
	Node NodeID
	// Missing lists the partitions (tasks) to compute, ascending.
	Missing []int
	// Parents lists the shuffles the missing tasks read, ascending.
	Parents []int
}

// Plan lists the stages that must run, parents before children; the result
// stage is last. A shuffle stage appears only when some of its map outputs
// are missing.
type Plan struct {
	Stages []Stage
}

// Ready reports the stages that can run now: those whose parent shuffles are
// all complete (none of them is a stage of this plan).
func (p *Plan) Ready() []Stage {
	pending := map[int]bool{}
	for _, s := range p.Stages {
		if s.Shuffle >= 0 {
			pending[s.Shuffle] = true
		}
	}
	var ready []Stage
	for _, s := range p.Stages {
		if !slices.ContainsFunc(s.Parents, func(sh int) bool { return pending[sh] }) {
			ready = append(ready, s)
		}
	}
	return ready
}

type planner struct {
	g        Graph
	st       State
	shuffles map[int]NodeID // shuffle id -> map-side node
	order    []int          // shuffle ids in post-order (parents first)
	done     map[int]bool   // shuffles already analysed
	stages   map[int]*Stage
}

// Compute plans the computation of parts of node target.
func Compute(g Graph, target NodeID, parts []int, st State) (*Plan, error) {
	p := &planner{g: g, st: st, shuffles: map[int]NodeID{}, done: map[int]bool{}, stages: map[int]*Stage{}}
	tn, ok := g[target]
	if !ok {
		return nil, fmt.Errorf("%w: unknown node %d", ErrBadGraph, target)
	}
	for _, q := range parts {
		if q < 0 || q >= tn.Partitions {
			return nil, fmt.Errorf("%w: node %d has no partition %d", ErrBadGraph, target, q)
		}
	}
	result := Stage{Shuffle: -1, Node: target, Missing: sortedUnique(parts)}
	parents, err := p.walk(target, result.Missing)
	if err != nil {
		return nil, err
	}
	result.Parents = parents
	out := &Plan{}
	for _, sh := range p.order {
		if s := p.stages[sh]; s != nil {
			out.Stages = append(out.Stages, *s)
		}
	}
	out.Stages = append(out.Stages, result)
	return out, nil
}

// walk visits the pipeline of a stage whose last node is root, for partitions
// parts, and returns the shuffles those partitions read. A cached partition
// ends the walk: its task reads the cache.
func (p *planner) walk(root NodeID, parts []int) ([]int, error) {
	type np struct {
		n NodeID
		p int
	}
	seen := map[np]bool{}
	reads := map[int]bool{}
	var visit func(n NodeID, q int, isRoot bool) error
	visit = func(n NodeID, q int, isRoot bool) error {
		if seen[np{n, q}] {
			return nil
		}
		seen[np{n, q}] = true
		if !isRoot && p.st.Cached(n, q) {
			return nil
		}
		node := p.g[n]
		for _, d := range node.Deps {
			parent, ok := p.g[d.Parent]
			if !ok {
				return fmt.Errorf("%w: node %d depends on unknown node %d", ErrBadGraph, n, d.Parent)
			}
			if d.Shuffle >= 0 {
				reads[d.Shuffle] = true
				if err := p.shuffle(d.Shuffle, d.Parent); err != nil {
					return err
				}
				continue
			}
			pp := []int{q}
			if d.Parents != nil {
				pp = d.Parents(q)
			}
			for _, x := range pp {
				if x < 0 || x >= parent.Partitions {
					return fmt.Errorf("%w: node %d partition %d maps to missing partition %d of node %d",
						ErrBadGraph, n, q, x, d.Parent)
				}
				if err := visit(d.Parent, x, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, q := range parts {
		// Cached root partitions are read by their task, not recomputed; they
		// still run as tasks but need nothing upstream.
		if p.st.Cached(root, q) {
			continue
		}
		if err := visit(root, q, true); err != nil {
			return nil, err
		}
	}
	out := make([]int, 0, len(reads))
	for sh := range reads {
		out = append(out, sh)
	}
	slices.Sort(out)
	return out, nil
}

// shuffle analyses shuffle sh whose map side is node n.
func (p *planner) shuffle(sh int, n NodeID) error {
	if prev, ok := p.shuffles[sh]; ok {
		if prev != n {
			return fmt.Errorf("%w: shuffle %d has two map sides (%d, %d)", ErrBadGraph, sh, prev, n)
		}
		if !p.done[sh] {
			return fmt.Errorf("%w: cycle through shuffle %d", ErrBadGraph, sh)
		}
		return nil
	}
	p.shuffles[sh] = n
	var missing []int
	for m := range p.g[n].Partitions {
		if !p.st.MapOutput(sh, m) {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		parents, err := p.walk(n, missing)
		if err != nil {
			return err
		}
		p.stages[sh] = &Stage{Shuffle: sh, Node: n, Missing: missing, Parents: parents}
	}
	p.done[sh] = true
	p.order = append(p.order, sh)
	return nil
}

func sortedUnique(parts []int) []int {
	out := slices.Clone(parts)
	slices.Sort(out)
	return slices.Compact(out)
}
