package relay

import (
	"slices"
	"testing"
)

// Values posted from one goroutine arrive in order, all of them, while
// the consumer is slow (Post never waits), and Run returns after done.
func TestRelayOrderAndEnd(t *testing.T) {
	r := New[int]()
	done := make(chan struct{})
	got := make(chan []int)
	gate := make(chan struct{})
	go func() {
		var seen []int
		r.Run(done, func(v int) {
			if v == 0 {
				<-gate // a consumer that blocks: posting goes on
			}
			seen = append(seen, v)
		})
		got <- seen
	}()
	var want []int
	for i := range 1000 {
		r.Post(i)
		want = append(want, i)
	}
	close(gate)
	close(done)
	if seen := <-got; !slices.Equal(seen, want) {
		t.Fatalf("got %d values (first %v), want 0..999 in order", len(seen), seen[:min(5, len(seen))])
	}
}

// Run returns at once when done is closed and nothing was posted.
func TestRelayEmpty(t *testing.T) {
	done := make(chan struct{})
	close(done)
	New[string]().Run(done, func(string) { t.Error("nothing was posted") })
}
