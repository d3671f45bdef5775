package subscribe

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// writePlain writes req as req.Write does when req is a plain call: a
// POST of a known length, its URL without user or opaque part, a host of
// letters, digits and ".-:[]", no Close, Trailer or Transfer-Encoding, and
// header names that are canonical tokens with values net/http writes as
// they are (no CR, LF or edge spaces). ok is false, with nothing written,
// for any other request (the caller uses req.Write). TestWritePlain and
// FuzzWritePlain compare the bytes with req.Write's.
func writePlain(bw *bufio.Writer, req *http.Request, keys []string) (ok bool, err error) {
	u := req.URL
	if req.Method != http.MethodPost || u == nil || u.User != nil || u.Opaque != "" || req.Close ||
		len(req.TransferEncoding) != 0 || len(req.Trailer) != 0 || req.ContentLength < 0 ||
		(req.ContentLength > 0 && req.Body == nil) {
		return false, nil
	}
	if req.ContentLength == 0 && req.Body != nil && req.Body != http.NoBody {
		return false, nil // req.Write would send it chunked
	}
	host := req.Host
	if host == "" {
		host = u.Host
	}
	if host == "" || !plainHost(host) {
		return false, nil
	}
	keys = keys[:0]
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			return false, nil // req.Write's rules for these differ
		}
		if k == "" || !canonicalToken([]byte(k)) {
			return false, nil
		}
		for _, v := range vs {
			if !plainValue(v) {
				return false, nil
			}
		}
		keys = append(keys, k)
	}
	ruri := u.RequestURI()
	for i := 0; i < len(ruri); i++ {
		if c := ruri[i]; c < 0x20 || c == 0x7f {
			return false, nil
		}
	}
	slices.Sort(keys)
	bw.WriteString("POST ")
	bw.WriteString(ruri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	ua := "Go-http-client/1.1"
	if vs, has := req.Header["User-Agent"]; has {
		ua = ""
		if len(vs) > 0 {
			ua = vs[0]
		}
	}
	if ua != "" {
		bw.WriteString("\r\nUser-Agent: ")
		bw.WriteString(ua)
	}
	bw.WriteString("\r\nContent-Length: ")
	var num [20]byte
	bw.Write(strconv.AppendInt(num[:0], req.ContentLength, 10))
	bw.WriteString("\r\n")
	for _, k := range keys {
		if k == "User-Agent" {
			continue
		}
		for _, v := range req.Header[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	if req.Body == nil {
		return true, nil
	}
	n, err := io.Copy(bw, io.LimitReader(req.Body, req.ContentLength))
	if err == nil {
		var extra int64
		extra, err = io.Copy(io.Discard, req.Body)
		n += extra
	}
	req.Body.Close()
	if err == nil && n != req.ContentLength {
		err = fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, n)
	}
	return true, err
}

func plainHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']':
		default:
			return false
		}
	}
	return true
}

// plainValue: a header value req.Write writes unchanged (its newline
// replacement and trimming do nothing, no byte net/http refuses).
func plainValue(v string) bool {
	if v != strings.TrimSpace(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
