package h1pipe

import (
	"io"
	"testing"
)

// TestTakeWhole checks that a body gives its bytes whole only when none
// was read, and counts them read.
func TestTakeWhole(t *testing.T) {
	b := &body{b: []byte("abcd")}
	got, ok := b.TakeWhole()
	if !ok || string(got) != "abcd" {
		t.Fatalf("TakeWhole = %q, %v", got, ok)
	}
	if _, ok := b.TakeWhole(); ok {
		t.Fatal("taken twice")
	}
	if n, err := b.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("read after taking: %d, %v", n, err)
	}
	b = &body{b: []byte("abcd")}
	if _, err := b.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.TakeWhole(); ok {
		t.Fatal("taken after a read")
	}
	b = &body{b: []byte("ab"), err: io.ErrUnexpectedEOF}
	if _, ok := b.TakeWhole(); ok {
		t.Fatal("taken though it did not arrive whole")
	}
}
