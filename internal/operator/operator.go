package operator

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/httpbound"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Path is the operator API's endpoint on both daemons.
const Path = "/api/v1"

// DefaultMaxCallBytes bounds an operator call's body.
const DefaultMaxCallBytes = 4 << 20

// Error writes a plain-text error answer.
func Error(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strings.TrimRight(msg, "\n")+"\n")
}

// ReadCall reads and decodes an operator call into call, answering the
// request itself (and returning false) when it cannot: 405 for a method
// other than POST, 400 without Content-Type, 415 for an unknown one, 406
// when Accept allows neither codec, 413/408/503 from the HTTP bounds, 400
// for a body that does not decode (the codec's message names the field)
// or a call without a known type. It returns the codec of the answer.
func ReadCall(w http.ResponseWriter, r *http.Request, b *httpbound.Bounds, limit int64, call proto.Message) (codec.Codec, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		Error(w, http.StatusMethodNotAllowed, fmt.Sprintf("Expecting 'POST', received '%s'", r.Method))
		return nil, false
	}
	in, err := codec.ForContentType(r.Header.Get("Content-Type"))
	switch {
	case errors.Is(err, codec.ErrMissingContentType):
		Error(w, http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return nil, false
	case err != nil:
		Error(w, http.StatusUnsupportedMediaType, err.Error())
		return nil, false
	}
	out, err := codec.Negotiate(r.Header.Get("Accept"), codec.JSON)
	if err != nil {
		Error(w, http.StatusNotAcceptable, err.Error())
		return nil, false
	}
	body, release, err := b.ReadBody(w, r, limit)
	if err != nil {
		Error(w, httpbound.Status(err), err.Error())
		return nil, false
	}
	msg := ""
	if err := in.Unmarshal(body, call); err != nil {
		msg = "Failed to parse body into Call protobuf: " + err.Error()
	} else {
		msg = CheckCallType(in, body, call)
	}
	release()
	if msg != "" {
		Error(w, http.StatusBadRequest, msg)
		return nil, false
	}
	return out, true
}

// CheckCallType says what is wrong with the `type` of a call (an operator
// or a scheduler call) decoded by c from body, "" when it is fine: unset,
// UNKNOWN, or a value the enum does not define. The decoders leave an
// optional enum unset on a value they do not know (Mesos does too, and
// then answers "Expecting 'type' to be present"); body tells which value
// was sent, so the answer names it.
func CheckCallType(c codec.Codec, body []byte, call proto.Message) string {
	m := call.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("type")
	if fd == nil {
		return ""
	}
	unknown := func(v string) string {
		return fmt.Sprintf("Failed to parse body into Call protobuf: unknown call type %s in field 'type' (%s has no such value)",
			v, fd.Enum().FullName())
	}
	if !m.Has(fd) {
		if raw, ok := codec.RawValue(c, body, fd); ok {
			return unknown(raw)
		}
		return "Expecting 'type' to be present"
	}
	n := m.Get(fd).Enum()
	switch {
	case fd.Enum().Values().ByNumber(n) == nil:
		return unknown(strconv.Itoa(int(n)))
	case n == 0:
		return "Expecting 'type' to be a known call type, got UNKNOWN"
	}
	return ""
}

// RequirePayload answers 400 and returns false when the call lacks the
// payload field named (e.g. "set_logging_level").
func RequirePayload(w http.ResponseWriter, call proto.Message, field protoreflect.Name) bool {
	m := call.ProtoReflect()
	if fd := m.Descriptor().Fields().ByName(field); fd != nil && m.Has(fd) {
		return true
	}
	Error(w, http.StatusBadRequest, fmt.Sprintf("Expecting '%s' to be present", field))
	return false
}

// NotImplemented answers a call meso does not serve (yet): 501, as Mesos
// answers calls it does not implement, with a message naming the call.
func NotImplemented(w http.ResponseWriter, callType fmt.Stringer, why string) {
	Error(w, http.StatusNotImplemented, fmt.Sprintf("%s is not implemented by meso: %s", callType, why))
}

// Respond writes resp with 200 in codec c. A response that does not
// encode is a bug in the daemon: 500.
func Respond(w http.ResponseWriter, c codec.Codec, resp proto.Message) {
	data, err := c.Marshal(resp)
	if err != nil {
		Error(w, http.StatusInternalServerError, "failed to encode the response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", c.MediaType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// Flags converts a daemon's flags to their wire form, sorted by name.
func Flags(flags map[string]string) []*mesospb.Flag {
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]*mesospb.Flag, len(names))
	for i, n := range names {
		out[i] = &mesospb.Flag{Name: proto.String(n), Value: proto.String(flags[n])}
	}
	return out
}

// Metrics converts a metrics snapshot to its wire form, sorted by name.
func Metrics(snap map[string]float64) []*mesospb.Metric {
	names := make([]string, 0, len(snap))
	for n := range snap {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]*mesospb.Metric, len(names))
	for i, n := range names {
		out[i] = &mesospb.Metric{Name: proto.String(n), Value: proto.Float64(snap[n])}
	}
	return out
}

// VersionInfo is the GET_VERSION answer's version_info.
func VersionInfo(version string) *mesospb.VersionInfo {
	return &mesospb.VersionInfo{Version: proto.String(version)}
}
