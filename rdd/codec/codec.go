package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"unsafe"
)

// ErrCorrupt is wrapped by every decoding error: the input is truncated or
// is not the encoding of a value of the expected type.
var ErrCorrupt = errors.New("codec: corrupt input")

// A Codec encodes and decodes values of type T.
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended slice.
	Append(dst []byte, v T) []byte
	// Decode decodes one value from the front of src and returns it with the
	// number of bytes consumed. The value must not refer to src's bytes:
	// the engine unmaps or reuses what it decodes from (shuffle blocks,
	// results received from executors).
	Decode(src []byte) (v T, n int, err error)
}

// A Maker is implemented by types that build their own codec; MakeCodec must
// return a Codec[T] for its own type T. It is called on the zero value, once.
type Maker interface {
	MakeCodec() any
}

var (
	regMu    sync.RWMutex
	registry = map[reflect.Type]any{} // guarded by regMu: type -> Codec[T]
	compiled sync.Map                 // reflect.Type -> any (Codec[T]) cache for For
)

// Register makes c the codec For returns for T. Register it before any
// dataset of T is built (typically in an init function).
func Register[T any](c Codec[T]) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[reflect.TypeFor[T]()] = c
	compiled.Delete(reflect.TypeFor[T]())
}

// For returns a codec for T. It never fails: types that the fast and
// reflective codecs cannot handle fall back to encoding/gob, whose errors
// surface when a value is encoded or decoded.
func For[T any]() Codec[T] {
	t := reflect.TypeFor[T]()
	if c, ok := compiled.Load(t); ok {
		return c.(Codec[T])
	}
	c := build[T](t)
	compiled.Store(t, c)
	return c
}

func build[T any](t reflect.Type) Codec[T] {
	regMu.RLock()
	r, ok := registry[t]
	regMu.RUnlock()
	if ok {
		return r.(Codec[T])
	}
	var zero T
	if c, ok := fastCodec(any(zero)); ok {
		return c.(Codec[T])
	}
	if m, ok := any(zero).(Maker); ok {
		if c, ok := m.MakeCodec().(Codec[T]); ok {
			return c
		}
	}
	if t != nil {
		if fields, ok := flatFields(t, 0, 0); ok {
			return flatCodec[T]{fields}
		}
		if t.Kind() == reflect.Slice {
			if fields, ok := flatFields(t.Elem(), 0, 1); ok {
				return newFlatSliceCodec[T](t, fields)
			}
			if f, ok := leafField(t.Elem(), 0, "element"); ok && f.kind != fString {
				return newFlatSliceCodec[T](t, []flatField{f}) // []int, []float64 ...
			}
		}
		if enc, err := compile(t, 0); err == nil {
			return reflectCodec[T]{enc}
		}
	}
	return gobCodec[T]{}
}

func fastCodec(zero any) (any, bool) {
	switch zero.(type) {
	case int:
		return intCodec[int]{w: 8}, true
	case int8:
		return intCodec[int8]{w: 1}, true
	case int16:
		return intCodec[int16]{w: 2}, true
	case int32:
		return intCodec[int32]{w: 4}, true
	case int64:
		return intCodec[int64]{w: 8}, true
	case uint:
		return uintCodec[uint]{w: 8}, true
	case uint8:
		return uintCodec[uint8]{w: 1}, true
	case uint16:
		return uintCodec[uint16]{w: 2}, true
	case uint32:
		return uintCodec[uint32]{w: 4}, true
	case uint64:
		return uintCodec[uint64]{w: 8}, true
	case float64:
		return float64Codec{}, true
	case float32:
		return float32Codec{}, true
	case string:
		return stringCodec{}, true
	case []byte:
		return bytesCodec{}, true
	case bool:
		return boolCodec{}, true
	}
	return nil, false
}

type signed interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64
}

