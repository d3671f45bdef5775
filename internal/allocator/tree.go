package allocator

import (
	"strings"
)

// node is one level of the role tree ("eng" and "eng/web" for the role
// eng/web): what every role at or below it holds, its weight and its
// weighted dominant share. Roles are sorted by these (hierarchical DRF),
// and quota consumption is a node's allocation.
type node struct {
	name   string
	weight float64
	alloc  []int64
	share  float64 // dominant share of alloc divided by weight
	refs   int     // roles whose path includes this node
}

// pathOf returns the nodes from the top of the tree down to role (one per
// '/'-separated prefix), creating them and taking a reference on each.
func (a *Allocator) pathOf(role string) []*node {
	var path []*node
	for i := 0; ; {
		j := strings.IndexByte(role[i:], '/')
		name := role
		if j >= 0 {
			name = role[:i+j]
		}
		n := a.nodes[name]
		if n == nil {
			n = &node{name: name, weight: a.Weight(name)}
			a.nodes[name] = n
			if q := a.quotas[name]; q != nil {
				q.node = n
			}
		}
		n.refs++
		path = append(path, n)
		if j < 0 {
			return path
		}
		i += j + 1
	}
}

// dropPath releases the references pathOf took.
func (a *Allocator) dropPath(path []*node) {
	for _, n := range path {
		if n.refs--; n.refs == 0 {
			delete(a.nodes, n.name)
			if q := a.quotas[n.name]; q != nil {
				q.node = nil
			}
		}
	}
}

func compareNodes(x, y *node) int {
	switch {
	case x.share < y.share:
		return -1
	case x.share > y.share:
		return 1
	}
	return strings.Compare(x.name, y.name)
}

// compareRoles orders roles as a depth-first walk of the role tree in
// which siblings are sorted by their subtree's weighted share (ties by
// name). A role that has children takes part among them as a leaf with
// its own share, sorted before a child with an equal share.
func compareRoles(x, y *role) int {
	px, py := x.path, y.path
	n := min(len(px), len(py))
	for i := range n {
		if px[i] != py[i] {
			return compareNodes(px[i], py[i])
		}
	}
	switch {
	case len(px) == len(py):
		return 0
	case len(px) < len(py): // x is an ancestor of y
		if x.share <= py[n].share {
			return -1
		}
		return 1
	default:
		if y.share <= px[n].share {
			return 1
		}
		return -1
	}
}
