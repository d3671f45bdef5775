package master

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/authn"
	"google.golang.org/protobuf/proto"
)

// basic is a user and password a test request carries; the zero value
// carries none.
type basic struct{ user, pass string }

func withAuth(t *testing.T) func(*Config) {
	creds, err := authn.New([]authn.Credential{{Principal: "alice", Secret: "a-secret"}, {Principal: "eve", Secret: "e-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) {
		c.Credentials = creds
		c.AuthenticateFrameworks = true
		c.AuthenticateHTTPReadWrite = true
		c.AuthenticateHTTPReadOnly = true
	}
}

// send sends a request with a body (GET without one) as who.
func send(t *testing.T, method, url string, body []byte, who basic, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if who.user != "" {
		req.SetBasicAuth(who.user, who.pass)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func subscribeCall(info *mesospb.FrameworkInfo) *schedulerpb.Call {
	return &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: info}}
}

// subscribeAs subscribes as who and returns the framework (nil and the
// response's status and body when the master refused with a status).
func subscribeAs(t *testing.T, base string, info *mesospb.FrameworkInfo, who basic) (*framework, int, string) {
	t.Helper()
	c := codec.JSON
	resp := send(t, http.MethodPost, base+"/api/v1/scheduler", encode(t, c, subscribeCall(info)), who,
		map[string]string{"Content-Type": c.MediaType(), "Accept": c.MediaType()})
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, string(b)
	}
	f := &framework{t: t, base: base, c: c, stream: resp.Header.Get(StreamIDHeader)}
	f.events = newEventStream(t, resp, c, func() *schedulerpb.Event { return &schedulerpb.Event{} }, nil)
	return f, http.StatusOK, ""
}

// callAs posts call on stream as who.
func callAs(t *testing.T, base, stream string, call *schedulerpb.Call, who basic) (int, string) {
	t.Helper()
	resp := send(t, http.MethodPost, base+"/api/v1/scheduler", encode(t, codec.JSON, call), who,
		map[string]string{"Content-Type": codec.JSON.MediaType(), StreamIDHeader: stream})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func principalInfo(name, principal string) *mesospb.FrameworkInfo {
	info := fwInfo(name)
	info.Principal = proto.String(principal)
	return info
}

// Every authenticated endpoint answers 401 with Mesos' challenge to a
// request without credentials or with a wrong secret, and serves good
// ones; /health and /version stay open.
func TestAuthenticationRequired(t *testing.T) {
	_, base := startMaster(t, withAuth(t))
	operatorCall := encode(t, codec.JSON, &masterpb.Call{Type: masterpb.Call_GET_HEALTH.Enum()})
	schedCall := encode(t, codec.JSON, subscribeCall(principalInfo("fw", "alice")))
	type endpoint struct {
		method, path string
		body         []byte
	}
	endpoints := []endpoint{
		{"POST", "/api/v1", operatorCall}, {"POST", "/master/api/v1", operatorCall},
		{"POST", "/api/v1/scheduler", schedCall},
		{"GET", "/state", nil}, {"GET", "/master/state", nil}, {"GET", "/state.json", nil},
		{"GET", "/master/slaves", nil}, {"GET", "/master/frameworks", nil}, {"GET", "/master/tasks", nil},
		{"GET", "/metrics/snapshot", nil}, {"GET", "/metrics", nil},
	}
	headers := map[string]string{"Content-Type": codec.JSON.MediaType(), "Accept": codec.JSON.MediaType()}
	for _, e := range endpoints {
		for name, who := range map[string]basic{"none": {}, "wrong secret": {"alice", "e-secret"}, "unknown principal": {"mallory", "x"}} {
			resp := send(t, e.method, base+e.path, e.body, who, headers)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="mesos"` {
				t.Errorf("%s %s (%s): %s, WWW-Authenticate %q; want 401 with the challenge",
					e.method, e.path, name, resp.Status, resp.Header.Get("WWW-Authenticate"))
			}
		}
		resp := send(t, e.method, base+e.path, e.body, basic{"alice", "a-secret"}, headers)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s with good credentials: %s", e.method, e.path, resp.Status)
		}
	}
	for _, path := range []string{"/health", "/version"} {
		resp := send(t, "GET", base+path, nil, basic{}, nil)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			t.Errorf("GET %s: 401, want it open", path)
		}
	}
}

// Without authentication flags nothing asks for credentials.
func TestAuthenticationOffByDefault(t *testing.T) {
	_, base := startMaster(t)
	resp := send(t, "GET", base+"/state", nil, basic{}, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/state: %s", resp.Status)
	}
	if _, err := New(Config{AuthenticateFrameworks: true}); err == nil {
		t.Fatal("authentication without credentials was accepted")
	}
}

// With --authenticate_frameworks the authenticated principal must be the
// FrameworkInfo's, on SUBSCRIBE and on every call of the stream.
func TestFrameworkPrincipalMustMatch(t *testing.T) {
	_, base := startMaster(t, withAuth(t))
	alice, eve := basic{"alice", "a-secret"}, basic{"eve", "e-secret"}
	if _, status, body := subscribeAs(t, base, principalInfo("fw", "alice"), eve); status != http.StatusBadRequest ||
		!strings.Contains(body, "does not match principal 'alice'") {
		t.Fatalf("eve subscribing as alice: %d %s", status, body)
	}
	f, status, body := subscribeAs(t, base, principalInfo("fw", "alice"), alice)
	if f == nil {
		t.Fatalf("alice subscribing: %d %s", status, body)
	}
	f.id = f.nextOf(schedulerpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue()
	revive := func() *schedulerpb.Call {
		return &schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum(), FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)}}
	}
	// Even with the stream id, eve's calls on alice's framework are refused.
	if status, body := callAs(t, base, f.stream, revive(), eve); status != http.StatusBadRequest {
		t.Fatalf("eve's REVIVE on alice's stream: %d %s", status, body)
	}
	teardown := &schedulerpb.Call{Type: schedulerpb.Call_TEARDOWN.Enum(), FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)}}
	if status, body := callAs(t, base, f.stream, teardown, eve); status != http.StatusBadRequest {
		t.Fatalf("eve's TEARDOWN of alice's framework: %d %s", status, body)
	}
	if status, body := callAs(t, base, f.stream, revive(), alice); status != http.StatusAccepted {
		t.Fatalf("alice's REVIVE: %d %s", status, body)
	}
}

// Attack (d): a SUBSCRIBE naming a connected framework's id (read from
// /master/state) under another principal is refused and the framework
// keeps its stream; with authentication the thief cannot claim the
// framework's principal either.
func TestSubscribeCannotStealFramework(t *testing.T) {
	for name, auth := range map[string]bool{"unauthenticated": false, "authenticated": true} {
		t.Run(name, func(t *testing.T) {
			var mutate []func(*Config)
			alice, eve := basic{}, basic{}
			if auth {
				mutate = append(mutate, withAuth(t))
				alice, eve = basic{"alice", "a-secret"}, basic{"eve", "e-secret"}
			}
			_, base := startMaster(t, mutate...)
			f, status, body := subscribeAs(t, base, principalInfo("fw", "alice"), alice)
			if f == nil {
				t.Fatalf("alice subscribing: %d %s", status, body)
			}
			f.id = f.nextOf(schedulerpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue()

			stolen := principalInfo("thief", "eve")
			stolen.Id = &mesospb.FrameworkID{Value: proto.String(f.id)}
			thief, status, body := subscribeAs(t, base, stolen, eve)
			if thief == nil {
				t.Fatalf("thief's SUBSCRIBE: %d %s, want an ERROR event", status, body)
			}
			if ev := thief.nextOf(schedulerpb.Event_ERROR); !strings.Contains(ev.GetError().GetMessage(), "principal") {
				t.Fatalf("thief's error: %v", ev)
			}
			if auth {
				claimed := principalInfo("thief", "alice")
				claimed.Id = stolen.Id
				if _, status, _ := subscribeAs(t, base, claimed, eve); status != http.StatusBadRequest {
					t.Fatalf("thief claiming alice's principal: %d, want 400", status)
				}
			}
			// alice's stream is still the framework's.
			revive := &schedulerpb.Call{Type: schedulerpb.Call_REVIVE.Enum(), FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)}}
			if status, body := callAs(t, base, f.stream, revive, alice); status != http.StatusAccepted {
				t.Fatalf("alice's REVIVE after the attempt: %d %s", status, body)
			}
			// A failover under the same principal still takes over, as in Mesos.
			again := principalInfo("fw", "alice")
			again.Id = stolen.Id
			g, status, body := subscribeAs(t, base, again, alice)
			if g == nil {
				t.Fatalf("alice's failover: %d %s", status, body)
			}
			g.nextOf(schedulerpb.Event_SUBSCRIBED)
			f.nextOf(schedulerpb.Event_ERROR)
		})
	}
}