type unsigned interface {
	~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Integers are written little-endian at their wire width: their size, and
// 8 bytes for int and uint on every platform (as in the fixed-size form of
// slices). Fixed width costs bytes for small values but no varint loop on
// either side, which measured cheaper for whole jobs (docs/BENCHMARKS.md).
type intCodec[T signed] struct{ w uintptr }

func (c intCodec[T]) Append(dst []byte, v T) []byte { return appendWire(dst, uint64(v), c.w) }

func (c intCodec[T]) Decode(src []byte) (T, int, error) {
	_, v, ok := readWire(src, c.w)
	if !ok {
		return 0, 0, fmt.Errorf("%w: short %T", ErrCorrupt, T(0))
	}
	if int64(T(v)) != v {
		return 0, 0, fmt.Errorf("%w: integer %d overflows %T", ErrCorrupt, v, T(0))
	}
	return T(v), int(c.w), nil
}

type uintCodec[T unsigned] struct{ w uintptr }

func (c uintCodec[T]) Append(dst []byte, v T) []byte { return appendWire(dst, uint64(v), c.w) }

func (c uintCodec[T]) Decode(src []byte) (T, int, error) {
	v, _, ok := readWire(src, c.w)
	if !ok {
		return 0, 0, fmt.Errorf("%w: short %T", ErrCorrupt, T(0))
	}
	if uint64(T(v)) != v {
		return 0, 0, fmt.Errorf("%w: integer %d overflows %T", ErrCorrupt, v, T(0))
	}
	return T(v), int(c.w), nil
}

// appendWire appends the low w bytes (1, 2, 4 or 8) of x, little-endian.
func appendWire(dst []byte, x uint64, w uintptr) []byte {
	switch w {
	case 1:
		return append(dst, byte(x))
	case 2:
		return binary.LittleEndian.AppendUint16(dst, uint16(x))
	case 4:
		return binary.LittleEndian.AppendUint32(dst, uint32(x))
	}
	return binary.LittleEndian.AppendUint64(dst, x)
}

// readWire reads what appendWire wrote: x zero-extended and sx
// sign-extended; ok is false when src is too short.
func readWire(src []byte, w uintptr) (x uint64, sx int64, ok bool) {
	if uintptr(len(src)) < w {
		return 0, 0, false
	}
	switch w {
	case 1:
		return uint64(src[0]), int64(int8(src[0])), true
	case 2:
		u := binary.LittleEndian.Uint16(src)
		return uint64(u), int64(int16(u)), true
	case 4:
		u := binary.LittleEndian.Uint32(src)
		return uint64(u), int64(int32(u)), true
	}
	x = binary.LittleEndian.Uint64(src)
	return x, int64(x), true
}

type float64Codec struct{}

func (float64Codec) Append(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}

func (float64Codec) Decode(src []byte) (float64, int, error) {
	if len(src) < 8 {
		return 0, 0, fmt.Errorf("%w: short float64", ErrCorrupt)
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(src)), 8, nil
}

type float32Codec struct{}

func (float32Codec) Append(dst []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
}

func (float32Codec) Decode(src []byte) (float32, int, error) {
	if len(src) < 4 {
		return 0, 0, fmt.Errorf("%w: short float32", ErrCorrupt)
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(src)), 4, nil
}

type boolCodec struct{}

func (boolCodec) Append(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func (boolCodec) Decode(src []byte) (bool, int, error) {
	if len(src) < 1 || src[0] > 1 {
		return false, 0, fmt.Errorf("%w: bad bool", ErrCorrupt)
	}
	return src[0] == 1, 1, nil
}

// lenPrefix decodes a length prefix and checks that n bytes follow it.
func lenPrefix(src []byte) (length, n int, err error) {
	l, n := binary.Uvarint(src)
	if n <= 0 || l > uint64(len(src)-n) {
		return 0, 0, fmt.Errorf("%w: bad length prefix", ErrCorrupt)
	}
	return int(l), n, nil
}

type stringCodec struct{}

func (stringCodec) Append(dst []byte, v string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func (stringCodec) Decode(src []byte) (string, int, error) {
	l, n, err := lenPrefix(src)
	if err != nil {
		return "", 0, err
	}
	return string(src[n : n+l]), n + l, nil
}

type bytesCodec struct{}

func (bytesCodec) Append(dst []byte, v []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func (bytesCodec) Decode(src []byte) ([]byte, int, error) {
	l, n, err := lenPrefix(src)
	if err != nil {
		return nil, 0, err
	}
	if l == 0 {
		return nil, n, nil
	}
	b := make([]byte, l)
	copy(b, src[n:n+l])
	return b, n + l, nil
}

// An Arena holds the backing arrays of the slices of fixed-size elements
// that DecodeIn decodes: the records of one buffer (a partition sent by an
// executor, a cached block) share a few large allocations instead of one
// per slice. The zero Arena is ready; it is not safe for concurrent use.
// A chunk stays allocated while any slice in it is reachable.
type Arena struct {
	free []uint64 // the current chunk's unused part (8-byte aligned, no pointers)
}

// arenaChunk bounds an arena's chunk; a larger slice gets its own.
const arenaChunk = 8 << 20

// alloc returns size bytes (size > 0), 8-byte aligned, zeroed, for
// elements without pointers; hint is what the rest of the input is likely
// to need, the size of a new chunk (within arenaChunk).
func (a *Arena) alloc(size uintptr, hint int) unsafe.Pointer {
	words := int((size + 7) / 8)
	if words > len(a.free) {
		n := words
		if size < arenaChunk {
			n = max(words, min(hint, arenaChunk)/8+1)
		}
		a.free = make([]uint64, n)
	}
	p := unsafe.Pointer(unsafe.SliceData(a.free))
	a.free = a.free[words:]
	return p
}

// An ArenaDecoder decodes like Decode, taking the backing arrays of the
// slices of fixed-size elements it decodes from a. Codecs composing others
// (rdd.Pair's) implement it with DecodeIn.
type ArenaDecoder[T any] interface {
	DecodeArena(src []byte, a *Arena) (v T, n int, err error)
}

// DecodeIn decodes one value of c from the front of src, with a's backing
// arrays where c can use them (an ArenaDecoder), else with c.Decode.
func DecodeIn[T any](c Codec[T], src []byte, a *Arena) (T, int, error) {
	if d, ok := c.(ArenaDecoder[T]); ok && a != nil {
		return d.DecodeArena(src, a)
	}
	return c.Decode(src)
}
