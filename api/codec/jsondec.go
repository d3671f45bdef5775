package codec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// UnmarshalJSON decodes Mesos JSON into m, after resetting it. See the
// package documentation for what it accepts.
func UnmarshalJSON(data []byte, m proto.Message) error {
	if m == nil {
		return errors.New("codec: json: nil message")
	}
	proto.Reset(m)
	rm := m.ProtoReflect()
	d := decoder{data: data}
	d.skipWS()
	if d.pos == len(d.data) {
		return &pathError{msg: "empty input, expected a JSON object"}
	}
	if d.data[d.pos] != '{' {
		return &pathError{msg: "expected a JSON object, got " + d.describe()}
	}
	if err := d.message(rm, planFor(rm.Descriptor()), 0); err != nil {
		return err
	}
	d.skipWS()
	if d.pos != len(d.data) {
		return d.syntaxError("unexpected data after the top-level object")
	}
	return nil
}

type decoder struct {
	data    []byte
	pos     int
	scratch []byte // decoded strings with escapes
}

func (d *decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *decoder) syntaxError(what string) error {
	if d.pos >= len(d.data) {
		return &pathError{msg: "syntax error: unexpected end of input"}
	}
	return &pathError{msg: fmt.Sprintf("syntax error at offset %d: %s", d.pos, what)}
}

// describe names the kind of JSON value starting at the current position.
func (d *decoder) describe() string {
	switch c := d.peek(); {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	case d.pos >= len(d.data):
		return "end of input"
	default:
		return fmt.Sprintf("invalid character %q", c)
	}
}

func (d *decoder) typeError(want string) error {
	c := d.peek()
	if c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || (c >= '0' && c <= '9') {
		return &pathError{msg: "expected " + want + ", got " + d.describe()}
	}
	return d.syntaxError("invalid character " + strconv.QuoteRune(rune(c)) + " looking for a value")
}

func (d *decoder) expect(c byte, what string) error {
	d.skipWS()
	if d.peek() != c {
		return d.syntaxError("expected " + what)
	}
	d.pos++
	return nil
}

func (d *decoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return d.syntaxError("invalid literal")
	}
	d.pos += len(lit)
	return nil
}

// members calls fn for each member of the object at the current position,
// with the decoder positioned on the member's value; fn must consume it.
func (d *decoder) members(fn func(key []byte) error) error {
	d.pos++ // '{'
	d.skipWS()
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		d.skipWS()
		if d.peek() != '"' {
			return d.syntaxError("expected a string key")
		}
		key, err := d.stringBytes()
		if err != nil {
			return err
		}
		if err := d.expect(':', "':' after object key"); err != nil {
			return err
		}
		d.skipWS()
		if err := fn(key); err != nil {
			return err
		}
		d.skipWS()
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.syntaxError("expected ',' or '}' in object")
		}
	}
}

// elements calls fn for each element of the array at the current position,
// with the decoder positioned on the element; fn must consume it.
func (d *decoder) elements(fn func(i int) error) error {
	d.pos++ // '['
	d.skipWS()
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.skipWS()
		if err := fn(i); err != nil {
			return err
		}
		d.skipWS()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.syntaxError("expected ',' or ']' in array")
		}
	}
}

func (d *decoder) message(m protoreflect.Message, p *msgPlan, depth int) error {
	if depth > maxDepth {
		return &pathError{msg: "message nesting too deep"}
	}
	err := d.members(func(key []byte) error {
		fp := p.byName[string(key)]
		if fp == nil {
			return d.skipValue(depth + 1) // unknown fields are ignored
		}
		return wrapPath(d.field(m, fp, depth), string(fp.fd.Name()))
	})
	if err != nil {
		return err
	}
	return p.checkRequired(m)
}

// field decodes the value of one known field of m. A later occurrence of a
// key replaces an earlier one; null leaves the field unset.
func (d *decoder) field(m protoreflect.Message, fp *fieldPlan, depth int) error {
	fd := fp.fd
	if d.peek() == 'n' {
		m.Clear(fd)
		return d.literal("null")
	}
	switch {
	case fd.IsMap():
		switch d.peek() {
		case '[':
			m.Clear(fd)
			return d.mapEntries(m.Mutable(fd).Map(), fp, depth)
		case '{':
			m.Clear(fd)
			return d.mapObject(m.Mutable(fd).Map(), fp, depth)
		}
		return d.typeError("an array of {\"key\",\"value\"} objects or an object")
	case fd.IsList():
		if d.peek() != '[' {
			return d.typeError("an array")
		}
		m.Clear(fd)
		return d.list(m, fp, depth)
	case isMessageKind(fd.Kind()):
		if d.peek() != '{' {
			return d.typeError("an object")
		}
		m.Clear(fd)
		return d.message(m.Mutable(fd).Message(), fp.childPlan(), depth+1)
	}
	v, ok, err := d.scalar(fp, fd)
	switch {
	case err != nil:
		return err
	case ok:
		m.Set(fd, v)
	default:
		m.Clear(fd)
	}
	return nil
}

