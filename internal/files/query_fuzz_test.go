package files

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// jsIdentifierPath is what a JSONP callback may be: dotted JavaScript
// identifiers (ASCII), nothing that could end the call or start another
// statement.
var jsIdentifierPath = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z0-9_$]*)*$`)

// refIntParam is what offset and length mean: -1 when absent, else a
// base-10 integer of at least -1; ok false when refused.
func refIntParam(s string) (v int64, ok bool) {
	if s == "" {
		return -1, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v >= -1
}

// FuzzReadQuery fuzzes /files/read's query parameters (offset, length,
// jsonp) over a file of known content: a malformed number or callback is a
// 400; otherwise the answer holds exactly the bytes asked for (capped at
// the end of the file and at MaxRead) at the offset asked for, wrapped in
// the callback when one is given.
func FuzzReadQuery(f *testing.F) {
	for _, s := range [][3]string{
		{"", "", ""}, {"0", "", ""}, {"-1", "", ""}, {"3", "4", ""}, {"19", "100", ""}, {"20", "1", ""},
		{"0", "0", "cb"}, {"5", "-1", "a.b$_1"}, {"-2", "", ""}, {"1", "-2", ""}, {"x", "", ""}, {"+3", "+2", ""},
		{"9223372036854775807", "9223372036854775807", ""}, {"9223372036854775808", "", ""}, {"0", "", "alert(1);x"},
		{"0", "", "1cb"}, {"0", "", "a\u00e9"}, {"0", "", "</script>"}, {"0x10", "", ""}, {" 1", "", ""}, {"0", "", "a..b"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	dir := f.TempDir()
	content := []byte("0123456789abcdefghij")
	if err := os.WriteFile(filepath.Join(dir, "f"), content, 0o644); err != nil {
		f.Fatal(err)
	}
	const maxRead = 7
	h, err := New(Config{Root: dir, MaxRead: maxRead})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, offset, length, jsonp string) {
		q := url.Values{"path": {"f"}}
		for k, v := range map[string]string{"offset": offset, "length": length, "jsonp": jsonp} {
			if v != "" {
				q.Set(k, v)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/files/read?"+q.Encode(), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		off, okOff := refIntParam(offset)
		n, okLen := refIntParam(length)
		okCB := jsonp == "" || jsIdentifierPath.MatchString(jsonp)
		if !okOff || !okLen || !okCB {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("read offset=%q length=%q jsonp=%q: %d %q, want 400", offset, length, jsonp, rec.Code, rec.Body)
			}
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("read offset=%q length=%q jsonp=%q: %d %q, want 200", offset, length, jsonp, rec.Code, rec.Body)
		}
		size := int64(len(content))
		want := ReadResult{Offset: size}
		if off != -1 && off < size {
			if n == -1 || n > size-off {
				n = size - off
			}
			n = min(n, maxRead)
			want = ReadResult{Data: string(content[off : off+n]), Offset: off}
		}
		body := rec.Body.String()
		if jsonp != "" {
			inner, ok := strings.CutPrefix(body, jsonp+"(")
			if inner, ok = strings.CutSuffix(inner, ");"); !ok || !strings.HasPrefix(body, jsonp+"(") {
				t.Fatalf("jsonp=%q: body %q is not a call of it", jsonp, body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/javascript" {
				t.Fatalf("jsonp=%q: Content-Type %q", jsonp, ct)
			}
			body = inner
		}
		var got ReadResult
		if err := json.Unmarshal([]byte(body), &got); err != nil || got != want {
			t.Fatalf("read offset=%q length=%q: %q (%v), want %+v", offset, length, body, err, want)
		}
	})
}
