package codec_test

import (
	"errors"
	"testing"

	"github.com/mesoproject/meso/api/codec"
)

func TestForContentType(t *testing.T) {
	tests := []struct {
		in   string
		want codec.Codec
		err  error
	}{
		{"application/json", codec.JSON, nil},
		{"application/x-protobuf", codec.Protobuf, nil},
		{"application/json; charset=utf-8", codec.JSON, nil},
		{"Application/JSON", codec.JSON, nil},
		{" application/x-protobuf ;foo=bar", codec.Protobuf, nil},
		{"", nil, codec.ErrMissingContentType},
		{"  ", nil, codec.ErrMissingContentType},
		{"text/plain", nil, codec.ErrUnsupportedMediaType},
		{"application/recordio", nil, codec.ErrUnsupportedMediaType},
		{"application/jsonx", nil, codec.ErrUnsupportedMediaType},
		{"application/*", nil, codec.ErrUnsupportedMediaType},
	}
	for _, tt := range tests {
		got, err := codec.ForContentType(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ForContentType(%q) = %v, %v; want %v, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	_, err := codec.ForContentType("text/html")
	if want := `codec: unsupported media type "text/html": expecting "application/json" or "application/x-protobuf"`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestNegotiate(t *testing.T) {
	J, P := codec.JSON, codec.Protobuf
	tests := []struct {
		accept   string
		fallback codec.Codec
		want     codec.Codec
	}{
		{"", nil, J},
		{"", P, P},
		{"*/*", J, J},
		{"*/*", P, P},
		{"application/*", P, P},
		{"application/json", P, J},
		{"application/x-protobuf", J, P},
		{"APPLICATION/X-PROTOBUF", J, P},
		{"application/json;charset=utf-8", P, J},
		{"text/html, application/x-protobuf", J, P},
		{"application/json;q=0.5, application/x-protobuf", J, P},
		{"application/json, application/x-protobuf;q=0.9", P, J},
		{"application/json;q=0.8, application/x-protobuf;q=0.8", P, P},
		{"*/*;q=0.1, application/json;q=0", P, P},             // json explicitly refused
		{"application/x-protobuf;q=0, */*", J, J},             // the specific range wins
		{"application/*;q=0.2, application/json;q=0.1", J, P}, // protobuf gets 0.2 from application/*
		{"application/json;q=bogus, application/x-protobuf", J, P},
		{"application/json ; q=1.0", P, J},
	}
	for _, tt := range tests {
		got, err := codec.Negotiate(tt.accept, tt.fallback)
		if err != nil || got != tt.want {
			t.Errorf("Negotiate(%q, %v) = %v, %v; want %v", tt.accept, tt.fallback, got, err, tt.want)
		}
	}
	for _, accept := range []string{"text/html", "application/json;q=0", "application/json;q=0, application/x-protobuf;q=0", "*/*;q=0", "image/*", "garbage", "application/json;q=NaN"} {
		got, err := codec.Negotiate(accept, nil)
		if !errors.Is(err, codec.ErrNotAcceptable) {
			t.Errorf("Negotiate(%q) = %v, %v; want ErrNotAcceptable", accept, got, err)
		}
	}
}