func (d *decoder) list(m protoreflect.Message, fp *fieldPlan, depth int) error {
	fd := fp.fd
	var list protoreflect.List
	return d.elements(func(i int) error {
		if d.peek() == 'n' { // null elements are skipped, as Mesos does
			return d.literal("null")
		}
		if list == nil {
			list = m.Mutable(fd).List()
		}
		if isMessageKind(fd.Kind()) {
			if d.peek() != '{' {
				return wrapPath(d.typeError("an object"), "["+strconv.Itoa(i)+"]")
			}
			elem := list.NewElement()
			if err := d.message(elem.Message(), fp.childPlan(), depth+1); err != nil {
				return wrapPath(err, "["+strconv.Itoa(i)+"]")
			}
			list.Append(elem)
			return nil
		}
		v, ok, err := d.scalar(fp, fd)
		if err != nil {
			return wrapPath(err, "["+strconv.Itoa(i)+"]")
		}
		if ok {
			list.Append(v)
		}
		return nil
	})
}

// mapEntries reads a map written as a list of entry messages, the way the
// C++ runtime (and so Mesos) writes maps.
func (d *decoder) mapEntries(mp protoreflect.Map, fp *fieldPlan, depth int) error {
	kfd, vfd := fp.fd.MapKey(), fp.fd.MapValue()
	return d.elements(func(i int) error {
		if d.peek() == 'n' {
			return d.literal("null")
		}
		if d.peek() != '{' {
			return wrapPath(d.typeError("an object"), "["+strconv.Itoa(i)+"]")
		}
		var key, val protoreflect.Value
		keep := true
		err := d.members(func(name []byte) error {
			var err error
			switch string(name) {
			case "key":
				if d.peek() == 'n' {
					key = protoreflect.Value{}
					return d.literal("null")
				}
				key, _, err = d.scalar(fp, kfd)
			case "value":
				switch {
				case d.peek() == 'n':
					val = protoreflect.Value{}
					return d.literal("null")
				case isMessageKind(vfd.Kind()):
					if d.peek() != '{' {
						return d.typeError("an object")
					}
					val = mp.NewValue()
					return d.message(val.Message(), fp.childPlan(), depth+1)
				default:
					val, keep, err = d.scalar(fp, vfd)
				}
			default:
				return d.skipValue(depth + 1)
			}
			return err
		})
		if err != nil {
			return wrapPath(err, "["+strconv.Itoa(i)+"]")
		}
		if !key.IsValid() {
			key = kfd.Default()
		}
		if !val.IsValid() {
			if isMessageKind(vfd.Kind()) {
				val = mp.NewValue()
				if err := fp.childPlan().checkRequired(val.Message()); err != nil {
					return wrapPath(err, "["+strconv.Itoa(i)+"].value")
				}
			} else {
				val = vfd.Default()
			}
		}
		if keep {
			mp.Set(key.MapKey(), val)
		}
		return nil
	})
}

// mapObject reads a map written as a JSON object, as protobuf's JSON
// mapping writes maps: keys are strings, holding numbers or booleans for
// maps with such keys.
func (d *decoder) mapObject(mp protoreflect.Map, fp *fieldPlan, depth int) error {
	kfd, vfd := fp.fd.MapKey(), fp.fd.MapValue()
	return d.members(func(name []byte) error {
		key, err := mapKey(name, kfd)
		if err != nil {
			return wrapPath(err, "["+strconv.Quote(string(name))+"]")
		}
		var val protoreflect.Value
		keep := true
		switch {
		case d.peek() == 'n':
			return d.literal("null")
		case isMessageKind(vfd.Kind()):
			if d.peek() != '{' {
				err = d.typeError("an object")
				break
			}
			val = mp.NewValue()
			err = d.message(val.Message(), fp.childPlan(), depth+1)
		default:
			val, keep, err = d.scalar(fp, vfd)
		}
		if err != nil {
			return wrapPath(err, "["+strconv.Quote(key.String())+"]")
		}
		if keep {
			mp.Set(key, val)
		}
		return nil
	})
}

