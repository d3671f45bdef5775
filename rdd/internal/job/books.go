package job

// Books are a session's map-output tracker and stage numbering, shared by
// its jobs. Not safe for concurrent use: the caller serialises access.
type Books struct {
	outputs   map[int]*shuffleOutputs // shuffle id -> its map outputs
	kept      map[string]bool         // executors whose outputs outlive them (an external shuffle service serves them)
	stageOf   map[int]int             // shuffle id -> stage id
	nextStage int
	seq       int64 // registrations so far: orders outputs against task launches
}

type shuffleOutputs struct {
	exec  []string  // per map: the executor holding the output, "" when missing
	sizes [][]int64 // per map, per reducer
	at    []int64   // per map: Books.seq of its registration
	count int
}

// NewBooks returns empty books.
func NewBooks() *Books {
	return &Books{outputs: map[int]*shuffleOutputs{}, stageOf: map[int]int{}}
}

// MapOutput reports whether map task m of shuffle sh has a registered
// output (plan.State).
func (b *Books) MapOutput(sh, m int) bool {
	o := b.outputs[sh]
	return o != nil && m < len(o.exec) && o.exec[m] != ""
}

// Column fills, for reducer r of shuffle sh, each map output's executor
// (Location) into execs and its block size for r into sizes (-1 when the
// output or its size is missing): what a reduce task's locations need, one
// lookup of the shuffle for all its maps.
func (b *Books) Column(sh, r int, execs []string, sizes []int64) {
	o := b.outputs[sh]
	for m := range execs {
		execs[m], sizes[m] = "", -1
		if o == nil {
			continue
		}
		if m < len(o.exec) {
			execs[m] = o.exec[m]
		}
		if m < len(o.sizes) && r < len(o.sizes[m]) {
			sizes[m] = o.sizes[m][r]
		}
	}
}

// Register records map output m of shuffle sh (of maps map tasks) on
// executor exec, and reports whether the shuffle is complete.
func (b *Books) Register(sh, maps, m int, exec string, sizes []int64) (complete bool) {
	o := b.outputs[sh]
	if o == nil {
		o = &shuffleOutputs{exec: make([]string, maps), sizes: make([][]int64, maps), at: make([]int64, maps)}
		b.outputs[sh] = o
	}
	if o.exec[m] == "" {
		o.count++
	}
	o.exec[m], o.sizes[m] = exec, sizes
	b.seq++
	o.at[m] = b.seq
	return o.count == len(o.exec)
}

// Seq orders registrations: a map output registered after Seq returned n
// reports RegisteredAfter(sh, m, n).
func (b *Books) Seq() int64 { return b.seq }

// RegisteredAfter reports whether map output m of shuffle sh is registered
// and was registered after Seq returned seq.
func (b *Books) RegisteredAfter(sh, m int, seq int64) bool {
	o := b.outputs[sh]
	return o != nil && m < len(o.exec) && o.exec[m] != "" && o.at[m] > seq
}

// Unregister forgets a lost map output and reports whether it was
// registered.
func (b *Books) Unregister(sh, m int) bool {
	o := b.outputs[sh]
	if o == nil || m >= len(o.exec) || o.exec[m] == "" {
		return false
	}
	o.exec[m], o.sizes[m] = "", nil
	o.count--
	return true
}

// KeepOutputs makes exec's map outputs outlive it: ExecutorLost leaves
// them registered (an external shuffle service serves them; a failed fetch
// unregisters them one by one).
func (b *Books) KeepOutputs(exec string) {
	if b.kept == nil {
		b.kept = map[string]bool{}
	}
	b.kept[exec] = true
}

// ExecutorLost forgets every map output held by exec and returns how many
// (none when its outputs are kept).
func (b *Books) ExecutorLost(exec string) int {
	if b.kept[exec] {
		return 0
	}
	n := 0
	for sh, o := range b.outputs {
		for m, e := range o.exec {
			if e == exec && b.Unregister(sh, m) {
				n++
			}
		}
	}
	return n
}

// RemoveShuffle forgets a shuffle (its dependency is garbage) and returns
// its number of map tasks, or 0 when it had no output.
func (b *Books) RemoveShuffle(sh int) int {
	o := b.outputs[sh]
	delete(b.outputs, sh)
	delete(b.stageOf, sh)
	if o == nil {
		return 0
	}
	return len(o.exec)
}

// stageID returns the stage id of shuffle sh's map stage (stable across
// jobs, so a reused shuffle keeps its id), or a fresh id for a result stage
// (sh < 0).
func (b *Books) stageID(sh int) int {
	if sh >= 0 {
		if id, ok := b.stageOf[sh]; ok {
			return id
		}
	}
	id := b.nextStage
	b.nextStage++
	if sh >= 0 {
		b.stageOf[sh] = id
	}
	return id
}
