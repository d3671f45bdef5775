package codec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MarshalJSON encodes m as Mesos JSON. See the package documentation for
// the rules. It fails when a required field is unset or when a required enum
// field holds a number with no name.
func MarshalJSON(m proto.Message) ([]byte, error) {
	return AppendJSON(nil, m)
}

// AppendJSON is MarshalJSON appending to dst.
func AppendJSON(dst []byte, m proto.Message) ([]byte, error) {
	if m == nil {
		return dst, errors.New("codec: json: nil message")
	}
	e := encoder{buf: dst}
	rm := m.ProtoReflect()
	if err := e.message(rm, planFor(rm.Descriptor()), 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// MessageCache lends AppendJSONCached the JSON of messages it wrote
// before. Get returns m's JSON when the cache has it (found), and whether
// it keeps m's kind at all (keep); Put gets the JSON just written for a
// message Get said it keeps and did not find (js is valid only during the
// call: keep a copy). The cache must keep only messages nobody modifies
// afterwards: a cached message is written as it was when cached.
//
// When the output so far holds at least flushSize bytes after a message
// value and no Put is pending, Flush gets it, writes it out and returns
// the buffer to go on with (length 0); AppendJSONCached then returns only
// what followed the last Flush.
type MessageCache interface {
	Get(m proto.Message) (js []byte, found, keep bool)
	Put(m proto.Message, js []byte)
	Flush(b []byte) []byte
}

// flushSize is how much AppendJSONCached buffers before MessageCache.Flush.
const flushSize = 64 << 10

// AppendJSONCached is AppendJSON asking c for every message value (the
// top-level message excepted) before encoding it, and offering c the
// messages of the kinds it keeps: the output (all that c.Flush got, then
// what is returned) is AppendJSON's when c gives back what it was given.
func AppendJSONCached(dst []byte, m proto.Message, c MessageCache) ([]byte, error) {
	if m == nil {
		return dst, errors.New("codec: json: nil message")
	}
	e := encoder{buf: dst, cache: c}
	rm := m.ProtoReflect()
	if err := e.message(rm, planFor(rm.Descriptor()), 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

type encoder struct {
	buf       []byte
	cache     MessageCache // nil: none
	recording int          // messages being written for cache.Put
}

func (e *encoder) message(m protoreflect.Message, p *msgPlan, depth int) error {
	if depth > maxDepth {
		return &pathError{msg: "message nesting too deep"}
	}
	if err := p.checkRequired(m); err != nil {
		return err
	}
	e.buf = append(e.buf, '{')
	first := true
	for _, fp := range p.sorted {
		fd := fp.fd
		var err error
		switch {
		case fd.IsList():
			if !m.Has(fd) { // Has does not allocate; Get does
				continue
			}
			list := m.Get(fd).List()
			if fd.Kind() == protoreflect.EnumKind && !anyNamedEnum(fd, list) {
				continue
			}
			first = e.key(fp, first)
			err = e.list(fp, list, depth)
		case fd.IsMap():
			if !m.Has(fd) {
				continue
			}
			mp := m.Get(fd).Map()
			first = e.key(fp, first)
			err = e.mapEntries(fp, mp, depth)
		case m.Has(fd) && !unnamedOptionalEnum(fd, m):
			first = e.key(fp, first)
			err = e.value(fp, fd, m.Get(fd), depth)
		case fp.emitDefault:
			first = e.key(fp, first)
			err = e.value(fp, fd, fd.Default(), depth)
		default:
			continue
		}
		if err != nil {
			return wrapPath(err, string(fd.Name()))
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) key(fp *fieldPlan, first bool) bool {
	if !first {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, fp.key...)
	return false
}

func (e *encoder) list(fp *fieldPlan, list protoreflect.List, depth int) error {
	e.buf = append(e.buf, '[')
	n := 0
	for i := 0; i < list.Len(); i++ {
		if fp.fd.Kind() == protoreflect.EnumKind && !namedEnum(fp.fd, list.Get(i)) {
			continue
		}
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		n++
		if err := e.value(fp, fp.fd, list.Get(i), depth); err != nil {
			return wrapPath(err, "["+strconv.Itoa(i)+"]")
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// mapEntries writes a map the way the C++ runtime reflects it: as a list of
// entry messages {"key":...,"value":...}, here sorted by key.
func (e *encoder) mapEntries(fp *fieldPlan, mp protoreflect.Map, depth int) error {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, compareMapKeys)
	kfd, vfd := fp.fd.MapKey(), fp.fd.MapValue()
	e.buf = append(e.buf, '[')
	n := 0
	for _, k := range keys {
		if vfd.Kind() == protoreflect.EnumKind && !namedEnum(vfd, mp.Get(k)) {
			continue
		}
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		n++
		e.buf = append(e.buf, `{"key":`...)
		if err := e.value(fp, kfd, k.Value(), depth); err != nil {
			return err
		}
		e.buf = append(e.buf, `,"value":`...)
		if err := e.value(fp, vfd, mp.Get(k), depth); err != nil {
			return wrapPath(err, "["+strconv.Quote(k.String())+"]")
		}
		e.buf = append(e.buf, '}')
	}
	e.buf = append(e.buf, ']')
	return nil
}

// namedEnum reports whether v, a value of enum field fd, has a name. The Go
// runtime keeps enum numbers it does not know in the field (the C++ runtime
// moves them to the unknown fields, so Mesos never writes them); the encoder
// leaves them out the same way, and fails only for a required field.
func namedEnum(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	return fd.Enum().Values().ByNumber(v.Enum()) != nil
}

func unnamedOptionalEnum(fd protoreflect.FieldDescriptor, m protoreflect.Message) bool {
	return fd.Kind() == protoreflect.EnumKind && fd.Cardinality() != protoreflect.Required && !namedEnum(fd, m.Get(fd))
}

func anyNamedEnum(fd protoreflect.FieldDescriptor, list protoreflect.List) bool {
	for i := 0; i < list.Len(); i++ {
		if namedEnum(fd, list.Get(i)) {
			return true
		}
	}
	return false
}

func compareMapKeys(a, b protoreflect.MapKey) int {
	switch av := a.Interface().(type) {
	case string:
		return cmpString(av, b.String())
	case bool:
		bv := b.Bool()
		switch {
		case av == bv:
			return 0
		case !av:
			return -1
		}
		return 1
	case int32, int64:
		x, y := a.Int(), b.Int()
		return cmpInt(x < y, x > y)
	default:
		x, y := a.Uint(), b.Uint()
		return cmpInt(x < y, x > y)
	}
}

func cmpInt(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// value writes one singular value of field fd (fp carries the plan of fd's
// message or enum type).
func (e *encoder) value(fp *fieldPlan, fd protoreflect.FieldDescriptor, v protoreflect.Value, depth int) error {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case protoreflect.FloatKind:
		return e.float(v.Float(), 32)
	case protoreflect.DoubleKind:
		return e.float(v.Float(), 64)
	case protoreflect.StringKind:
		e.buf = appendString(e.buf, v.String())
	case protoreflect.BytesKind:
		e.buf = append(e.buf, '"')
		e.buf = base64.StdEncoding.AppendEncode(e.buf, v.Bytes())
		e.buf = append(e.buf, '"')
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			return &pathError{msg: fmt.Sprintf("enum value %d has no name in %s", v.Enum(), fd.Enum().FullName())}
		}
		e.buf = appendString(e.buf, string(ev.Name()))
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if e.cache == nil {
			return e.message(v.Message(), fp.childPlan(), depth+1)
		}
		pm := v.Message().Interface()
		js, found, keep := e.cache.Get(pm)
		switch {
		case found:
			e.buf = append(e.buf, js...)
		case keep:
			start := len(e.buf)
			e.recording++
			err := e.message(v.Message(), fp.childPlan(), depth+1)
			e.recording--
			if err != nil {
				return err
			}
			e.cache.Put(pm, e.buf[start:])
		default:
			if err := e.message(v.Message(), fp.childPlan(), depth+1); err != nil {
				return err
			}
		}
		if e.recording == 0 && len(e.buf) >= flushSize {
			e.buf = e.cache.Flush(e.buf)
		}
	}
	return nil
}

// float writes a finite number in the shortest form that reads back to the
// same value. Whole numbers get a ".0", as Mesos writes them ("2.0"), and
// very large or small magnitudes use an exponent. NaN and the infinities are
// written as strings (see nonFiniteText).
func (e *encoder) float(f float64, bits int) error {
	if name := nonFiniteText(f); name != "" {
		e.buf = appendString(e.buf, name)
		return nil
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, bits)
	if format == 'e' {
		// Drop the exponent's leading zero: 1e-07 becomes 1e-7.
		n := len(e.buf)
		if n-start >= 4 && e.buf[n-4] == 'e' && e.buf[n-3] == '-' && e.buf[n-2] == '0' {
			e.buf[n-2] = e.buf[n-1]
			e.buf = e.buf[:n-1]
		}
		return nil
	}
	for _, c := range e.buf[start:] {
		if c == '.' {
			return nil
		}
	}
	e.buf = append(e.buf, '.', '0')
	return nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Control characters and DEL are
// escaped (as Mesos does); invalid UTF-8 becomes U+FFFD so that the output is
// always valid JSON.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
