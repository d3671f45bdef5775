package master

import (
	"bytes"
	"net/http"
	"regexp"

	"github.com/mesoproject/meso/api/codec"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of mesos.v1.scheduler.Call.
const (
	callTypeField      = 2
	callSubscribeField = 3
	callTypeSubscribe  = 1
)

// numericType finds a JSON "type" given as a number (protojson takes
// enum numbers too).
var numericType = regexp.MustCompile(`"type"\s*:\s*"?\s*[-+0-9]`)

// notSubscribe tells h1pipe which scheduler calls it may answer: every
// one that surely is not a SUBSCRIBE (whose answer is a stream, net/http's
// to serve). Whatever it cannot tell from the bytes goes to net/http too,
// which answers it the same.
func notSubscribe(_ string, h http.Header, body []byte) bool {
	in, err := codec.ForContentType(h.Get("Content-Type"))
	if err != nil {
		return true // 400 or 415, whatever the body
	}
	if in == codec.Protobuf {
		for len(body) > 0 {
			num, typ, n := protowire.ConsumeTag(body)
			if n < 0 {
				return false
			}
			body = body[n:]
			if num == callSubscribeField {
				return false
			}
			if num == callTypeField && typ == protowire.VarintType {
				v, m := protowire.ConsumeVarint(body)
				if m < 0 || v == callTypeSubscribe || int32(v) == callTypeSubscribe {
					return false
				}
			}
			m := protowire.ConsumeFieldValue(num, typ, body)
			if m < 0 {
				return false
			}
			body = body[m:]
		}
		return true
	}
	// JSON: no escapes, no word
	// "subscribe" in any case, no numeric type.
	if bytes.IndexByte(body, '\\') >= 0 || bytes.Contains(bytes.ToLower(body), []byte("subscribe")) {
		return false
	}
	return !numericType.Match(body)
}