// mapKey converts the text of a JSON object key to a map key of kfd's kind.
func mapKey(name []byte, kfd protoreflect.FieldDescriptor) (protoreflect.MapKey, error) {
	switch kfd.Kind() {
	case protoreflect.StringKind:
		if err := checkUTF8(name); err != nil {
			return protoreflect.MapKey{}, err
		}
		return protoreflect.ValueOfString(string(name)).MapKey(), nil
	case protoreflect.BoolKind:
		switch string(name) {
		case "true":
			return protoreflect.ValueOfBool(true).MapKey(), nil
		case "false":
			return protoreflect.ValueOfBool(false).MapKey(), nil
		}
		return protoreflect.MapKey{}, &pathError{msg: "invalid boolean map key"}
	}
	if n, ok := scanNumber(name); !ok || n != len(name) {
		return protoreflect.MapKey{}, &pathError{msg: "invalid number " + strconv.Quote(string(name))}
	}
	v, err := parseNumber(name, kfd.Kind())
	if err != nil {
		return protoreflect.MapKey{}, err
	}
	return v.MapKey(), nil
}

// scalar decodes a non-message value for fd. ok is false when the value is
// an enum name or number this enum does not define and the field is not
// required: Mesos leaves such a field unset (drops the element of a list).
func (d *decoder) scalar(fp *fieldPlan, fd protoreflect.FieldDescriptor) (v protoreflect.Value, ok bool, err error) {
	c := d.peek()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch c {
		case 't':
			return protoreflect.ValueOfBool(true), true, d.literal("true")
		case 'f':
			return protoreflect.ValueOfBool(false), true, d.literal("false")
		}
		return v, false, d.typeError("a boolean")
	case protoreflect.StringKind:
		if c != '"' {
			return v, false, d.typeError("a string")
		}
		b, err := d.stringBytes()
		if err != nil {
			return v, false, err
		}
		if err := checkUTF8(b); err != nil {
			return v, false, err
		}
		return protoreflect.ValueOfString(string(b)), true, nil
	case protoreflect.BytesKind:
		if c != '"' {
			return v, false, d.typeError("a base64 string")
		}
		b, err := d.stringBytes()
		if err != nil {
			return v, false, err
		}
		raw, err := decodeBase64(b)
		if err != nil {
			return v, false, &pathError{msg: "invalid base64: " + err.Error()}
		}
		return protoreflect.ValueOfBytes(raw), true, nil
	case protoreflect.EnumKind:
		return d.enum(fp, fd)
	}
	lit, err := d.numberText(fd.Kind())
	if err != nil {
		return v, false, err
	}
	v, err = parseNumber(lit, fd.Kind())
	return v, err == nil, err
}

// numberText returns the text of a JSON number, or of a string holding one
// (accepted for every numeric field, as protobuf's JSON mapping writes 64-bit
// integers that way). For a float field of kind k the strings "NaN",
// "Infinity" and "-Infinity" are also taken (see nonFinite).
func (d *decoder) numberText(k protoreflect.Kind) ([]byte, error) {
	switch c := d.peek(); {
	case c == '-' || (c >= '0' && c <= '9'):
		n, ok := scanNumber(d.data[d.pos:])
		if !ok {
			d.pos += n
			return nil, d.syntaxError("invalid number")
		}
		lit := d.data[d.pos : d.pos+n]
		d.pos += n
		return lit, nil
	case c == '"':
		s, err := d.stringBytes()
		if err != nil {
			return nil, err
		}
		if isFloatKind(k) && nonFiniteName(s) {
			return s, nil
		}
		if n, ok := scanNumber(s); !ok || n != len(s) {
			return nil, &pathError{msg: "invalid number " + strconv.Quote(string(s))}
		}
		return s, nil
	}
	return nil, d.typeError("a number")
}

