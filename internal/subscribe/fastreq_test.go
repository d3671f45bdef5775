package subscribe

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// checkWritePlain compares writePlain's bytes for req with req.Write's
// for a copy of it (a request's body is read once); it reports whether
// writePlain took req.
func checkWritePlain(t *testing.T, mk func() *http.Request) bool {
	t.Helper()
	var got, want bytes.Buffer
	bw := bufio.NewWriter(&got)
	ok, err := writePlain(bw, mk(), nil)
	if !ok {
		if got.Len() != 0 || bw.Buffered() != 0 {
			t.Fatalf("not taken, but %d bytes written", bw.Buffered())
		}
		return false
	}
	bw.Flush()
	werr := mk().Write(&want)
	if (err == nil) != (werr == nil) {
		t.Fatalf("error %v, req.Write's %v", err, werr)
	}
	if err == nil && got.String() != want.String() {
		t.Fatalf("wrote\n%q\nreq.Write\n%q", got.String(), want.String())
	}
	return true
}

func TestWritePlain(t *testing.T) {
	c := NewConn(Options{Header: func(h http.Header) { h.Set("Authorization", "Basic eDp5") }})
	target, _ := url.Parse("http://m:5050/api/v1/scheduler")
	for _, tc := range []struct {
		name  string
		body  string
		extra http.Header
		edit  func(*http.Request)
		taken bool
	}{
		{name: "call", body: "body", extra: http.Header{"Mesos-Stream-Id": {"0c8a"}}, taken: true},
		{name: "empty", taken: true},
		{name: "user agent", body: "b", edit: func(r *http.Request) { r.Header.Set("User-Agent", "meso/1") }, taken: true},
		{name: "no user agent", body: "b", edit: func(r *http.Request) { r.Header["User-Agent"] = []string{""} }, taken: true},
		{name: "user agent none", body: "b", edit: func(r *http.Request) { r.Header["User-Agent"] = nil }, taken: true},
		{name: "many values", body: "b", edit: func(r *http.Request) { r.Header["X-A"] = []string{"1", "2"} }, taken: true},
		{name: "query", body: "b", edit: func(r *http.Request) { r.URL = &url.URL{Scheme: "http", Host: "m:5050", Path: "/p q", RawQuery: "a=1"} }, taken: true},
		{name: "host override", body: "b", edit: func(r *http.Request) { r.Host = "other:1" }, taken: true},
		{name: "short body", body: "b", edit: func(r *http.Request) { r.ContentLength = 5 }, taken: true},
		{name: "long body", body: "bbbbbb", edit: func(r *http.Request) { r.ContentLength = 2 }, taken: true},
		{name: "value spaces", body: "b", edit: func(r *http.Request) { r.Header["X-A"] = []string{" v"} }},
		{name: "value newline", body: "b", edit: func(r *http.Request) { r.Header["X-A"] = []string{"a\nb"} }},
		{name: "lower name", body: "b", edit: func(r *http.Request) { r.Header["x-a"] = []string{"v"} }},
		{name: "close", body: "b", edit: func(r *http.Request) { r.Close = true }},
		{name: "unknown length", body: "b", edit: func(r *http.Request) { r.ContentLength = 0 }},
		{name: "zone", body: "b", edit: func(r *http.Request) { r.Host = "[fe80::1%25eth0]:80" }},
		{name: "host header", body: "b", edit: func(r *http.Request) { r.Header.Set("Host", "x") }},
		{name: "GET", edit: func(r *http.Request) { r.Method = http.MethodGet }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := func() *http.Request {
				r, err := c.request(context.Background(), target, []byte(tc.body), tc.extra)
				if err != nil {
					t.Fatal(err)
				}
				if tc.edit != nil {
					tc.edit(r)
				}
				return r
			}
			if got := checkWritePlain(t, mk); got != tc.taken {
				t.Fatalf("taken %v, want %v", got, tc.taken)
			}
		})
	}
}

// FuzzWritePlain compares writePlain with req.Write over header names,
// values, hosts and paths.
func FuzzWritePlain(f *testing.F) {
	f.Add("Mesos-Stream-Id", "abc", "m:5050", "/api/v1/scheduler", "body")
	f.Add("X-A", " v", "m", "/", "")
	f.Add("User-Agent", "", "[::1]:1", "/a b", "x")
	f.Fuzz(func(t *testing.T, key, value, host, path, body string) {
		checkWritePlain(t, func() *http.Request {
			r, err := http.NewRequest(http.MethodPost, "http://m:5050/", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			r.URL.Path = path
			r.Host = host
			r.Header[key] = []string{value}
			return r
		})
	})
}
