package codec

import (
	"fmt"
	"strconv"
	"strings"
)

// ForContentType returns the codec for the value of a request's Content-Type
// header. Parameters (such as "; charset=utf-8") are ignored and the media
// type is matched without regard to case. An empty value gives
// ErrMissingContentType (Mesos answers 400); any other media type gives an
// error wrapping ErrUnsupportedMediaType (415).
func ForContentType(contentType string) (Codec, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case mt == "":
		return nil, ErrMissingContentType
	case equalFoldASCII(mt, MediaTypeJSON):
		return JSON, nil
	case equalFoldASCII(mt, MediaTypeProtobuf):
		return Protobuf, nil
	}
	return nil, fmt.Errorf("%w %q: expecting %q or %q",
		ErrUnsupportedMediaType, contentType, MediaTypeJSON, MediaTypeProtobuf)
}

// Negotiate picks the codec for a response from the value of the request's
// Accept header. A missing or empty header, or one that rates both codecs
// equally (such as "*/*"), selects fallback; nil fallback means JSON, which
// is what Mesos picks then. Otherwise the codec with the highest q-value
// wins, each codec rated by the most specific media range that matches it
// ("application/json" before "application/*" before "*/*"). When no codec has
// a q-value above zero the error wraps ErrNotAcceptable (Mesos answers 406).
func Negotiate(accept string, fallback Codec) (Codec, error) {
	if fallback == nil {
		fallback = JSON
	}
	if strings.TrimSpace(accept) == "" {
		return fallback, nil
	}
	other := Protobuf
	if fallback.MediaType() == MediaTypeProtobuf {
		other = JSON
	}
	qf, qo := acceptQuality(accept, fallback.MediaType()), acceptQuality(accept, other.MediaType())
	switch {
	case qf > 0 && qf >= qo:
		return fallback, nil
	case qo > 0:
		return other, nil
	}
	return nil, fmt.Errorf("%w: Accept %q allows neither %q nor %q",
		ErrNotAcceptable, accept, MediaTypeJSON, MediaTypeProtobuf)
}

// acceptQuality returns the q-value (in thousandths) that the Accept header
// gives to mediaType, 0 when it does not match.
func acceptQuality(accept, mediaType string) int {
	typ, sub, _ := strings.Cut(mediaType, "/")
	best, bestSpec := 0, -1
	for rng := range strings.SplitSeq(accept, ",") {
		mr, params, _ := strings.Cut(rng, ";")
		rt, rs, ok := strings.Cut(strings.TrimSpace(mr), "/")
		if !ok {
			continue
		}
		rt, rs = strings.TrimSpace(rt), strings.TrimSpace(rs)
		spec := 0
		switch {
		case equalFoldASCII(rt, typ) && equalFoldASCII(rs, sub):
			spec = 2
		case equalFoldASCII(rt, typ) && rs == "*":
			spec = 1
		case rt == "*" && rs == "*":
			spec = 0
		default:
			continue
		}
		q, ok := qValue(params)
		if !ok {
			continue
		}
		if spec > bestSpec || (spec == bestSpec && q > best) {
			best, bestSpec = q, spec
		}
	}
	return best
}

// qValue extracts the q parameter (default 1) in thousandths; ok is false
// when it is malformed, in which case the range is ignored.
func qValue(params string) (int, bool) {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, val, _ := strings.Cut(p, "=")
		if !equalFoldASCII(strings.TrimSpace(name), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return 0, false
		}
		return int(f*1000 + 0.5), true
	}
	return 1000, true
}

// equalFoldASCII compares without regard to ASCII case, as HTTP compares
// media types and parameter names; unlike strings.EqualFold it does not
// fold Unicode ("application/j\u017fon" is not JSON).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
