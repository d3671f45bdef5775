package memnet

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
)

func TestDialReachesAccept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Listen("example.test:1")
		if got := l.Addr().String(); got != "example.test:1" {
			t.Fatalf("Addr %q", got)
		}
		got := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			b, _ := io.ReadAll(c)
			got <- string(b)
		}()
		c, err := l.Dial(context.Background(), "tcp", "anywhere:2")
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		c.Close()
		if s := <-got; s != "hello" {
			t.Fatalf("accepted side read %q", s)
		}
	})
}

func TestClosedListenerRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Listen("example.test:1")
		l.Close()
		l.Close() // twice is fine
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
		if _, err := l.Dial(context.Background(), "tcp", "x:1"); err == nil {
			t.Fatal("Dial after Close succeeded")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Listen("y:1").Dial(ctx, "tcp", "y:1"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial with a cancelled context: %v", err)
		}
	})
}
