package fetcher

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSource(t *testing.T) {
	cases := []struct {
		value string
		kind  sourceKind
		where string // path or URL
		base  string
	}{
		{"http://h/a/b.tgz", sourceHTTP, "http://h/a/b.tgz", "b.tgz"},
		{"https://h:8443/x.zip?sig=abc&t=1#top", sourceHTTP, "https://h:8443/x.zip?sig=abc&t=1#top", "x.zip"},
		{"HTTP://h/dir/file", sourceHTTP, "http://h/dir/file", "file"}, // scheme is case-insensitive
		{"http://h/a%20b.txt", sourceHTTP, "http://h/a%20b.txt", "a b.txt"},
		{"file:///opt/x.tar", sourceFile, "/opt/x.tar", "x.tar"},
		{"file://localhost/opt/x.tar", sourceFile, "/opt/x.tar", "x.tar"},
		{"/opt//y/../x.bin", sourceFile, "/opt/x.bin", "x.bin"},
		{"\t /opt/x", sourceFile, "/opt/x", "x"},
	}
	for _, c := range cases {
		s, err := parseSource(c.value)
		if err != nil {
			t.Errorf("parseSource(%q): %v", c.value, err)
			continue
		}
		where := s.path
		if s.kind == sourceHTTP {
			where = s.url
		}
		if s.kind != c.kind || where != c.where || s.base != c.base {
			t.Errorf("parseSource(%q) = %+v, want kind %d at %q named %q", c.value, s, c.kind, c.where, c.base)
		}
	}
}

func TestParseSourceErrors(t *testing.T) {
	cases := map[string]string{
		"":                       "empty URI",
		"   ":                    "empty URI",
		"ftp://h/f":              `unsupported URI scheme "ftp"`,
		"hdfs://nn:8020/f":       `unsupported URI scheme "hdfs"`,
		"x://h/f":                "missing scheme",
		"://h/f":                 "missing scheme",
		"http:///nohost":         "missing host",
		"http://h":               "missing path",
		"http://h/":              "missing path",
		"http://h/%2e%2e":        "no file name",
		"http://h/a/..":          "no file name",
		"/":                      "missing path",
		"/opt/dir/":              "missing path",
		"/opt/..":                "no file name",
		"rel/x":                  "relative path",
		"file://h/x":             "absolute paths",
		"/a\\b":                  "illegal characters",
		"/a'b":                   "illegal characters",
		"/a\x00b":                "illegal characters",
		"http://h/%zz":           "malformed URI",
		"http://[::1/x":          "malformed URI",
		"file://localhostx/data": "absolute paths",
	}
	for value, want := range cases {
		_, err := parseSource(value)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSource(%q) = %v, want an error saying %q", value, err, want)
		}
	}
}

func TestOutputName(t *testing.T) {
	src := source{base: "b.tgz"}
	ok := map[string]string{"": "b.tgz", "x": "x", "./a/b/": "a/b", "a/./b": "a/b", "a/../b": "b", "..x": "..x"}
	for in, want := range ok {
		got, err := outputName(in, src)
		if err != nil || got != want {
			t.Errorf("outputName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/abs", "..", "../x", "a/../../x", ".", "./", "a\x00b"} {
		if got, err := outputName(in, src); err == nil {
			t.Errorf("outputName(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"http://h/a/b.tgz", "file:///x", "/abs/p", "https://h/x?y#z", "hdfs://x/y", "http://h/%2e%2e", "file://localhost/x/../.."} {
		f.Add(s, "")
		f.Add(s, "out/file")
	}
	f.Add("/x", "../../etc/passwd")
	f.Fuzz(func(t *testing.T, value, out string) {
		s, err := parseSource(value)
		if err != nil {
			return
		}
		if s.base == "" || s.base == "." || s.base == ".." || strings.Contains(s.base, "/") {
			t.Fatalf("parseSource(%q): bad base name %q", value, s.base)
		}
		if s.kind == sourceFile && !filepath.IsAbs(s.path) {
			t.Fatalf("parseSource(%q): relative local path %q", value, s.path)
		}
		name, err := outputName(out, s)
		if err != nil {
			return
		}
		if !filepath.IsLocal(name) {
			t.Fatalf("outputName(%q, %q) = %q escapes the sandbox", out, value, name)
		}
	})
}
