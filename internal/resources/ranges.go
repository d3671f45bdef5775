package resources

import (
	"slices"
	"strconv"
	"strings"
)

// Range is an inclusive interval [Begin, End] of uint64 values.
type Range struct {
	Begin, End uint64
}

// normalizeRanges sorts rs and merges overlapping and adjacent intervals. It
// may reorder rs in place; callers pass a slice they own.
func normalizeRanges(rs []Range) []Range {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b Range) int {
		switch {
		case a.Begin < b.Begin:
			return -1
		case a.Begin > b.Begin:
			return 1
		}
		return 0
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if last.End == ^uint64(0) || r.Begin <= last.End+1 {
			last.End = max(last.End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// addRanges returns the union of two normalized range lists.
func addRanges(a, b []Range) []Range {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	merged := make([]Range, 0, len(a)+len(b))
	merged = append(merged, a...)
	merged = append(merged, b...)
	return normalizeRanges(merged)
}

// subtractRanges returns a minus b, both normalized. Intervals of b that
// fall inside an interval of a split it in two.
func subtractRanges(a, b []Range) []Range {
	if len(a) == 0 || len(b) == 0 {
		return a
	}
	out := make([]Range, 0, len(a)+1)
	j := 0
	for _, cur := range a {
		for j < len(b) && b[j].End < cur.Begin {
			j++
		}
		k := j
		for k < len(b) && b[k].Begin <= cur.End && cur.Begin <= cur.End {
			cut := b[k]
			if cut.Begin > cur.Begin {
				out = append(out, Range{cur.Begin, cut.Begin - 1})
			}
			if cut.End >= cur.End {
				cur.Begin, cur.End = 1, 0 // consumed
				break
			}
			cur.Begin = cut.End + 1
			k++
		}
		if cur.Begin <= cur.End {
			out = append(out, cur)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// containsRanges reports whether every value of b lies in a.
func containsRanges(a, b []Range) bool {
	i := 0
	for _, r := range b {
		for i < len(a) && a[i].End < r.Begin {
			i++
		}
		if i == len(a) || a[i].Begin > r.Begin || a[i].End < r.End {
			return false
		}
	}
	return true
}

// intersectRanges returns the values present in both a and b.
func intersectRanges(a, b []Range) []Range {
	var out []Range
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].Begin, b[j].Begin), min(a[i].End, b[j].End)
		if lo <= hi {
			out = append(out, Range{lo, hi})
		}
		if a[i].End < b[j].End {
			i++
		} else {
			j++
		}
	}
	return out
}

// countRanges returns the number of values in rs, saturating at MaxInt64.
func countRanges(rs []Range) int64 {
	var n uint64
	for _, r := range rs {
		w := r.End - r.Begin + 1
		if w == 0 || n+w < n || n+w > 1<<62 {
			return 1 << 62
		}
		n += w
	}
	return int64(n)
}

func formatRanges(b *strings.Builder, rs []Range) {
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(r.Begin, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(r.End, 10))
	}
	b.WriteByte(']')
}

// sets

func normalizeSet(items []string) []string {
	if len(items) == 0 {
		return nil
	}
	slices.Sort(items)
	return slices.Compact(items)
}

func addSets(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	return normalizeSet(out)
}

func subtractSets(a, b []string) []string {
	if len(a) == 0 || len(b) == 0 {
		return a
	}
	var out []string
	for _, s := range a {
		if _, found := slices.BinarySearch(b, s); !found {
			out = append(out, s)
		}
	}
	return out
}

func containsSet(a, b []string) bool {
	for _, s := range b {
		if _, found := slices.BinarySearch(a, s); !found {
			return false
		}
	}
	return true
}

func intersectSets(a, b []string) []string {
	var out []string
	for _, s := range b {
		if _, found := slices.BinarySearch(a, s); found {
			out = append(out, s)
		}
	}
	return out
}

func formatSet(b *strings.Builder, items []string) {
	b.WriteByte('{')
	b.WriteString(strings.Join(items, ","))
	b.WriteByte('}')
}
