package codec

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"testing"
)

type benchPair struct {
	Key   int
	Value int64
}

type benchRecord struct {
	Name  string
	Count int
	Score float64
	Tags  []string
}

// benchCodec encodes and decodes one value per iteration with c.
func benchCodec[T any](b *testing.B, c Codec[T], v T) {
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = c.Append(buf[:0], v)
		if _, _, err := c.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// benchGob encodes and decodes values with one gob stream (gob's best case:
// type information is sent once), for comparison.
func benchGob[T any](b *testing.B, v T) {
	var buf bytes.Buffer
	enc, dec := gob.NewEncoder(&buf), gob.NewDecoder(&buf)
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(&v); err != nil {
			b.Fatal(err)
		}
		var out T
		if err := dec.Decode(&out); err != nil {
			b.Fatal(err)
		}
	}
}

// Run: go test -run '^$' -bench . -benchmem ./rdd/codec/
func BenchmarkCodec(b *testing.B) {
	rec := benchRecord{Name: "mesos-agent-17", Count: 12345, Score: 0.75, Tags: []string{"rack:r1", "zone:a"}}
	b.Run("int/fast", func(b *testing.B) { benchCodec(b, For[int](), 1234567) })
	b.Run("int/gob-stream", func(b *testing.B) { benchGob(b, 1234567) })
	b.Run("string/fast", func(b *testing.B) { benchCodec(b, For[string](), "the quick brown fox") })
	b.Run("string/gob-stream", func(b *testing.B) { benchGob(b, "the quick brown fox") })
	b.Run("pair-struct/flat", func(b *testing.B) { benchCodec(b, For[benchPair](), benchPair{42, 4200}) })
	group := make([]benchPair, 100) // a demo group's members
	for i := range group {
		group[i] = benchPair{i * 7, int64(i) * 1000}
	}
	b.Run("group-100/flat-slice", func(b *testing.B) { benchCodec(b, For[[]benchPair](), group) })
	b.Run("group-100/reflect", func(b *testing.B) {
		enc, err := compile(reflect.TypeFor[[]benchPair](), 0)
		if err != nil {
			b.Fatal(err)
		}
		benchCodec(b, Codec[[]benchPair](reflectCodec[[]benchPair]{enc}), group)
	})
	b.Run("pair-struct/reflect", func(b *testing.B) {
		enc, _ := compile(reflect.TypeFor[benchPair](), 0)
		benchCodec[benchPair](b, reflectCodec[benchPair]{enc}, benchPair{42, 4200})
	})
	b.Run("pair-struct/gob-stream", func(b *testing.B) { benchGob(b, benchPair{42, 4200}) })
	b.Run("record/reflect", func(b *testing.B) { benchCodec(b, For[benchRecord](), rec) })
	b.Run("record/gob-fallback", func(b *testing.B) { benchCodec[benchRecord](b, gobCodec[benchRecord]{}, rec) })
	b.Run("record/gob-stream", func(b *testing.B) { benchGob(b, rec) })
}
