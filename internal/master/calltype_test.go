package master

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
)

// A call whose type the master does not know is answered 400 with a
// message that names the field and the value sent, on both APIs and in
// both codecs (the decoders leave the field unset, as Mesos' do).
func TestUnknownCallTypeNamesTheValue(t *testing.T) {
	_, base := startMaster(t)
	bodies := []struct {
		name  string
		c     codec.Codec
		api   string
		body  []byte
		value string
	}{
		{"operator json name", codec.JSON, "/api/v1", []byte(`{"type":"NOPE"}`), `"NOPE"`},
		{"operator json number", codec.JSON, "/api/v1", []byte(`{"type":99}`), "99"},
		{"operator protobuf", codec.Protobuf, "/api/v1", []byte{0x08, 99}, "99"},
		{"scheduler json name", codec.JSON, "/api/v1/scheduler", []byte(`{"framework_id":{"value":"f"},"type":"NOPE"}`), `"NOPE"`},
		{"scheduler protobuf", codec.Protobuf, "/api/v1/scheduler", []byte{0x10, 99}, "99"},
	}
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			resp, msg := post(t, base+tc.api, tc.body, map[string]string{"Content-Type": tc.c.MediaType()})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, msg)
			}
			for _, want := range []string{"unknown call type " + tc.value, "field 'type'", "Call.Type"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
		})
	}
	// A call without a type keeps Mesos' message.
	for _, api := range []string{"/api/v1", "/api/v1/scheduler"} {
		resp, msg := post(t, base+api, []byte(`{}`), map[string]string{"Content-Type": codec.MediaTypeJSON})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(strings.ToLower(msg), "expecting 'type' to be present") {
			t.Errorf("%s without type: %d %q", api, resp.StatusCode, msg)
		}
	}
}
