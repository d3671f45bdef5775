package shufflenet

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

func FuzzDecodeRequest(f *testing.F) {
	f.Add(appendRequest(nil, request{Shuffle: 1, Spans: []span{{0, 0, 3}, {7, 1, 1}}}))
	f.Add([]byte(requestMagic + "\x01\xff\xff\xff\xff\x0f"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b, 1000)
		if err != nil {
			return
		}
		if r.blocks() > 1000 {
			t.Fatalf("%d blocks accepted", r.blocks())
		}
		again, err := decodeRequest(appendRequest(nil, r), 1000)
		if err != nil || fmt.Sprint(again) != fmt.Sprint(r) {
			t.Fatalf("re-encoding %v: %v, %v", r, again, err)
		}
	})
}

func FuzzReadFrames(f *testing.F) {
	var b []byte
	b = appendFrameHeader(b, frame{Kind: frameBlock, Map: 1, Reduce: 2, Len: 3, CRC: 7})
	b = append(b, "abc"...)
	b = appendFrameHeader(b, frame{Kind: frameMissing, Map: 2, Msg: "gone"})
	b = appendFrameHeader(b, frame{Kind: frameEnd, Count: 2})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for range 100 {
			fr, err := readFrameHeader(r)
			if err != nil {
				return
			}
			if len(fr.Msg) > maxMessage || fr.Len < 0 {
				t.Fatalf("frame %+v out of bounds", fr)
			}
			if fr.Kind == frameBlock {
				r.Discard(int(min(fr.Len, 1<<20)))
			}
		}
	})
}
