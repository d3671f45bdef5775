package fetcher

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// sourceKind says how a URI is read.
type sourceKind int

const (
	sourceFile sourceKind = iota // a local path (file:// or absolute)
	sourceHTTP                   // http:// or https://
)

// source is a parsed CommandInfo.URI value.
type source struct {
	kind sourceKind
	path string // sourceFile: the absolute local path
	url  string // sourceHTTP: the URL to GET
	base string // the default output name (Mesos' Fetcher::basename)
}

// parseSource validates a URI value the way Mesos' fetcher does and says
// how to read it. Leading white space is ignored (Mesos trims it).
func parseSource(value string) (source, error) {
	v := strings.TrimLeft(value, " \t\r\n\v\f")
	if v == "" {
		return source{}, errors.New("empty URI")
	}
	if strings.ContainsAny(v, "\\'\x00") {
		return source{}, errors.New("illegal characters in URI")
	}
	i := strings.Index(v, "://")
	if i < 0 {
		return localSource(v, false)
	}
	if i <= 1 {
		return source{}, errors.New("malformed URI (missing scheme)")
	}
	switch scheme := strings.ToLower(v[:i]); scheme {
	case "file":
		p := strings.TrimPrefix(v[i+3:], "localhost")
		return localSource(p, true)
	case "http", "https":
		return httpSource(v)
	default:
		return source{}, fmt.Errorf("unsupported URI scheme %q (meso fetches http, https, file and absolute paths; it has no hadoop client)", scheme)
	}
}

func localSource(p string, fileURI bool) (source, error) {
	if !strings.HasPrefix(p, "/") {
		if fileURI {
			return source{}, errors.New("file URI only supports absolute paths")
		}
		return source{}, errors.New("relative path: meso has no --frameworks_home, use an absolute path or a file:// URI")
	}
	base, err := pathBase(p)
	if err != nil {
		return source{}, err
	}
	return source{kind: sourceFile, path: filepath.Clean(p), base: base}, nil
}

func httpSource(v string) (source, error) {
	u, err := url.Parse(v)
	if err != nil {
		return source{}, fmt.Errorf("malformed URI: %w", err)
	}
	if u.Host == "" {
		return source{}, errors.New("malformed URI (missing host)")
	}
	// Unlike Mesos, the query and fragment are not part of the file name.
	base, err := pathBase(u.Path)
	if err != nil {
		return source{}, err
	}
	return source{kind: sourceHTTP, url: u.String(), base: base}, nil
}

// pathBase is the last element of p, which must name a file: Mesos refuses
// URIs without a path or ending in a slash.
func pathBase(p string) (string, error) {
	if p == "" || strings.HasSuffix(p, "/") {
		return "", errors.New("malformed URI (missing path)")
	}
	b := path.Base(p)
	if b == "." || b == ".." || b == "/" {
		return "", fmt.Errorf("malformed URI (no file name in path %q)", p)
	}
	return b, nil
}

// outputName is where a URI lands, relative to the sandbox: output_file if
// set, else the URI's base name. It never escapes the sandbox.
func outputName(outputFile string, src source) (string, error) {
	if outputFile == "" {
		return src.base, nil
	}
	if strings.ContainsRune(outputFile, 0) {
		return "", errors.New("output_file contains a NUL byte")
	}
	if path.IsAbs(outputFile) {
		return "", fmt.Errorf("output_file %q is absolute; it must be relative to the sandbox", outputFile)
	}
	clean := path.Clean(outputFile)
	if !filepath.IsLocal(clean) || clean == "." {
		return "", fmt.Errorf("output_file %q escapes the sandbox", outputFile)
	}
	return clean, nil
}
