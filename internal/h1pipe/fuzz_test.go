package h1pipe

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"testing"
)

// FuzzParse: whatever the bytes, parse does not panic, and a request it
// takes is the one net/http reads from the same bytes (method, path,
// host, headers, body, length), which net/http's server would serve too.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"POST /call HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
		"POST /call HTTP/1.1\r\nHost: h:80\r\ncontent-type: application/json\r\nx-a: 1\r\nX-A:  2 \r\n\r\n",
		"POST /call HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\nPOST /call HTTP/1.1\r\n",
		"POST /call HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /call HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\nabcdefg",
		"POST /call HTTP/1.1\r\nHost: h\r\nX-\xff: v\r\n\r\n",
		"POST /call HTTP/1.1\r\nHost: h\r\nX: v\xff\x80\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	paths := map[string]bool{"/call": true}
	f.Fuzz(func(t *testing.T, b []byte) {
		keys := newInterner()
		p, n, st := parse(b, paths, keys)
		if p2, n2, st2 := parse(b, paths, keys); st2 != st || n2 != n || (p != nil && !reflect.DeepEqual(p.header, p2.header)) {
			t.Fatalf("%q parsed again with the names interned: %v %d, first %v %d", b, st2, n2, st, n)
		}
		if st == parseShort && headComplete(b) && p == nil {
			// A head still short while complete is a contradiction only
			// for a request parse could take: it would never finish.
			if _, _, st2 := parse(append(bytes.Clone(b), make([]byte, MaxBody+MaxHead)...), paths, keys); st2 == parseShort {
				t.Fatalf("short forever: %q", b)
			}
		}
		if st != parseOK {
			return
		}
		if !headComplete(b) {
			t.Fatalf("parsed but not complete: %q", b)
		}
		r := bufio.NewReader(bytes.NewReader(b))
		req, err := http.ReadRequest(r)
		if err != nil {
			t.Fatalf("parse took %q, net/http: %v", b, err)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatalf("net/http body of %q: %v", b, err)
		}
		rest, _ := io.ReadAll(r)
		switch {
		case req.Method != http.MethodPost || req.URL.Path != p.path || req.URL.RawQuery != "" || req.RequestURI != p.path:
			t.Fatalf("%q: net/http %s %s (%s), parse %s", b, req.Method, req.URL, req.RequestURI, p.path)
		case req.Host != p.host:
			t.Fatalf("%q: host %q, parse %q", b, req.Host, p.host)
		case !reflect.DeepEqual(req.Header, p.header):
			t.Fatalf("%q: headers %q, parse %q", b, req.Header, p.header)
		case !bytes.Equal(body, p.body) || req.ContentLength != p.length || int64(len(p.body)) != p.length:
			t.Fatalf("%q: body %q (%d), parse %q (%d)", b, body, req.ContentLength, p.body, p.length)
		case len(b)-len(rest) != n:
			t.Fatalf("%q: net/http read %d bytes, parse %d", b, len(b)-len(rest), n)
		case req.Close || len(req.TransferEncoding) > 0 || req.ProtoMinor != 1:
			t.Fatalf("%q: net/http close %v, te %v, 1.%d", b, req.Close, req.TransferEncoding, req.ProtoMinor)
		}
		for k, vv := range req.Header {
			if !validFieldName(k) {
				t.Fatalf("%q: net/http's server refuses the name %q", b, k)
			}
			for _, v := range vv {
				if !validFieldValue(v) {
					t.Fatalf("%q: net/http's server refuses the value %q", b, v)
				}
			}
		}
	})
}

// As golang.org/x/net/http/httpguts, which net/http's server checks.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTchar(k[i]) {
			return false
		}
	}
	return true
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
