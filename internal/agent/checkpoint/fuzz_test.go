package checkpoint

import (
	"testing"
)

// The decoder of executor.json never panics, and what it accepts encodes
// again.
func FuzzDecodeExecutor(f *testing.F) {
	_, cp, _ := sample()
	good, err := encodeExecutor(cp)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"state":"RUNNING","tasks":[{"task":"AAAA"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cp, err := decodeExecutor(data)
		if err != nil {
			return
		}
		if _, err := encodeExecutor(cp); err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
	})
}
