package ui

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"
)

// dag is a job's stage graph: one box per stage (its latest attempt),
// an arrow from the stage writing a shuffle to each stage reading it,
// laid out in columns by depth (parents left of children).
type dag struct {
	nodes []dagNode
	edges [][2]int // indexes into nodes: from, to
}

type dagNode struct {
	stage, attempt int
	name, status   string
	col, row       int
}

func jobDAG(st *State, j *Job) *dag {
	latest := map[int]*Stage{}
	var order []int
	for _, k := range j.Stages {
		s := st.Stages[k]
		if prev, ok := latest[k.Stage]; !ok {
			order = append(order, k.Stage)
			latest[k.Stage] = s
		} else if s.Attempt > prev.Attempt {
			latest[k.Stage] = s
		}
	}
	index := map[int]int{}
	d := &dag{}
	for _, sk := range j.Skipped {
		if _, ok := latest[sk.Stage]; !ok {
			index[sk.Stage] = len(d.nodes)
			d.nodes = append(d.nodes, dagNode{stage: sk.Stage, name: sk.Name, status: Skipped})
		}
	}
	for _, id := range order {
		s := latest[id]
		index[id] = len(d.nodes)
		d.nodes = append(d.nodes, dagNode{stage: id, attempt: s.Attempt, name: s.Name, status: s.Status})
	}
	for _, id := range order {
		for _, sh := range latest[id].Parents {
			if p, ok := st.StageOfShuffle(sh); ok {
				if pi, ok := index[p]; ok {
					d.edges = append(d.edges, [2]int{pi, index[id]})
				}
			}
		}
	}
	// Depth: longest path from a source; stages arrive parents first, but
	// iterate to a fixed point to be safe with any order.
	for changed := true; changed; {
		changed = false
		for _, e := range d.edges {
			if c := d.nodes[e[0]].col + 1; c > d.nodes[e[1]].col {
				d.nodes[e[1]].col, changed = c, true
			}
		}
	}
	rows := map[int]int{}
	for i := range d.nodes {
		d.nodes[i].row = rows[d.nodes[i].col]
		rows[d.nodes[i].col]++
	}
	return d
}

const (
	boxW, boxH = 170, 46
	gapX, gapY = 50, 18
)

func (d *dag) svg() template.HTML {
	if len(d.nodes) == 0 {
		return ""
	}
	cols, rows := 0, 0
	for _, n := range d.nodes {
		cols, rows = max(cols, n.col+1), max(rows, n.row+1)
	}
	w, h := cols*(boxW+gapX)-gapX+2, rows*(boxH+gapY)-gapY+2
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="dag" role="img" aria-label="stage graph" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h, w, h)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`)
	pos := func(n dagNode) (int, int) { return 1 + n.col*(boxW+gapX), 1 + n.row*(boxH+gapY) }
	for _, e := range d.edges {
		x1, y1 := pos(d.nodes[e[0]])
		x2, y2 := pos(d.nodes[e[1]])
		fmt.Fprintf(&b, `<line class="edge" x1="%d" y1="%d" x2="%d" y2="%d" marker-end="url(#arrow)"/>`, x1+boxW, y1+boxH/2, x2, y2+boxH/2)
	}
	for _, n := range d.nodes {
		x, y := pos(n)
		fmt.Fprintf(&b, `<g class="stage-node %s" data-stage="%d"><rect x="%d" y="%d" width="%d" height="%d" rx="6"/>`,
			strings.ToLower(n.status), n.stage, x, y, boxW, boxH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="title">Stage %d%s</text>`, x+8, y+18, n.stage, skippedSuffix(n.status))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="sub">%s</text></g>`, x+8, y+36, html.EscapeString(shorten(n.name, 26)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped text only
}

func skippedSuffix(status string) string {
	if status == Skipped {
		return " (skipped)"
	}
	return ""
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// timeline draws each executor's life as a bar from added to removed (or
// to now / the application's end).
type timeline struct {
	execs      []*Executor
	start, end time.Time
}

func newTimeline(execs []*Executor, app App) *timeline {
	t := &timeline{execs: execs, start: app.Start, end: app.End}
	if t.end.IsZero() {
		for _, x := range execs {
			t.end = later(t.end, later(x.Added, x.Removed))
		}
		t.end = later(t.end, time.Now())
	}
	for _, x := range execs {
		if t.start.IsZero() || (!x.Added.IsZero() && x.Added.Before(t.start)) {
			t.start = x.Added
		}
	}
	return t
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (t *timeline) svg() template.HTML {
	if len(t.execs) == 0 || !t.end.After(t.start) {
		return ""
	}
	const w, rowH, label = 760, 22, 110
	total := t.end.Sub(t.start).Seconds()
	x := func(at time.Time) int {
		if at.IsZero() {
			at = t.end
		}
		return label + int(float64(w-label-4)*at.Sub(t.start).Seconds()/total)
	}
	h := len(t.execs)*rowH + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" role="img" aria-label="executors timeline" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h, w, h)
	for i, e := range t.execs {
		y := i * rowH
		cls := "alive"
		if !e.Removed.IsZero() {
			cls = "removed"
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" class="sub">%s</text>`, y+15, html.EscapeString(shorten(e.ID, 14)))
		x1, x2 := x(e.Added), x(e.Removed)
		fmt.Fprintf(&b, `<rect class="life %s" data-executor="%s" x="%d" y="%d" width="%d" height="%d" rx="3"><title>%s</title></rect>`,
			cls, html.EscapeString(e.ID), x1, y+4, max(x2-x1, 2), rowH-8, html.EscapeString(lifeTitle(e)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="sub">%s</text>`, label, h-4, html.EscapeString(formatTime(t.start)))
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="sub" text-anchor="end">+%s</text>`, w-4, h-4, html.EscapeString(formatDuration(t.end.Sub(t.start))))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped text only
}

func lifeTitle(e *Executor) string {
	s := "added " + formatTime(e.Added)
	if !e.Removed.IsZero() {
		s += ", removed " + formatTime(e.Removed)
		if e.Reason != "" {
			s += ": " + e.Reason
		}
	}
	return s
}
