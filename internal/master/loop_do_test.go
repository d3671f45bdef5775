package master

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoopDo: do returns once its input has run, each input runs exactly
// once although the signal channels are reused, and a stopped loop gives
// errStopped.
func TestLoopDo(t *testing.T) {
	l := &loop{inbox: make(chan job), done: make(chan struct{})}
	stop := make(chan struct{})
	go func() { // the part of run that applies inputs
		defer close(l.done)
		for {
			select {
			case j := <-l.inbox:
				j.run(l, time.Now())
			case <-stop:
				return
			}
		}
	}()
	const callers, calls = 8, 200
	var ran [callers * calls]atomic.Int32
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range calls {
				n := c*calls + i
				if err := l.do(context.Background(), func(*loop, time.Time) { ran[n].Add(1) }); err != nil {
					t.Error(err)
					return
				}
				if got := ran[n].Load(); got != 1 {
					t.Errorf("input %d ran %d times when do returned", n, got)
					return
				}
			}
		})
	}
	wg.Wait()
	for n := range ran {
		if got := ran[n].Load(); got != 1 {
			t.Fatalf("input %d ran %d times", n, got)
		}
	}

	close(stop)
	<-l.done
	if err := l.do(context.Background(), func(*loop, time.Time) {}); !errors.Is(err, errStopped) {
		t.Errorf("do on a stopped loop = %v, want errStopped", err)
	}
}
