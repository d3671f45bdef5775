package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// errUnsupported means the reflective codec cannot handle a type; For then
// falls back to gob.
var errUnsupported = errors.New("codec: type not supported by the reflective codec")

// maxDepth bounds recursive types (a struct holding a slice of itself).
const maxDepth = 32

// valueCodec encodes and decodes through reflect.Value; dec sets v, which is
// addressable.
type valueCodec struct {
	enc func(dst []byte, v reflect.Value) []byte
	dec func(src []byte, v reflect.Value) (int, error)
}

type reflectCodec[T any] struct{ c *valueCodec }

func (r reflectCodec[T]) Append(dst []byte, v T) []byte {
	return r.c.enc(dst, reflect.ValueOf(&v).Elem())
}

func (r reflectCodec[T]) Decode(src []byte) (T, int, error) {
	var v T
	n, err := r.c.dec(src, reflect.ValueOf(&v).Elem())
	return v, n, err
}

func compile(t reflect.Type, depth int) (*valueCodec, error) {
	if depth > maxDepth {
		return nil, errUnsupported
	}
	switch t.Kind() {
	case reflect.Bool:
		return boolValue(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intValue(t), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintValue(t), nil
	case reflect.Float32, reflect.Float64:
		return floatValue(t.Kind() == reflect.Float32), nil
	case reflect.String:
		return stringValue(), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return bytesValue(), nil
		}
		return sliceValue(t, depth)
	case reflect.Array:
		return arrayValue(t, depth)
	case reflect.Struct:
		return structValue(t, depth)
	case reflect.Map:
		return mapValue(t, depth)
	case reflect.Pointer:
		return pointerValue(t, depth)
	}
	return nil, errUnsupported
}

func boolValue() *valueCodec {
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte { return boolCodec{}.Append(dst, v.Bool()) },
		dec: func(src []byte, v reflect.Value) (int, error) {
			b, n, err := boolCodec{}.Decode(src)
			v.SetBool(b)
			return n, err
		},
	}
}

// wireWidth is the bytes an integer of type t takes (appendWire): its
// size, and 8 for int, uint and uintptr on every platform.
func wireWidth(t reflect.Type) uintptr {
	switch t.Kind() {
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		return 8
	}
	return t.Size()
}

func intValue(t reflect.Type) *valueCodec {
	w := wireWidth(t)
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte { return appendWire(dst, uint64(v.Int()), w) },
		dec: func(src []byte, v reflect.Value) (int, error) {
			_, x, ok := readWire(src, w)
			if !ok || v.OverflowInt(x) {
				return 0, fmt.Errorf("%w: bad %s", ErrCorrupt, v.Type())
			}
			v.SetInt(x)
			return int(w), nil
		},
	}
}

func uintValue(t reflect.Type) *valueCodec {
	w := wireWidth(t)
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte { return appendWire(dst, v.Uint(), w) },
		dec: func(src []byte, v reflect.Value) (int, error) {
			x, _, ok := readWire(src, w)
			if !ok || v.OverflowUint(x) {
				return 0, fmt.Errorf("%w: bad %s", ErrCorrupt, v.Type())
			}
			v.SetUint(x)
			return int(w), nil
		},
	}
}

func floatValue(is32 bool) *valueCodec {
	if is32 {
		return &valueCodec{
			enc: func(dst []byte, v reflect.Value) []byte {
				return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v.Float())))
			},
			dec: func(src []byte, v reflect.Value) (int, error) {
				f, n, err := float32Codec{}.Decode(src)
				v.SetFloat(float64(f))
				return n, err
			},
		}
	}
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte {
			return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float()))
		},
		dec: func(src []byte, v reflect.Value) (int, error) {
			f, n, err := float64Codec{}.Decode(src)
			v.SetFloat(f)
			return n, err
		},
	}
}

func stringValue() *valueCodec {
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte { return stringCodec{}.Append(dst, v.String()) },
		dec: func(src []byte, v reflect.Value) (int, error) {
			s, n, err := stringCodec{}.Decode(src)
			v.SetString(s)
			return n, err
		},
	}
}

func bytesValue() *valueCodec {
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte { return bytesCodec{}.Append(dst, v.Bytes()) },
		dec: func(src []byte, v reflect.Value) (int, error) {
			l, n, err := lenPrefix(src)
			if err != nil {
				return 0, err
			}
			if l == 0 {
				v.SetZero()
				return n, nil
			}
			b := reflect.MakeSlice(v.Type(), l, l)
			reflect.Copy(b, reflect.ValueOf(src[n:n+l]))
			v.Set(b)
			return n + l, nil
		},
	}
}

// count decodes an element count. Every element takes at least one byte
// unless its type is zero-sized, so a count larger than the input is corrupt.
func count(src []byte, elemSize uintptr) (int, int, error) {
	c, n := binary.Uvarint(src)
	limit := uint64(len(src) - max(n, 0))
	if elemSize == 0 {
		limit = 1 << 20
	}
	if n <= 0 || c > limit {
		return 0, 0, fmt.Errorf("%w: bad element count", ErrCorrupt)
	}
	return int(c), n, nil
}

