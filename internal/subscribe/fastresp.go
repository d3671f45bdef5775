package subscribe

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/mesoproject/meso/internal/h1pipe"
)

// readBuffered reads an answer already whole in br's buffer when it has
// the plain shape a server gives a call: "HTTP/1.1", a three-digit status
// with a body (not 1xx, 204 or 304), canonical token header names, values
// without control bytes or line folding, exactly one Content-Length of
// digits and no Transfer-Encoding, Connection, Trailer or Pragma. It
// gives what http.ReadResponse followed by readWhole gives for those
// bytes (FuzzReadBuffered), without net/textproto's copies; ok is false,
// with nothing read from br, for anything else (the caller falls back to
// http.ReadResponse). header interns the header names and values of a
// connection's answers, which mostly repeat.
func readBuffered(br *bufio.Reader, req *http.Request, in *headerInterner) (resp *http.Response, ok bool) {
	if req == nil || req.Method == http.MethodHead {
		return nil, false
	}
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil { // waits for the next bytes
			return nil, false
		}
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	line, rest, _ := bytes.Cut(buf[:end+2], []byte("\r\n"))
	const proto = "HTTP/1.1 "
	if len(line) < len(proto)+3 || string(line[:len(proto)]) != proto {
		return nil, false
	}
	status := line[len(proto):]
	code := 0
	for _, c := range status[:3] {
		if c < '0' || c > '9' {
			return nil, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code == 204 || code == 304 || (len(status) > 3 && status[3] != ' ') {
		return nil, false
	}
	for _, c := range status {
		if c < 0x20 || c == 0x7f {
			return nil, false
		}
	}
	header := make(http.Header, 4)
	vals := make([]string, bytes.Count(rest, []byte("\r\n"))) // backs the values, one each
	nvals := 0
	length := int64(-1)
	for len(rest) > 0 {
		i := bytes.Index(rest, []byte("\r\n"))
		hl := rest[:i]
		rest = rest[i+2:]
		key, v, ok := in.line(hl)
		if !ok {
			return nil, false
		}
		switch key {
		case "Content-Length":
			if length >= 0 {
				return nil, false
			}
			n, ok := h1pipe.ParseLength(v)
			if !ok {
				return nil, false
			}
			length = n
		case "Transfer-Encoding", "Connection", "Trailer", "Pragma":
			return nil, false
		}
		if prev, ok := header[key]; ok {
			header[key] = append(prev, v)
		} else {
			vals[nvals] = v
			header[key] = vals[nvals : nvals+1 : nvals+1]
			nvals++
		}
	}
	if length < 0 || int64(len(buf)-(end+4)) < length {
		return nil, false
	}
	var body []byte
	if length > 0 {
		body = bytes.Clone(buf[end+4 : end+4+int(length)])
	}
	if _, err := br.Discard(end + 4 + int(length)); err != nil {
		return nil, false // cannot be: the bytes are buffered
	}
	return &http.Response{
		Status:        string(status),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: length,
		Request:       req,
	}, true
}

// headerInterner keeps the header lines of a connection's answers seen
// before (they mostly repeat), by the line as sent.
type headerInterner struct{ m map[string][2]string }

// line splits a header line into its name and value (spaces and tabs
// trimmed); false unless the name is a canonical token and the value has
// no control bytes.
func (in *headerInterner) line(hl []byte) (key, value string, ok bool) {
	if kv, ok := in.m[string(hl)]; ok {
		return kv[0], kv[1], true
	}
	colon := bytes.IndexByte(hl, ':')
	if colon <= 0 || !canonicalToken(hl[:colon]) {
		return "", "", false
	}
	v := h1pipe.TrimOWS(hl[colon+1:])
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return "", "", false
		}
	}
	key, value = string(hl[:colon]), string(v)
	if len(hl) <= 128 && len(in.m) < 256 {
		if in.m == nil {
			in.m = map[string][2]string{}
		}
		in.m[string(hl)] = [2]string{key, value}
	}
	return key, value, true
}

// canonicalToken reports whether name is a header name made of token
// characters already in net/textproto's canonical form.
func canonicalToken(name []byte) bool {
	upper := true
	for _, c := range name {
		switch {
		case 'a' <= c && c <= 'z':
			if upper {
				return false
			}
		case 'A' <= c && c <= 'Z':
			if !upper {
				return false
			}
		case '0' <= c && c <= '9', strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
		upper = c == '-'
	}
	return true
}
