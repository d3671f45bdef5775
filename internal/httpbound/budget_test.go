package httpbound

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// inUse reports the bytes taken.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.capacity - b.free
}

func TestBudgetFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(100)
		ctx := context.Background()
		if n, err := b.acquire(ctx, 60); err != nil || n != 60 {
			t.Fatalf("acquire 60: %d, %v", n, err)
		}
		// 50 does not fit; 10 would, but waits behind 50 (no overtaking).
		granted := make(chan int64, 2)
		for _, n := range []int64{50, 10} {
			go func() {
				b.acquire(ctx, n)
				granted <- n
			}()
			synctest.Wait()
		}
		if len(granted) != 0 {
			t.Fatalf("%d granted with 60 of 100 taken; want both waiting", len(granted))
		}
		b.release(60)
		synctest.Wait()
		if first, second := <-granted, <-granted; first+second != 60 || b.inUse() != 60 {
			t.Fatalf("granted %d and %d, in use %d; want 50, 10 and 60", first, second, b.inUse())
		}
	})
}

func TestBudgetLargerThanCapacity(t *testing.T) {
	b := newBudget(100)
	n, err := b.acquire(context.Background(), 1000)
	if err != nil || n != 100 {
		t.Fatalf("acquire 1000 of 100: %d, %v; want the whole budget", n, err)
	}
	b.release(n)
	if b.inUse() != 0 {
		t.Fatalf("in use %d after release", b.inUse())
	}
}

func TestBudgetWaitEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(100)
		held, _ := b.acquire(context.Background(), 100)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := b.acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("acquire past its deadline: %v", err)
		}
		// The one that gave up left no trace: a later one is served on release.
		b.release(held)
		if n, err := b.acquire(context.Background(), 100); err != nil || n != 100 {
			t.Fatalf("acquire after release: %d, %v", n, err)
		}
	})
}

func TestBudgetGiveUpUnblocksNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(100)
		b.acquire(context.Background(), 50)
		// A waiter for 80 at the head gives up; the 40 behind it fits and
		// must be granted then, not at the next release.
		ctx, cancel := context.WithCancel(context.Background())
		go b.acquire(ctx, 80)
		synctest.Wait()
		got40 := make(chan struct{})
		go func() { b.acquire(context.Background(), 40); close(got40) }()
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case <-got40:
		default:
			t.Fatal("the waiter behind one that gave up was not granted")
		}
	})
}
