package codec

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

type protobufCodec struct{}

func (protobufCodec) MediaType() string { return MediaTypeProtobuf }

func (protobufCodec) String() string { return MediaTypeProtobuf }

// Marshal encodes m in the protobuf wire format after checking that every
// required field is set.
func (protobufCodec) Marshal(m proto.Message) ([]byte, error) {
	if m == nil {
		return nil, errors.New("codec: protobuf: nil message")
	}
	if err := checkRequired("protobuf", m); err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("codec: protobuf: %w", err)
	}
	return b, nil
}

// MarshalAppend is Marshal appending to b (the same bytes after b).
func (protobufCodec) MarshalAppend(b []byte, m proto.Message) ([]byte, error) {
	if m == nil {
		return b, errors.New("codec: protobuf: nil message")
	}
	if err := checkRequired("protobuf", m); err != nil {
		return b, err
	}
	out, err := proto.MarshalOptions{AllowPartial: true}.MarshalAppend(b, m)
	if err != nil {
		return b, fmt.Errorf("codec: protobuf: %w", err)
	}
	return out, nil
}

// Unmarshal decodes the protobuf wire format into m (after resetting it) and
// checks that every required field is set. Unknown fields are kept.
func (protobufCodec) Unmarshal(data []byte, m proto.Message) error {
	if m == nil {
		return errors.New("codec: protobuf: nil message")
	}
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("codec: protobuf: %w", err)
	}
	return checkRequired("protobuf", m)
}
