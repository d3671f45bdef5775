package codec

import (
	"encoding/binary"
	"fmt"
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
	wire uintptr // bytes in the fixed-size form: 8 for int, uint and uintptr on every platform
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
		if f.Type.Kind() == reflect.Struct {
			sub, ok := flatFields(f.Type, base+f.Offset, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
			continue
		}
		ff, ok := leafField(f.Type, base+f.Offset, f.Name)
		if !ok {
			return nil, false
		}
		out = append(out, ff)
	}
	return out, true
}

// leafField describes a scalar or string at offset off, or reports false
// for other kinds.
func leafField(t reflect.Type, off uintptr, name string) (flatField, bool) {
	ff := flatField{off: off, size: t.Size(), wire: t.Size(), name: name}
	switch t.Kind() {
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		ff.wire = 8
	}
	switch t.Kind() {
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
	default:
		return ff, false
	}
	return ff, true
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

// flatSliceCodec encodes slices of flat structs (a group's members, say).
// Elements with strings take the reflective codec's encoding: the length,
// then each element. Elements of fixed size (integers, floats and bools
// only) take the fixed-size form: the length, then each element's fields
// little-endian at their full width (int, uint and uintptr as 8 bytes on
// every platform), without padding. Where that is the element's memory
// layout (a little-endian host, no padding, 64-bit int), a slice is
// written and read as one copy of its backing array; elsewhere a loop
// over the fields writes the same bytes.
type flatSliceCodec[T any] struct {
	t      reflect.Type // T, a slice type
	size   uintptr      // of an element in memory
	fields []flatField
	fixed  bool      // no strings: the fixed-size form
	wsize  uintptr   // bytes of an element in the fixed-size form
	mem    bool      // the fixed-size form is the element's memory
	bools  []uintptr // offsets of the bool fields in the fixed-size form (checked on decode)
}

// littleEndian says whether this host stores integers little-endian.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// newFlatSliceCodec makes the codec of T, a slice of flat elements.
func newFlatSliceCodec[T any](t reflect.Type, fields []flatField) flatSliceCodec[T] {
	c := flatSliceCodec[T]{t: t, size: t.Elem().Size(), fields: fields, fixed: true}
	packed := true // fields in order, at their wire width, no padding
	for _, f := range fields {
		if f.kind == fString {
			c.fixed = false
			break
		}
		if f.kind == fBool {
			c.bools = append(c.bools, c.wsize)
		}
		packed = packed && f.off == c.wsize && f.size == f.wire
		c.wsize += f.wire
	}
	c.mem = c.fixed && littleEndian && packed && c.wsize == c.size
	if !c.fixed {
		c.wsize, c.bools = 0, nil
	}
	return c
}

// sliceHeader is the layout of a Go slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

func (c flatSliceCodec[T]) Append(dst []byte, v T) []byte {
	h := (*sliceHeader)(unsafe.Pointer(&v))
	dst = binary.AppendUvarint(dst, uint64(h.len))
	switch {
	case !c.fixed:
		for i := range h.len {
			dst = appendFlat(dst, unsafe.Add(h.data, uintptr(i)*c.size), c.fields)
		}
		return dst
	case c.mem:
		return append(dst, unsafe.Slice((*byte)(h.data), uintptr(h.len)*c.size)...)
	}
	n, w := len(dst), int(c.wsize)
	dst = slices.Grow(dst, h.len*w)[:n+h.len*w]
	for i := range h.len {
		putFixed(dst[n+i*w:], unsafe.Add(h.data, uintptr(i)*c.size), c.fields)
	}
	return dst
}

func (c flatSliceCodec[T]) Decode(src []byte) (T, int, error) { return c.decode(src, nil) }

// DecodeArena decodes like Decode, taking the backing array of a slice of
// fixed-size elements from a.
func (c flatSliceCodec[T]) DecodeArena(src []byte, a *Arena) (T, int, error) { return c.decode(src, a) }

func (c flatSliceCodec[T]) decode(src []byte, a *Arena) (T, int, error) {
	var v T
	if !c.fixed {
		l, n, err := count(src, c.size)
		if err != nil || l == 0 {
			return v, n, err
		}
		s := reflect.MakeSlice(c.t, l, l)
		p := s.UnsafePointer()
		for i := range l {
			m, err := decodeFlat(src[n:], unsafe.Add(p, uintptr(i)*c.size), c.fields)
			if err != nil {
				return v, 0, err
			}
			n += m
		}
		h := sliceHeader{p, l, l}
		return *(*T)(unsafe.Pointer(&h)), n, nil
	}
	l, n, err := fixedCount(src, c.wsize)
	if err != nil || l == 0 {
		return v, n, err
	}
	w := int(c.wsize)
	body := src[n : n+l*w]
	for _, off := range c.bools {
		for i := int(off); i < len(body); i += w {
			if body[i] > 1 {
				return v, 0, fmt.Errorf("%w: bad bool", ErrCorrupt)
			}
		}
	}
	var p unsafe.Pointer
	if a != nil && c.size > 0 && w > 0 {
		p = a.alloc(uintptr(l)*c.size, (len(src)-n)/w*int(c.size))
	} else {
		p = reflect.MakeSlice(c.t, l, l).UnsafePointer()
	}
	if c.mem {
		copy(unsafe.Slice((*byte)(p), len(body)), body)
	} else {
		for i := range l {
			if err := getFixed(body[i*w:], unsafe.Add(p, uintptr(i)*c.size), c.fields); err != nil {
				return v, 0, err
			}
		}
	}
	h := sliceHeader{p, l, l}
	return *(*T)(unsafe.Pointer(&h)), n + len(body), nil
}

// fixedCount decodes the element count of the fixed-size form, bounded by
// the bytes left (elements of zero size: by 1<<20, as count does).
func fixedCount(src []byte, wsize uintptr) (int, int, error) {
	c, n := binary.Uvarint(src)
	if n <= 0 {
		return 0, 0, fmt.Errorf("%w: bad element count", ErrCorrupt)
	}
	limit := uint64(1 << 20)
	if wsize > 0 {
		limit = uint64(len(src)-n) / uint64(wsize)
	}
	if c > limit {
		return 0, 0, fmt.Errorf("%w: element count %d, %d bytes left", ErrCorrupt, c, len(src)-n)
	}
	return int(c), n, nil
}

// putFixed writes the fixed-size form of the flat struct at p (no strings)
// to the front of dst.
func putFixed(dst []byte, p unsafe.Pointer, fields []flatField) {
	off := 0
	for _, f := range fields {
		x := loadField(unsafe.Add(p, f.off), f)
		switch f.wire {
		case 1:
			dst[off] = byte(x)
		case 2:
			binary.LittleEndian.PutUint16(dst[off:], uint16(x))
		case 4:
			binary.LittleEndian.PutUint32(dst[off:], uint32(x))
		default:
			binary.LittleEndian.PutUint64(dst[off:], x)
		}
		off += int(f.wire)
	}
}

// getFixed reads what putFixed wrote into the flat struct at p; an integer
// too wide for its field (an int of a 64-bit host read on a 32-bit one) is
// corrupt input.
func getFixed(src []byte, p unsafe.Pointer, fields []flatField) error {
	off := 0
	for _, f := range fields {
		x, sx, ok := readWire(src[off:], f.wire)
		if !ok {
			return fmt.Errorf("%w: short field %s", ErrCorrupt, f.name)
		}
		if !storeField(unsafe.Add(p, f.off), f, x, sx) {
			return fmt.Errorf("%w: bad field %s", ErrCorrupt, f.name)
		}
		off += int(f.wire)
	}
	return nil
}

// loadField reads the scalar field f at fp as the bits its wire form
// carries (integers widened, floats as their IEEE bits, bools as 0 or 1).
func loadField(fp unsafe.Pointer, f flatField) uint64 {
	switch f.kind {
	case fInt:
		return uint64(loadInt(fp, f.size))
	case fUint:
		return loadUint(fp, f.size)
	case fFloat32:
		return uint64(*(*uint32)(fp))
	case fFloat64:
		return *(*uint64)(fp)
	case fBool:
		return uint64(*(*uint8)(fp))
	}
	return 0
}

// storeField stores what loadField read (x, and sx, x sign-extended from
// its wire width) into the scalar field f at fp, reporting false for a
// value the field cannot hold (an integer too wide: an int of a 64-bit host
// read on a 32-bit one; a bool other than 0 or 1).
func storeField(fp unsafe.Pointer, f flatField, x uint64, sx int64) bool {
	switch f.kind {
	case fInt:
		return storeInt(fp, f.size, sx)
	case fUint:
		return storeUint(fp, f.size, x)
	case fFloat32:
		*(*uint32)(fp) = uint32(x)
	case fFloat64:
		*(*uint64)(fp) = x
	case fBool:
		*(*uint8)(fp) = uint8(x)
		return x <= 1
	}
	return true
}

// appendFlat appends the encoding of the flat struct at p.
func appendFlat(dst []byte, p unsafe.Pointer, fields []flatField) []byte {
	for _, f := range fields {
		fp := unsafe.Add(p, f.off)
		if f.kind == fString {
			dst = stringCodec{}.Append(dst, *(*string)(fp))
			continue
		}
		dst = appendWire(dst, loadField(fp, f), f.wire)
	}
	return dst
}

// decodeFlat decodes a flat struct into p, returning the bytes consumed.
func decodeFlat(src []byte, p unsafe.Pointer, fields []flatField) (int, error) {
	n := 0
	for _, f := range fields {
		fp := unsafe.Add(p, f.off)
		if f.kind == fString {
			x, k, err := stringCodec{}.Decode(src[n:])
			if err != nil {
				return 0, err
			}
			*(*string)(fp) = x
			n += k
			continue
		}
		x, sx, ok := readWire(src[n:], f.wire)
		if !ok || !storeField(fp, f, x, sx) {
			return 0, fmt.Errorf("%w: bad field %s", ErrCorrupt, f.name)
		}
		n += int(f.wire)
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
