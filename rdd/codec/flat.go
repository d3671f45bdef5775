package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"unsafe"
)

// flatCodec encodes structs made only of scalars, strings and nested such
// structs, the common shape of records. It walks a table of field offsets
// instead of reflect.Values, so encoding allocates nothing and decoding
// allocates only strings. Its encoding is byte for byte the reflective
// codec's.
type flatCodec[T any] struct {
	fields []flatField
}

type flatKind uint8

const (
	fInt flatKind = iota
	fUint
	fFloat32
	fFloat64
	fBool
	fString
)

type flatField struct {
	off  uintptr
	kind flatKind
	size uintptr // bytes of integer fields
	name string  // for errors
}

// flatFields lists t's leaf fields in order, or reports false when t is not
// flat.
func flatFields(t reflect.Type, base uintptr, depth int) ([]flatField, bool) {
	if t.Kind() != reflect.Struct || depth > maxDepth {
		return nil, false
	}
	var out []flatField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			return nil, false
		}
		ff := flatField{off: base + f.Offset, size: f.Type.Size(), name: f.Name}
		switch f.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			ff.kind = fInt
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			ff.kind = fUint
		case reflect.Float32:
			ff.kind = fFloat32
		case reflect.Float64:
			ff.kind = fFloat64
		case reflect.Bool:
			ff.kind = fBool
		case reflect.String:
			ff.kind = fString
		case reflect.Struct:
			sub, ok := flatFields(f.Type, base+f.Offset, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
			continue
		default:
			return nil, false
		}
		out = append(out, ff)
	}
	return out, true
}

func (c flatCodec[T]) Append(dst []byte, v T) []byte {
	return appendFlat(dst, unsafe.Pointer(&v), c.fields)
}

func (c flatCodec[T]) Decode(src []byte) (T, int, error) {
	var v T
	n, err := decodeFlat(src, unsafe.Pointer(&v), c.fields)
	if err != nil {
		return v, 0, err
	}
	return v, n, nil
}

// flatSliceCodec encodes slices of flat structs (a group's members, say):
// the reflective codec's encoding (the length, then each element), with
// the element's field table walked over the backing array.
type flatSliceCodec[T any] struct {
	t      reflect.Type // T, a slice type
	size   uintptr      // of an element
	fields []flatField
	ints   bool // every field is a 64-bit integer: the unrolled loops below
	max    int  // most bytes an element takes, or 0 (it has strings)
}

// newFlatSliceCodec makes the codec of T, a slice of flat elements.
func newFlatSliceCodec[T any](t reflect.Type, fields []flatField) flatSliceCodec[T] {
	c := flatSliceCodec[T]{t: t, size: t.Elem().Size(), fields: fields, ints: true}
	for _, f := range fields {
		c.ints = c.ints && (f.kind == fInt || f.kind == fUint) && f.size == 8
		switch f.kind {
		case fInt, fUint:
			c.max += binary.MaxVarintLen64
		case fFloat32:
			c.max += 4
		case fFloat64:
			c.max += 8
		case fBool:
			c.max++
		case fString:
			c.max = math.MinInt // no bound
		}
	}
	c.max = max(c.max, 0)
	return c
}

// growChunk is how many elements' room Append reserves at a time.
const growChunk = 256

// sliceHeader is the layout of a Go slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

func (c flatSliceCodec[T]) Append(dst []byte, v T) []byte {
	h := (*sliceHeader)(unsafe.Pointer(&v))
	dst = binary.AppendUvarint(dst, uint64(h.len))
	if c.max == 0 {
		for i := range h.len {
			dst = appendFlat(dst, unsafe.Add(h.data, uintptr(i)*c.size), c.fields)
		}
		return dst
	}
	// Reserve room for a chunk of elements at a time and write into it:
	// one capacity check per chunk instead of one per byte.
	for i := 0; i < h.len; {
		k := min(h.len-i, growChunk)
		dst = slices.Grow(dst, k*c.max)
		n := len(dst)
		buf := dst[:cap(dst)]
		for ; k > 0; k, i = k-1, i+1 {
			p := unsafe.Add(h.data, uintptr(i)*c.size)
			if c.ints {
				for _, f := range c.fields {
					x := *(*uint64)(unsafe.Add(p, f.off))
					if f.kind == fInt {
						x = uint64(int64(x)<<1) ^ uint64(int64(x)>>63) // zigzag, as binary.PutVarint
					}
					n += binary.PutUvarint(buf[n:], x)
				}
				continue
			}
			n = len(appendFlat(buf[:n], p, c.fields))
		}
		dst = buf[:n]
	}
	return dst
}

