package codec

import (
	"errors"

	"google.golang.org/protobuf/proto"
)

// Media types of the Mesos v1 HTTP API. These exact strings go into the
// Content-Type of responses (no parameters), as Mesos writes them.
const (
	MediaTypeJSON     = "application/json"
	MediaTypeProtobuf = "application/x-protobuf"
)

// Codec encodes and decodes messages in one media type.
//
// Marshal fails when the message lacks a proto2 required field (a bug in the
// sender); the error names the field path. Unmarshal resets the message
// first, and fails on malformed input or a missing required field, with a
// message fit for the body of a 400 response. Neither retains its input, and
// both are safe for concurrent use.
type Codec interface {
	MediaType() string
	Marshal(m proto.Message) ([]byte, error)
	Unmarshal(data []byte, m proto.Message) error
}

// The two codecs of the Mesos v1 API.
var (
	// JSON is the Mesos JSON codec; see the package documentation for the
	// exact rules.
	JSON Codec = jsonCodec{}
	// Protobuf is the binary protobuf codec.
	Protobuf Codec = protobufCodec{}
)

// Errors callers branch on. Errors returned by this package wrap them.
var (
	// ErrMissingContentType: the request has no Content-Type (Mesos: 400).
	ErrMissingContentType = errors.New("codec: missing Content-Type")
	// ErrUnsupportedMediaType: the Content-Type names neither codec (415).
	ErrUnsupportedMediaType = errors.New("codec: unsupported media type")
	// ErrNotAcceptable: the Accept header allows neither codec (406).
	ErrNotAcceptable = errors.New("codec: not acceptable")
	// ErrMissingRequired: a proto2 required field is not set.
	ErrMissingRequired = errors.New("missing required field")
	// ErrInvalidUTF8: a JSON string for a string field (or a string map
	// key) is not valid UTF-8, or holds an escaped lone surrogate.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
)

type jsonCodec struct{}

func (jsonCodec) MediaType() string { return MediaTypeJSON }

func (jsonCodec) Marshal(m proto.Message) ([]byte, error) { return MarshalJSON(m) }

func (jsonCodec) Unmarshal(data []byte, m proto.Message) error { return UnmarshalJSON(data, m) }

func (jsonCodec) String() string { return MediaTypeJSON }