func (d *decoder) enum(fp *fieldPlan, fd protoreflect.FieldDescriptor) (protoreflect.Value, bool, error) {
	var v protoreflect.Value
	var name string
	switch c := d.peek(); {
	case c == '"':
		b, err := d.stringBytes()
		if err != nil {
			return v, false, err
		}
		if n, ok := fp.enumByName[string(b)]; ok {
			return protoreflect.ValueOfEnum(n), true, nil
		}
		name = strconv.Quote(string(b))
	case c == '-' || (c >= '0' && c <= '9'):
		lit, err := d.numberText(protoreflect.Int32Kind)
		if err != nil {
			return v, false, err
		}
		num, err := parseNumber(lit, protoreflect.Int32Kind)
		if err != nil {
			return v, false, err
		}
		n := protoreflect.EnumNumber(num.Int())
		if fd.Enum().Values().ByNumber(n) != nil {
			return protoreflect.ValueOfEnum(n), true, nil
		}
		name = string(lit)
	default:
		return v, false, d.typeError("an enum name")
	}
	if fd.Cardinality() == protoreflect.Required {
		return v, false, &pathError{msg: fmt.Sprintf("unknown value %s for enum %s", name, fd.Enum().FullName())}
	}
	return v, false, nil
}

// stringBytes reads a JSON string at the current position. The result
// aliases the input or the decoder's scratch buffer: it is valid until the
// next call.
func (d *decoder) stringBytes() ([]byte, error) {
	d.pos++ // opening quote
	start := d.pos
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c == '"':
			d.pos++
			return d.data[start : d.pos-1], nil
		case c == '\\':
			d.scratch = append(d.scratch[:0], d.data[start:d.pos]...)
			return d.escapedString()
		case c < 0x20:
			return nil, d.syntaxError("control character in string")
		default:
			d.pos++
		}
	}
	return nil, d.syntaxError("unterminated string")
}

func (d *decoder) escapedString() ([]byte, error) {
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.scratch, nil
		case c < 0x20:
			return nil, d.syntaxError("control character in string")
		case c != '\\':
			d.scratch = append(d.scratch, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.data) {
			break
		}
		d.pos++
		switch e := d.data[d.pos]; e {
		case '"', '\\', '/':
			d.scratch = append(d.scratch, e)
		case 'b':
			d.scratch = append(d.scratch, '\b')
		case 'f':
			d.scratch = append(d.scratch, '\f')
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'u':
			r, err := d.unicodeEscape()
			if err != nil {
				return nil, err
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
			continue
		default:
			return nil, d.syntaxError("invalid escape character")
		}
		d.pos++
	}
	return nil, d.syntaxError("unterminated string")
}

// unicodeEscape reads \uXXXX (d.pos is on the 'u'), combining a surrogate
// pair. A lone surrogate is refused, as Mesos' JSON parser (picojson) does:
// it stands for no character, so no UTF-8 string can hold it.
func (d *decoder) unicodeEscape() (rune, error) {
	r, ok := hex4(d.data[d.pos+1:])
	if !ok {
		return 0, d.syntaxError("invalid \\u escape")
	}
	at := d.pos - 1
	d.pos += 5
	if !utf16.IsSurrogate(r) {
		return r, nil
	}
	if len(d.data)-d.pos >= 6 && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
		if r2, ok := hex4(d.data[d.pos+2:]); ok {
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				d.pos += 6
				return dec, nil
			}
		}
	}
	return 0, &pathError{msg: fmt.Sprintf("%s: lone surrogate %s at offset %d", ErrInvalidUTF8, d.data[at:at+6], at), err: ErrInvalidUTF8}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// checkUTF8 refuses a string value that is not valid UTF-8 (proto string
// fields must hold UTF-8; Mesos' parser refuses such input): the error
// names the first bad byte's offset in the string, and the callers add the
// field path.
func checkUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return &pathError{msg: fmt.Sprintf("%s at byte %d of the string", ErrInvalidUTF8, i), err: ErrInvalidUTF8}
}

// decodeBase64 accepts standard base64 (what Mesos writes), with or without
// padding, and the URL-safe alphabet.
func decodeBase64(b []byte) ([]byte, error) {
	enc := base64.StdEncoding
	for _, c := range b {
		if c == '-' || c == '_' {
			enc = base64.URLEncoding
			break
		}
	}
	if len(b)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	out := make([]byte, enc.DecodedLen(len(b)))
	n, err := enc.Decode(out, b)
	return out[:n], err
}

// skipValue skips one JSON value of any kind, checking its syntax.
func (d *decoder) skipValue(depth int) error {
	if depth > maxDepth {
		return &pathError{msg: "JSON nesting too deep"}
	}
	switch c := d.peek(); {
	case c == '{':
		return d.members(func([]byte) error { return d.skipValue(depth + 1) })
	case c == '[':
		return d.elements(func(int) error { return d.skipValue(depth + 1) })
	case c == '"':
		_, err := d.stringBytes()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.numberText(protoreflect.Int32Kind)
		return err
	}
	return d.syntaxError("expected a value")
}