func (c flatSliceCodec[T]) Decode(src []byte) (T, int, error) {
	var v T
	l, n, err := count(src, c.size)
	if err != nil || l == 0 {
		return v, n, err
	}
	s := reflect.MakeSlice(c.t, l, l)
	p := s.UnsafePointer()
	if c.ints {
		m, err := decodeInts(src[n:], p, l, c.size, c.fields)
		if err != nil {
			return v, 0, err
		}
		*(*sliceHeader)(unsafe.Pointer(&v)) = sliceHeader{p, l, l}
		return v, n + m, nil
	}
	for i := range l {
		m, err := decodeFlat(src[n:], unsafe.Add(p, uintptr(i)*c.size), c.fields)
		if err != nil {
			return v, 0, err
		}
		n += m
	}
	reflect.ValueOf(&v).Elem().Set(s)
	return v, n, nil
}

// decodeInts decodes l elements made only of 64-bit integers into the
// array at p, returning the bytes consumed.
func decodeInts(src []byte, p unsafe.Pointer, l int, size uintptr, fields []flatField) (int, error) {
	n := 0
	for i := range l {
		ep := unsafe.Add(p, uintptr(i)*size)
		for _, f := range fields {
			x, k := binary.Uvarint(src[n:])
			if k <= 0 {
				return 0, fmt.Errorf("%w: bad field %s", ErrCorrupt, f.name)
			}
			if f.kind == fInt {
				x = uint64(int64(x>>1) ^ -int64(x&1)) // zigzag, as binary.Varint
			}
			*(*uint64)(unsafe.Add(ep, f.off)) = x
			n += k
		}
	}
	return n, nil
}

// appendFlat appends the encoding of the flat struct at p.
func appendFlat(dst []byte, p unsafe.Pointer, fields []flatField) []byte {
	for _, f := range fields {
		fp := unsafe.Add(p, f.off)
		switch f.kind {
		case fInt:
			dst = binary.AppendVarint(dst, loadInt(fp, f.size))
		case fUint:
			dst = binary.AppendUvarint(dst, loadUint(fp, f.size))
		case fFloat32:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(*(*float32)(fp)))
		case fFloat64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(*(*float64)(fp)))
		case fBool:
			dst = boolCodec{}.Append(dst, *(*bool)(fp))
		case fString:
			dst = stringCodec{}.Append(dst, *(*string)(fp))
		}
	}
	return dst
}

// decodeFlat decodes a flat struct into p, returning the bytes consumed.
func decodeFlat(src []byte, p unsafe.Pointer, fields []flatField) (int, error) {
	n := 0
	for _, f := range fields {
		fp := unsafe.Add(p, f.off)
		var m int
		switch f.kind {
		case fInt:
			x, k := binary.Varint(src[n:])
			if k <= 0 || !storeInt(fp, f.size, x) {
				return 0, fmt.Errorf("%w: bad field %s", ErrCorrupt, f.name)
			}
			m = k
		case fUint:
			x, k := binary.Uvarint(src[n:])
			if k <= 0 || !storeUint(fp, f.size, x) {
				return 0, fmt.Errorf("%w: bad field %s", ErrCorrupt, f.name)
			}
			m = k
		case fFloat32:
			x, k, err := float32Codec{}.Decode(src[n:])
			if err != nil {
				return 0, err
			}
			*(*float32)(fp), m = x, k
		case fFloat64:
			x, k, err := float64Codec{}.Decode(src[n:])
			if err != nil {
				return 0, err
			}
			*(*float64)(fp), m = x, k
		case fBool:
			x, k, err := boolCodec{}.Decode(src[n:])
			if err != nil {
				return 0, err
			}
			*(*bool)(fp), m = x, k
		case fString:
			x, k, err := stringCodec{}.Decode(src[n:])
			if err != nil {
				return 0, err
			}
			*(*string)(fp), m = x, k
		}
		n += m
	}
	return n, nil
}

func loadInt(p unsafe.Pointer, size uintptr) int64 {
	switch size {
	case 1:
		return int64(*(*int8)(p))
	case 2:
		return int64(*(*int16)(p))
	case 4:
		return int64(*(*int32)(p))
	}
	return *(*int64)(p)
}

func loadUint(p unsafe.Pointer, size uintptr) uint64 {
	switch size {
	case 1:
		return uint64(*(*uint8)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 4:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

// storeInt stores x in an integer of size bytes, reporting false on
// overflow.
func storeInt(p unsafe.Pointer, size uintptr, x int64) bool {
	switch size {
	case 1:
		*(*int8)(p) = int8(x)
		return int64(int8(x)) == x
	case 2:
		*(*int16)(p) = int16(x)
		return int64(int16(x)) == x
	case 4:
		*(*int32)(p) = int32(x)
		return int64(int32(x)) == x
	}
	*(*int64)(p) = x
	return true
}

func storeUint(p unsafe.Pointer, size uintptr, x uint64) bool {
	switch size {
	case 1:
		*(*uint8)(p) = uint8(x)
		return uint64(uint8(x)) == x
	case 2:
		*(*uint16)(p) = uint16(x)
		return uint64(uint16(x)) == x
	case 4:
		*(*uint32)(p) = uint32(x)
		return uint64(uint32(x)) == x
	}
	*(*uint64)(p) = x
	return true
}
