package codec

import (
	"testing"

	"github.com/mesoproject/meso/api/codec/internal/testpb"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestRawValue(t *testing.T) {
	fd := (&testpb.Scalars{}).ProtoReflect().Descriptor().Fields().ByName("color")
	pb := protowire.AppendTag(nil, fd.Number(), protowire.VarintType)
	pb = protowire.AppendVarint(pb, 42)
	other := protowire.AppendTag(nil, 1, protowire.BytesType)
	other = protowire.AppendBytes(other, []byte("x"))
	cases := []struct {
		c    Codec
		data []byte
		want string
		ok   bool
	}{
		{JSON, []byte(`{"color":"PURPLE"}`), `"PURPLE"`, true},
		{JSON, []byte(` {"a":{"color":1},"color":7} `), "7", true},
		{JSON, []byte(`{"color":"RED","color":"X\n"}`), `"X\n"`, true},
		{JSON, []byte(`{"other":"PURPLE"}`), "", false},
		{JSON, []byte(`{"color":{}}`), "", false},
		{JSON, []byte(`{"color":"PU`), "", false},
		{JSON, []byte(`[]`), "", false},
		{Protobuf, append(other, pb...), "42", true},
		{Protobuf, other, "", false},
		{Protobuf, []byte{0xff}, "", false},
	}
	for _, tc := range cases {
		got, ok := RawValue(tc.c, tc.data, fd)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RawValue(%v, %q) = %q, %v; want %q, %v", tc.c, tc.data, got, ok, tc.want, tc.ok)
		}
	}
}
