package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
)

// asciiLower lowers ASCII letters only: media types are compared without
// regard to ASCII case (RFC 9110), never by Unicode folding.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// FuzzForContentType: a Content-Type selects JSON or protobuf exactly when
// its media type (before any parameter) is one of theirs, in any ASCII case;
// anything else gives a typed error.
func FuzzForContentType(f *testing.F) {
	for _, s := range []string{"application/json", "application/x-protobuf", "Application/JSON; charset=utf-8",
		" application/x-protobuf ;q=1", "", " ", "text/plain", "application/*", "application/jsonx",
		"application/j\u017fon", "application/x-protobu\u212a", "application/json\x00", ";application/json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		c, err := codec.ForContentType(ct)
		mt, _, _ := strings.Cut(ct, ";")
		mt = asciiLower(strings.TrimSpace(mt))
		var want codec.Codec
		switch mt {
		case codec.MediaTypeJSON:
			want = codec.JSON
		case codec.MediaTypeProtobuf:
			want = codec.Protobuf
		}
		switch {
		case want != nil && (c != want || err != nil):
			t.Fatalf("ForContentType(%q) = %v, %v; want %v", ct, c, err, want)
		case want == nil && mt == "" && (c != nil || !errors.Is(err, codec.ErrMissingContentType)):
			t.Fatalf("ForContentType(%q) = %v, %v; want ErrMissingContentType", ct, c, err)
		case want == nil && mt != "" && (c != nil || !errors.Is(err, codec.ErrUnsupportedMediaType)):
			t.Fatalf("ForContentType(%q) = %v, %v; want ErrUnsupportedMediaType", ct, c, err)
		}
	})
}

// FuzzNegotiate: Negotiate answers a codec from the two offered or an error
// wrapping ErrNotAcceptable; the fallback only breaks ties; a range naming
// another media type changes nothing; ranges are read in any ASCII case.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/*", "application/json", "application/x-protobuf",
		"APPLICATION/X-PROTOBUF", "text/html, application/x-protobuf", "application/json;q=0.5, application/x-protobuf",
		"application/json;q=0, application/x-protobuf;q=0", "*/*;q=0.1, application/json;q=0", "*/*;q=x",
		"application/json;q=1.0001", "application/json;q=NaN", "application/json ; Q=0.3,*/*;q=0.2",
		"application/j\u017fon", "application/x-protobu\u212a;q=1", ",,,;", "a/b/c", "application/json;q=1e-4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		cj, errj := codec.Negotiate(accept, codec.JSON)
		cp, errp := codec.Negotiate(accept, codec.Protobuf)
		for _, r := range []struct {
			c   codec.Codec
			err error
		}{{cj, errj}, {cp, errp}} {
			if r.err == nil && r.c != codec.JSON && r.c != codec.Protobuf || r.err != nil && (r.c != nil || !errors.Is(r.err, codec.ErrNotAcceptable)) {
				t.Fatalf("Negotiate(%q) = %v, %v: neither an offered codec nor ErrNotAcceptable", accept, r.c, r.err)
			}
		}
		if (errj == nil) != (errp == nil) || errj == nil && cj != cp && (cj != codec.JSON || cp != codec.Protobuf) {
			t.Fatalf("Negotiate(%q): %v, %v with JSON fallback, %v, %v with protobuf: the fallback did more than break a tie",
				accept, cj, errj, cp, errp)
		}
		if strings.TrimSpace(accept) == "" {
			return
		}
		if c, err := codec.Negotiate(accept+", text/html;q=1", codec.JSON); c != cj || (err == nil) != (errj == nil) {
			t.Fatalf("Negotiate(%q) = %v, %v, but %v, %v with text/html added", accept, cj, errj, c, err)
		}
		upper := strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' {
				return r - 'a' + 'A'
			}
			return r
		}, accept)
		if c, err := codec.Negotiate(upper, codec.JSON); c != cj || (err == nil) != (errj == nil) {
			t.Fatalf("Negotiate(%q) = %v, %v, but Negotiate(%q) = %v, %v", accept, cj, errj, upper, c, err)
		}
		// Unicode case folding must not make a media type out of another
		// one ("ſ" folds to "s", "K" to "k").
		if !strings.Contains(asciiLower(accept), "json") && !strings.Contains(asciiLower(accept), "protobuf") &&
			!strings.Contains(accept, "*") && errj == nil {
			t.Fatalf("Negotiate(%q) = %v without naming a codec nor a wildcard", accept, cj)
		}
	})
}
