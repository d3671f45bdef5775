package subscribe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// TestRequestAsNewRequest checks that a call's request, copied from the
// target's template, is what http.NewRequestWithContext makes of the same
// POST: the same bytes on the wire, the same body again from GetBody.
func TestRequestAsNewRequest(t *testing.T) {
	c := NewConn(Options{Header: func(h http.Header) { h.Set("User-Agent", "test") }})
	for _, raw := range []string{"http://m:5050/api/v1/scheduler", "http://m:5050/api/v1/scheduler?x=1", "http://m:/p", "http://[::1]:80/a%2Fb"} {
		target, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range [][]byte{nil, []byte("call body")} {
			for range 2 { // the template made, then reused
				got, err := c.request(context.Background(), target, body, http.Header{"Mesos-Stream-Id": {"s"}})
				if err != nil {
					t.Fatal(err)
				}
				want, err := http.NewRequestWithContext(context.Background(), http.MethodPost, target.String(), bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				want.Header.Set("User-Agent", "test")
				want.Header["Content-Type"] = c.mediaType
				want.Header["Accept"] = c.mediaType
				want.Header["Mesos-Stream-Id"] = []string{"s"}
				if got.ContentLength != want.ContentLength || got.Host != want.Host || got.URL.String() != want.URL.String() {
					t.Fatalf("%s %q: length %d host %q url %s, want %d %q %s", raw, body,
						got.ContentLength, got.Host, got.URL, want.ContentLength, want.Host, want.URL)
				}
				gb, _ := got.GetBody()
				wb, _ := want.GetBody()
				g, _ := io.ReadAll(gb)
				w, _ := io.ReadAll(wb)
				if !bytes.Equal(g, w) {
					t.Fatalf("%s: GetBody %q, want %q", raw, g, w)
				}
				var gw, ww bytes.Buffer
				if err := got.Write(&gw); err != nil {
					t.Fatal(err)
				}
				if err := want.Write(&ww); err != nil {
					t.Fatal(err)
				}
				if gw.String() != ww.String() {
					t.Fatalf("%s: wrote\n%q\nwant\n%q", raw, gw.String(), ww.String())
				}
			}
		}
	}
}

type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// TestSendErrorAsClient checks that a call sent straight to the transport
// fails with the error http.Client gives.
func TestSendErrorAsClient(t *testing.T) {
	boom := errors.New("boom")
	target, _ := url.Parse("http://m:5050/api/v1/scheduler")
	direct := NewConn(Options{CallTransport: failingTransport{boom}})
	if direct.direct == nil {
		t.Fatal("calls not sent straight to the transport")
	}
	viaClient := NewConn(Options{CallTransport: failingTransport{boom}})
	viaClient.direct = nil
	got := direct.Send(context.Background(), target, []byte("x"), nil)
	want := viaClient.Send(context.Background(), target, []byte("x"), nil)
	if got == nil || want == nil || got.Error() != want.Error() || !errors.Is(got, boom) {
		t.Fatalf("direct: %v, client: %v", got, want)
	}
	if _, ok := errors.AsType[*url.Error](got); !ok {
		t.Fatalf("%T is not a *url.Error", got)
	}
}
