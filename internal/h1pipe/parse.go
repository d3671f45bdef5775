package h1pipe

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
)

var eof = io.EOF

// parsed is a request the strict parser took.
type parsed struct {
	path   string
	host   string
	header http.Header // without Host, as net/http's
	body   []byte      // aliases the connection's buffer until answered
	length int64       // Content-Length
	head   int         // bytes before the body

	bodyErr error // the body did not arrive whole: this ends it

	vals [8]string // backs the header's values (one each, the usual case)
}

// interner keeps a connection's canonical header names (by the name as
// sent) and recent header values, so that the requests of a connection,
// whose heads mostly repeat, do not allocate them again.
type interner struct {
	keys  map[string]string     // canonical names by the name as sent
	lines map[string]headerLine // header lines already taken, as sent
}

// headerLine is a header line the parser took before: its canonical name
// and its value.
type headerLine struct{ key, value string }

func newInterner() *interner {
	return &interner{keys: map[string]string{}, lines: map[string]headerLine{}}
}

// line splits a header line (without its CRLF) into its canonical name
// and value (OWS trimmed); false when the name is not a token or the value
// holds control bytes. A line seen before is found whole.
func (in *interner) line(line []byte) (key, value string, ok bool) {
	if hl, ok := in.lines[string(line)]; ok {
		return hl.key, hl.value, true
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return "", "", false
	}
	name, v := line[:colon], TrimOWS(line[colon+1:])
	for _, c := range name {
		if !isTchar(c) {
			return "", "", false
		}
	}
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return "", "", false
		}
	}
	key, value = in.key(name), string(v)
	if len(line) <= maxInternedValue && len(in.lines) < maxInterned {
		in.lines[string(line)] = headerLine{key, value}
	}
	return key, value, true
}

// maxInterned bounds each of an interner's maps; maxInternedValue the
// length of a header line kept.
const (
	maxInterned      = 256
	maxInternedValue = 128
)

func (in *interner) key(name []byte) string {
	if key, ok := in.keys[string(name)]; ok {
		return key
	}
	key := canonical(name)
	if len(in.keys) < maxInterned {
		in.keys[string(name)] = key
	}
	return key
}

func (p *parsed) url() *url.URL { return &url.URL{Path: p.path} }

type parseStatus int

const (
	parseOK      parseStatus = iota
	parseShort               // a prefix of a request this parser may take: read on
	parseNotMine             // net/http's to answer
)

const prefix = "POST "

// headComplete reports whether b holds at least a whole head and, when the
// head declares one, body; or bytes that are surely not a request served
// here (so that waiting for more would not change what happens next).
func headComplete(b []byte) bool {
	n := min(len(b), len(prefix))
	if string(b[:n]) != prefix[:n] {
		return true
	}
	end := bytes.Index(b[:min(len(b), MaxHead)], []byte("\r\n\r\n"))
	if end < 0 {
		return len(b) >= MaxHead
	}
	cl := int64(0)
	_, lines, _ := bytes.Cut(b[:end], crlf)
	for len(lines) > 0 {
		var line []byte
		line, lines, _ = bytes.Cut(lines, crlf)
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(name), "Content-Length") {
			v, ok := ParseLength(TrimOWS(value))
			if !ok {
				return true
			}
			cl = v
		}
	}
	return cl > MaxBody || int64(len(b)) >= int64(end+4)+cl
}

// parse reads one request from the front of b. It takes only POSTs of the
// paths given, HTTP/1.1, CRLF line ends, token header names and values
// without control bytes, one Host, at most one Content-Length (digits, at
// most MaxBody) and none of Transfer-Encoding, Expect, Upgrade, Trailer,
// TE, Pragma, HTTP2-Settings or a Connection other than keep-alive; with
// parseOK it returns the request and its length in b. in interns the
// canonical header names and values.
func parse(b []byte, paths map[string]bool, in *interner) (*parsed, int, parseStatus) {
	n := min(len(b), len(prefix))
	if string(b[:n]) != prefix[:n] {
		return nil, 0, parseNotMine
	}
	end := bytes.Index(b[:min(len(b), MaxHead)], []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= MaxHead {
			return nil, 0, parseNotMine
		}
		// A request line already not one of ours needs no more bytes.
		if line, _, ok := bytes.Cut(b, crlf); ok {
			if _, ok := requestPath(line, paths); !ok {
				return nil, 0, parseNotMine
			}
		}
		return nil, 0, parseShort
	}
	head := b[:end+2] // every line with its CRLF
	lineEnd := bytes.Index(head, crlf)
	path, ok := requestPath(head[:lineEnd], paths)
	if !ok {
		return nil, 0, parseNotMine
	}
	p := &parsed{path: path, header: make(http.Header, 8)}
	hosts, lengths, nvals := 0, 0, 0
	cl := int64(0)
	rest := head[lineEnd+2:]
	for len(rest) > 0 {
		i := bytes.Index(rest, crlf)
		line := rest[:i]
		rest = rest[i+2:]
		key, value, ok := in.line(line)
		if !ok {
			return nil, 0, parseNotMine
		}
		switch key {
		case "Host":
			hosts++
			if len(value) == 0 || !validHost(value) {
				return nil, 0, parseNotMine
			}
			p.host = value
			continue
		case "Content-Length":
			lengths++
			v, ok := ParseLength(value)
			if !ok || v > MaxBody {
				return nil, 0, parseNotMine
			}
			cl = v
		case "Transfer-Encoding", "Expect", "Upgrade", "Trailer", "Te", "Pragma", "Http2-Settings":
			return nil, 0, parseNotMine
		case "Connection":
			if !strings.EqualFold(value, "keep-alive") {
				return nil, 0, parseNotMine
			}
		}
		v := value
		if prev, ok := p.header[key]; ok || nvals == len(p.vals) {
			p.header[key] = append(prev, v)
		} else {
			p.vals[nvals] = v
			p.header[key] = p.vals[nvals : nvals+1 : nvals+1]
			nvals++
		}
	}
	if hosts != 1 || lengths > 1 {
		return nil, 0, parseNotMine
	}
	total := int64(end+4) + cl
	p.length, p.head = cl, end+4
	if int64(len(b)) < total {
		p.body = b[end+4:] // what arrived of it
		return p, int(total), parseShort
	}
	p.body = b[end+4 : total]
	return p, int(total), parseOK
}

// requestPath is the path of a request line "POST <path> HTTP/1.1" of one
// of paths.
func requestPath(line []byte, paths map[string]bool) (string, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(prefix))
	if !ok {
		return "", false
	}
	target, ok := bytes.CutSuffix(rest, []byte(" HTTP/1.1"))
	if !ok || !paths[string(target)] {
		return "", false
	}
	for p := range paths {
		if p == string(target) {
			return p, true // the interned string
		}
	}
	return "", false
}

// ParseLength parses a Content-Length value: 1 to 10 decimal digits, no
// sign or spaces (the subscribe package's answer reader shares it).
func ParseLength[T string | []byte](v T) (int64, bool) {
	if len(v) == 0 || len(v) > 10 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// TrimOWS trims a header value's optional white space (spaces and tabs,
// RFC 9110 5.6.3).
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isTchar reports a token character (RFC 9110 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHost takes the plain host[:port] forms only.
func validHost(b string) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_':
		default:
			return false
		}
	}
	return true
}

// canonical is textproto's canonical form of a token header name.
func canonical(name []byte) string {
	out := make([]byte, len(name))
	upper := true
	for i, c := range name {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
		upper = c == '-'
	}
	return string(out)
}
