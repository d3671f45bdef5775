package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

type inner struct {
	A int
	B []string
}

type record struct {
	ID    uint32
	Name  string
	Score float64
	Tags  map[string]int
	Ptr   *inner
	Arr   [3]int16
	Raw   []byte
	Items []inner
}

type withIface struct {
	V any
}

type celsius float32

func roundTrip[T any](t *testing.T, vals ...T) {
	t.Helper()
	c := For[T]()
	var buf []byte
	for _, v := range vals {
		buf = c.Append(buf, v)
	}
	for i, want := range vals {
		got, n, err := c.Decode(buf)
		if err != nil {
			t.Fatalf("%T value %d: decode: %v", want, i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%T value %d: got %#v want %#v", want, i, got, want)
		}
		buf = buf[n:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left over", len(buf))
	}
}

func TestRoundTrip(t *testing.T) {
	roundTrip(t, 0, 1, -1, math.MaxInt, math.MinInt)
	roundTrip(t, int8(-128), int8(127))
	roundTrip[uint64](t, 0, math.MaxUint64)
	roundTrip(t, 0.0, -1.5, math.Inf(1), math.MaxFloat64)
	roundTrip[float32](t, 1.25, -3)
	roundTrip(t, "", "hello", "héllo\x00")
	roundTrip(t, []byte(nil), []byte{1, 2, 3})
	roundTrip(t, true, false)
	roundTrip[celsius](t, 21.5)
	roundTrip(t, []int(nil), []int{1, -2, 3})
	roundTrip(t, record{}, record{
		ID: 7, Name: "x", Score: 2.5, Tags: map[string]int{"a": 1},
		Ptr: &inner{A: 1, B: []string{"p"}}, Arr: [3]int16{1, 2, 3}, Raw: []byte("raw"),
		Items: []inner{{A: 2}, {A: 3, B: []string{"q", "r"}}},
	})
	roundTrip(t, withIface{V: 3}, withIface{V: "s"})
}

func TestKindOfCodec(t *testing.T) {
	if _, ok := For[int]().(intCodec[int]); !ok {
		t.Errorf("int: got %T, want the fast codec", For[int]())
	}
	if _, ok := For[record]().(reflectCodec[record]); !ok {
		t.Errorf("record: got %T, want the reflective codec", For[record]())
	}
	if _, ok := For[withIface]().(gobCodec[withIface]); !ok {
		t.Errorf("withIface: got %T, want the gob fallback", For[withIface]())
	}
}

type upper string

type upperCodec struct{}

func (upperCodec) Append(dst []byte, v upper) []byte {
	return stringCodec{}.Append(append(dst, 'U'), string(v))
}
func (upperCodec) Decode(src []byte) (upper, int, error) {
	if len(src) == 0 || src[0] != 'U' {
		return "", 0, ErrCorrupt
	}
	s, n, err := stringCodec{}.Decode(src[1:])
	return upper(s), n + 1, err
}

func TestRegister(t *testing.T) {
	Register[upper](upperCodec{})
	b := For[upper]().Append(nil, "x")
	if string(b) != "U\x01x" {
		t.Fatalf("registered codec not used: %q", b)
	}
	roundTrip[upper](t, "a", "bc")
}

func TestCorrupt(t *testing.T) {
	cases := []struct {
		name string
		dec  func([]byte) error
		in   []byte
	}{
		{"int empty", func(b []byte) error { _, _, err := For[int]().Decode(b); return err }, nil},
		{"int64 short", func(b []byte) error { _, _, err := For[int64]().Decode(b); return err }, For[int]().Append(nil, 300)[:7]},
		{"uint16 short", func(b []byte) error { _, _, err := For[uint16]().Decode(b); return err }, []byte{1}},
		{"string short", func(b []byte) error { _, _, err := For[string]().Decode(b); return err }, []byte{5, 'a'}},
		{"slice huge count", func(b []byte) error { _, _, err := For[[]int]().Decode(b); return err }, []byte{0xff, 0xff, 0xff, 0x7f}},
		{"struct truncated", func(b []byte) error { _, _, err := For[record]().Decode(b); return err }, []byte{7}},
		{"gob garbage", func(b []byte) error { _, _, err := For[withIface]().Decode(b); return err }, []byte{2, 9, 9}},
	}
	for _, c := range cases {
		if err := c.dec(c.in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", c.name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(For[record]().Append(nil, record{Name: "n", Tags: map[string]int{"k": 2}, Ptr: &inner{}}))
	f.Add([]byte{1, 2, 3})
	f.Add(For[withIface]().Append(nil, withIface{V: 1.5}))
	f.Add(For[flatAll]().Append(nil, flatAll{I: 5, In: flatInner{S: "s"}}))
	f.Add(For[[]fuzzPair]().Append(nil, []fuzzPair{{1, -2}, {3, 4}}))
	f.Add(For[[]fuzzMixed]().Append(nil, []fuzzMixed{{A: -1, T: true, F: 1.5}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Decoding arbitrary bytes must return an error or a value, never panic,
		// and a decoded value must re-encode to a prefix-consistent length.
		if v, n, err := For[record]().Decode(b); err == nil {
			if n > len(b) {
				t.Fatalf("consumed %d of %d bytes", n, len(b))
			}
			For[record]().Append(nil, v)
		}
		For[[]string]().Decode(b)
		For[map[int]float64]().Decode(b)
		For[withIface]().Decode(b)
		For[int64]().Decode(b)
		For[flatAll]().Decode(b)
		fuzzFixed[fuzzPair](t, b)
		fuzzFixed[fuzzMixed](t, b)
		fuzzFixed[bool](t, b)
	})
}

type fuzzPair struct {
	K int
	V int64
}

type fuzzMixed struct {
	A int16
	T bool
	F float32
	U uint
}

// fuzzFixed decodes b as a []E in the fixed-size form, alone and from an
// arena: an error or a value whose encoding is the bytes consumed.
func fuzzFixed[E any](t *testing.T, b []byte) {
	c := For[[]E]()
	var a Arena
	v1, n1, err1 := c.Decode(b)
	v2, n2, err2 := DecodeIn(c, b, &a)
	if (err1 == nil) != (err2 == nil) || n1 != n2 || string(c.Append(nil, v1)) != string(c.Append(nil, v2)) { // NaNs are not DeepEqual
		t.Fatalf("[]%T: Decode and DecodeIn disagree: %v, %v", *new(E), err1, err2)
	}
	if err1 != nil {
		if !errors.Is(err1, ErrCorrupt) {
			t.Fatalf("[]%T: %v does not wrap ErrCorrupt", *new(E), err1)
		}
		return
	}
	// The count may be a longer varint than Append writes; the elements'
	// bytes are the only ones of their values.
	re := c.Append(nil, v1)
	k := len(re) - len(binary.AppendUvarint(nil, uint64(len(v1))))
	if string(re[len(re)-k:]) != string(b[n1-k:n1]) {
		t.Fatalf("[]%T: re-encoding %x, consumed %x", *new(E), re, b[:n1])
	}
}

type flatInner struct {
	B bool
	S string
}

type flatAll struct {
	I   int
	I8  int8
	I16 int16
	I32 int32
	U   uint
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
	F32 float32
	F64 float64
	In  flatInner
	N   celsius
}

// The flat codec round-trips, and writes exactly what the reflective codec
// writes (so either can read the other's output).
func TestFlatCodec(t *testing.T) {
	if _, ok := For[flatAll]().(flatCodec[flatAll]); !ok {
		t.Fatalf("flatAll: got %T", For[flatAll]())
	}
	vals := []flatAll{{}, {I: -1, I8: -128, I16: 300, I32: -70000, U: 1 << 40, U8: 255, U16: 65535, U32: 1 << 31,
		U64: math.MaxUint64, F32: 1.5, F64: -2.25, In: flatInner{true, "héllo"}, N: 3.5}}
	roundTrip(t, vals...)
	enc, err := compile(reflect.TypeFor[flatAll](), 0)
	if err != nil {
		t.Fatal(err)
	}
	rc := reflectCodec[flatAll]{enc}
	for _, v := range vals {
		a, b := For[flatAll]().Append(nil, v), rc.Append(nil, v)
		if string(a) != string(b) {
			t.Fatalf("encodings differ: %x vs %x", a, b)
		}
		if got, _, err := rc.Decode(a); err != nil || got != v {
			t.Fatalf("reflective decode of flat encoding: %+v, %v", got, err)
		}
	}
	// Integers are fixed width: a field cut short is corrupt input.
	cut := For[struct{ X, Y int16 }]().Append(nil, struct{ X, Y int16 }{1, -2})
	if len(cut) != 4 {
		t.Fatalf("two int16 fields in %d bytes, want 4", len(cut))
	}
	if _, _, err := For[struct{ X, Y int16 }]().Decode(cut[:3]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short int16 field: %v", err)
	}
}

// Slices of flat structs (a group's members) use the flat field table over
// the backing array; those with strings write exactly what the reflective
// codec writes, those of fixed-size elements the fixed-size form. Both read
// back; truncated or overflowing input is corrupt.
func TestFlatSliceCodec(t *testing.T) {
	if _, ok := For[[]flatAll]().(flatSliceCodec[[]flatAll]); !ok {
		t.Fatalf("[]flatAll: got %T", For[[]flatAll]())
	}
	type pair struct {
		K int
		V int64
	}
	type members []pair // a named slice type
	vals := [][]flatAll{nil, {{}}, {{I: -1, I8: -128, U64: math.MaxUint64, F32: 1.5, In: flatInner{true, "héllo"}, N: 3.5}, {I: 7, In: flatInner{S: "x"}}}}
	roundTrip(t, vals...)
	roundTrip(t, members(nil), members{{1, 0}, {2, -1}, {math.MaxInt, math.MinInt64}})
	enc, err := compile(reflect.TypeFor[[]flatAll](), 0)
	if err != nil {
		t.Fatal(err)
	}
	rc := reflectCodec[[]flatAll]{enc}
	for _, v := range vals {
		a, b := For[[]flatAll]().Append(nil, v), rc.Append(nil, v)
		if string(a) != string(b) {
			t.Fatalf("encodings differ: %x vs %x", a, b)
		}
		if got, _, err := rc.Decode(a); err != nil || !reflect.DeepEqual(got, v) {
			t.Fatalf("reflective decode of flat slice encoding: %+v, %v", got, err)
		}
	}
	// The fixed-size form, byte for byte: the count, then each field
	// little-endian at its full width.
	got := For[members]().Append(nil, members{{1, -2}, {0x0102030405060708, math.MinInt64}})
	want := []byte{2,
		1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0x80}
	if string(got) != string(want) {
		t.Fatalf("fixed-size form %x, want %x", got, want)
	}
	full := For[members]().Append(nil, members{{1, 2}, {3, 4}})
	for i := range len(full) {
		if _, _, err := For[members]().Decode(full[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: %v", i, len(full), err)
		}
	}
	type narrow struct {
		K int8
		V int64
	}
	// A count the bytes left cannot hold is corrupt, whatever it claims.
	for _, in := range [][]byte{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, append([]byte{3}, make([]byte, 47)...)} {
		if _, _, err := For[members]().Decode(in); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("count beyond the input %x: %v", in[:1], err)
		}
	}
	// A bool byte other than 0 or 1 is corrupt, in the copied form too.
	type flags struct {
		On  bool
		Off bool
	}
	if c := For[[]flags]().(flatSliceCodec[[]flags]); !c.mem {
		t.Fatalf("[]flags: %+v, want the copied form", c)
	}
	if _, _, err := For[[]flags]().Decode([]byte{1, 0, 2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bool 2: %v", err)
	}
	if _, _, err := For[[]narrow]().Decode([]byte{1, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatalf("narrow: %v", err)
	}
}

// The fixed-size form: copied where it is the element's memory, written by
// the loop over fields elsewhere (padding, narrow fields, int as 8 bytes),
// the same bytes either way; random values round-trip for every shape,
// at lengths around the arena's and after a prefix, with and without an
// arena.
func TestFixedSliceProperty(t *testing.T) {
	type ints struct {
		K int
		U uint64
		V int64
	}
	type padded struct { // padding after A and T
		A int8
		V int
		T bool
		F float64
	}
	type mixed struct {
		A int32
		B uint8
		F float64
		G float32
		T bool
		V int
	}
	type nested struct {
		P ints
		E struct{} // no leaves
	}
	if c := For[[]ints]().(flatSliceCodec[[]ints]); !c.fixed || c.mem != littleEndian || c.wsize != 24 {
		t.Fatalf("[]ints: %+v", c)
	}
	if c := For[[]padded]().(flatSliceCodec[[]padded]); !c.fixed || c.mem || c.wsize != 18 {
		t.Fatalf("[]padded: %+v", c)
	}
	if c := For[[]mixed]().(flatSliceCodec[[]mixed]); !c.fixed || c.mem || c.wsize != 26 {
		t.Fatalf("[]mixed: %+v", c)
	}
	if c := For[[]flatAll]().(flatSliceCodec[[]flatAll]); c.fixed {
		t.Fatalf("[]flatAll: %+v", c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	wide := func() uint64 { return rng.Uint64() >> rng.IntN(64) }
	for _, n := range []int{0, 1, 2, 255, 256, 3000} {
		a, b, c := make([]ints, n), make([]padded, n), make([]mixed, n)
		for i := range n {
			a[i] = ints{int(wide()), wide(), -int64(wide())}
			b[i] = padded{int8(wide()), int(wide()), rng.IntN(2) == 1, rng.NormFloat64()}
			c[i] = mixed{int32(wide()), uint8(wide()), rng.NormFloat64(), float32(rng.NormFloat64()), rng.IntN(2) == 1, int(wide())}
		}
		checkFixedSlice(t, a)
		checkFixedSlice(t, b)
		checkFixedSlice(t, c)
		checkFixedSlice(t, []float32{float32(rng.NormFloat64()), float32(math.Inf(-1))})
	}
	checkFixedSlice(t, []ints{{math.MinInt, math.MaxUint64, math.MaxInt64}, {math.MaxInt, 0, math.MinInt64}})
	checkFixedSlice(t, []bool{true, false, true})
	checkFixedSlice(t, []int{math.MinInt, -1, 0, 1, math.MaxInt})
	checkFixedSlice(t, []nested{{P: ints{1, 2, 3}}})
	checkFixedSlice(t, []struct{}{{}, {}})
}

// checkFixedSlice checks that v's encoding is the loop's bytes (so the
// copied form matches the portable one), and that it decodes back, alone
// and from an arena, after a prefix.
func checkFixedSlice[E any](t *testing.T, v []E) {
	t.Helper()
	c := For[[]E]().(flatSliceCodec[[]E])
	prefix := []byte("abc")
	got := c.Append(prefix[:len(prefix):len(prefix)], v)
	loop := c
	loop.mem = false
	if want := loop.Append(prefix, v); string(got) != string(want) {
		t.Fatalf("[]%T, %d elements: the copied form differs from the loop's", *new(E), len(v))
	}
	var a Arena
	for _, dec := range []func([]byte) ([]E, int, error){c.Decode, loop.Decode,
		func(b []byte) ([]E, int, error) { return DecodeIn[[]E](c, b, &a) }} {
		back, n, err := dec(got[len(prefix):])
		if err != nil || n != len(got)-len(prefix) || len(back) != len(v) || (len(v) > 0 && !reflect.DeepEqual(back, v)) {
			t.Fatalf("[]%T, %d elements: decoded %d of %d bytes, %d elements, %v", *new(E), len(v), n, len(got)-len(prefix), len(back), err)
		}
	}
}

// Records decoded with one arena share its chunks: a partition of groups
// takes one allocation for all its members, and each group keeps its own
// length and capacity (appending to one does not overwrite the next).
func TestArena(t *testing.T) {
	type pair struct {
		K int
		V int64
	}
	c := For[[]pair]()
	var buf []byte
	groups := make([][]pair, 200)
	for i := range groups {
		for j := range 100 {
			groups[i] = append(groups[i], pair{i*100 + j, int64(j)})
		}
		buf = c.Append(buf, groups[i])
	}
	var a Arena
	var out [][]pair
	allocs := testing.AllocsPerRun(1, func() {
		out = out[:0]
		a = Arena{}
		b := buf
		for len(b) > 0 {
			v, n, err := DecodeIn(c, b, &a)
			if err != nil {
				t.Fatal(err)
			}
			out, b = append(out, v), b[n:]
		}
	})
	if allocs > 3 {
		t.Fatalf("%v allocations decoding 200 groups with an arena", allocs)
	}
	if !reflect.DeepEqual(out, groups) {
		t.Fatal("decoded groups differ")
	}
	out[0] = append(out[0], pair{-1, -1})
	if out[1][0] != (pair{100, 0}) {
		t.Fatalf("appending to a group overwrote the next: %+v", out[1][0])
	}
}

// Integers are written little-endian at their wire width (int and uint at
// 8 bytes everywhere) and read back with their sign, extremes included.
func TestIntegerWidths(t *testing.T) {
	check := func(name string, b []byte, want int) {
		t.Helper()
		if len(b) != want {
			t.Errorf("%s: %d bytes, want %d", name, len(b), want)
		}
	}
	check("int8", For[int8]().Append(nil, -1), 1)
	check("uint16", For[uint16]().Append(nil, 7), 2)
	check("int32", For[int32]().Append(nil, 7), 4)
	check("int", For[int]().Append(nil, 1), 8)
	check("uint", For[uint]().Append(nil, 1), 8)
	if b := For[int16]().Append(nil, -2); b[0] != 0xfe || b[1] != 0xff {
		t.Errorf("int16 -2 as %x, want little-endian fffe", b)
	}
	roundTrip[int8](t, math.MinInt8, -1, 0, math.MaxInt8)
	roundTrip[int16](t, math.MinInt16, -300, math.MaxInt16)
	roundTrip[int32](t, math.MinInt32, -70000, math.MaxInt32)
	roundTrip[int](t, math.MinInt, -1, math.MaxInt)
	roundTrip[uint8](t, 0, 255)
	roundTrip[uint32](t, 0, math.MaxUint32)
	roundTrip[uint64](t, 0, math.MaxUint64)
	type named struct {
		A int8
		B []int16 // not flat: the reflective codec
		C uint
	}
	roundTrip[named](t, named{A: -128, B: []int16{-1, 32767}, C: math.MaxUint})
}
