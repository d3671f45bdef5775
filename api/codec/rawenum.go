package codec

import (
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// RawValue returns the text of the value a message in data gives to its
// top-level field fd, as it was sent, whatever the decoder made of it: a
// quoted string or a number for JSON (the last occurrence of the key, by
// its proto or JSON name), the number of the last varint for protobuf. ok
// is false when data does not hold the field (or does not parse). It lets
// an API say which value of an enum it did not know: the decoders leave an
// optional enum field unset on an unknown value, as Mesos does.
func RawValue(c Codec, data []byte, fd protoreflect.FieldDescriptor) (text string, ok bool) {
	switch c {
	case JSON:
		return rawJSON(data, fd)
	case Protobuf:
		return rawVarint(data, fd.Number())
	}
	return "", false
}

func rawJSON(data []byte, fd protoreflect.FieldDescriptor) (string, bool) {
	d := decoder{data: data}
	d.skipWS()
	if d.peek() != '{' {
		return "", false
	}
	var text string
	var found bool
	err := d.members(func(key []byte) error {
		if k := string(key); k != string(fd.Name()) && k != fd.JSONName() {
			return d.skipValue(1)
		}
		switch c := d.peek(); {
		case c == '"':
			b, err := d.stringBytes()
			if err != nil {
				return err
			}
			text, found = strconv.Quote(string(b)), true
			return nil
		case c == '-' || (c >= '0' && c <= '9'):
			lit, err := d.numberText(protoreflect.Int32Kind)
			if err != nil {
				return err
			}
			text, found = string(lit), true
			return nil
		}
		return d.skipValue(1)
	})
	return text, found && err == nil
}

func rawVarint(data []byte, num protoreflect.FieldNumber) (string, bool) {
	var text string
	var found bool
	for len(data) > 0 {
		n, typ, l := protowire.ConsumeTag(data)
		if l < 0 {
			return "", false
		}
		data = data[l:]
		if n == num && typ == protowire.VarintType {
			v, l := protowire.ConsumeVarint(data)
			if l < 0 {
				return "", false
			}
			text, found = strconv.FormatInt(int64(int32(v)), 10), true
			data = data[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, data)
		if l < 0 {
			return "", false
		}
		data = data[l:]
	}
	return text, found
}