func sliceValue(t reflect.Type, depth int) (*valueCodec, error) {
	ec, err := compile(t.Elem(), depth+1)
	if err != nil {
		return nil, err
	}
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte {
			l := v.Len()
			dst = binary.AppendUvarint(dst, uint64(l))
			for i := range l {
				dst = ec.enc(dst, v.Index(i))
			}
			return dst
		},
		dec: func(src []byte, v reflect.Value) (int, error) {
			c, n, err := count(src, t.Elem().Size())
			if err != nil {
				return 0, err
			}
			if c == 0 {
				v.SetZero()
				return n, nil
			}
			s := reflect.MakeSlice(t, c, c)
			for i := range c {
				m, err := ec.dec(src[n:], s.Index(i))
				if err != nil {
					return 0, err
				}
				n += m
			}
			v.Set(s)
			return n, nil
		},
	}, nil
}

func arrayValue(t reflect.Type, depth int) (*valueCodec, error) {
	ec, err := compile(t.Elem(), depth+1)
	if err != nil {
		return nil, err
	}
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte {
			for i := range v.Len() {
				dst = ec.enc(dst, v.Index(i))
			}
			return dst
		},
		dec: func(src []byte, v reflect.Value) (int, error) {
			n := 0
			for i := range v.Len() {
				m, err := ec.dec(src[n:], v.Index(i))
				if err != nil {
					return 0, err
				}
				n += m
			}
			return n, nil
		},
	}, nil
}

func structValue(t reflect.Type, depth int) (*valueCodec, error) {
	fields := make([]*valueCodec, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			return nil, errUnsupported
		}
		fc, err := compile(f.Type, depth+1)
		if err != nil {
			return nil, err
		}
		fields[i] = fc
	}
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte {
			for i, fc := range fields {
				dst = fc.enc(dst, v.Field(i))
			}
			return dst
		},
		dec: func(src []byte, v reflect.Value) (int, error) {
			n := 0
			for i, fc := range fields {
				m, err := fc.dec(src[n:], v.Field(i))
				if err != nil {
					return 0, err
				}
				n += m
			}
			return n, nil
		},
	}, nil
}

func mapValue(t reflect.Type, depth int) (*valueCodec, error) {
	kc, err := compile(t.Key(), depth+1)
	if err != nil {
		return nil, err
	}
	vc, err := compile(t.Elem(), depth+1)
	if err != nil {
		return nil, err
	}
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte {
			dst = binary.AppendUvarint(dst, uint64(v.Len()))
			it := v.MapRange()
			for it.Next() {
				dst = kc.enc(dst, it.Key())
				dst = vc.enc(dst, it.Value())
			}
			return dst
		},
		dec: func(src []byte, v reflect.Value) (int, error) {
			c, n, err := count(src, t.Key().Size()+t.Elem().Size())
			if err != nil {
				return 0, err
			}
			if c == 0 {
				v.SetZero()
				return n, nil
			}
			m := reflect.MakeMapWithSize(t, c)
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			for range c {
				k.SetZero()
				e.SetZero()
				x, err := kc.dec(src[n:], k)
				if err != nil {
					return 0, err
				}
				n += x
				if x, err = vc.dec(src[n:], e); err != nil {
					return 0, err
				}
				n += x
				m.SetMapIndex(k, e)
			}
			v.Set(m)
			return n, nil
		},
	}, nil
}

func pointerValue(t reflect.Type, depth int) (*valueCodec, error) {
	ec, err := compile(t.Elem(), depth+1)
	if err != nil {
		return nil, err
	}
	return &valueCodec{
		enc: func(dst []byte, v reflect.Value) []byte {
			if v.IsNil() {
				return append(dst, 0)
			}
			return ec.enc(append(dst, 1), v.Elem())
		},
		dec: func(src []byte, v reflect.Value) (int, error) {
			if len(src) < 1 || src[0] > 1 {
				return 0, fmt.Errorf("%w: bad pointer tag", ErrCorrupt)
			}
			if src[0] == 0 {
				v.SetZero()
				return 1, nil
			}
			p := reflect.New(t.Elem())
			n, err := ec.dec(src[1:], p.Elem())
			if err != nil {
				return 0, err
			}
			v.Set(p)
			return n + 1, nil
		},
	}, nil
}

// gobCodec writes each value as a length-prefixed, self-describing gob
// stream.
type gobCodec[T any] struct{}

func (gobCodec[T]) Append(dst []byte, v T) []byte {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		// Append has no error result; encode the failure so Decode reports it.
		return stringCodec{}.Append(dst, "\x00gob:"+err.Error())
	}
	return bytesCodec{}.Append(dst, buf.Bytes())
}

func (gobCodec[T]) Decode(src []byte) (v T, n int, err error) {
	l, n, err := lenPrefix(src)
	if err != nil {
		return v, 0, err
	}
	body := src[n : n+l]
	if len(body) > 0 && body[0] == 0 {
		return v, 0, fmt.Errorf("codec: value of type %T could not be encoded: %s", v, body[1:])
	}
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil {
		return v, 0, fmt.Errorf("%w: gob: %v", ErrCorrupt, err)
	}
	return v, n + l, nil
}
