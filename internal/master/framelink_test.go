package master

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/linkframe"
)

// framedAgent is a raw framed link connection (link version 3), spoken
// by hand.
type framedAgent struct {
	t      *testing.T
	conn   net.Conn
	link   string // channel 0's session, from the 101's Meso-Link-Id
	frames chan *linkpb.MasterFrame
	errs   chan error
}

// upgradeRequest is a REGISTER asking for the framed link.
func upgradeRequest(t *testing.T, u *url.URL, call *linkpb.AgentCall, upgrade string) []byte {
	body := encode(t, codec.Protobuf, call)
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST /internal/v1/link HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nAccept: %s\r\n"+
		"Content-Length: %d\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n",
		u.Host, codec.MediaTypeProtobuf, codec.MediaTypeProtobuf, len(body), upgrade)
	req.Write(body)
	return req.Bytes()
}

// dialFramed sends REGISTER with the Upgrade and returns the connection
// and the answer's head; with a 101 it reads frames in the background.
func dialFramed(t *testing.T, base string, call *linkpb.AgentCall) (*framedAgent, *http.Response) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write(upgradeRequest(t, u, call, linkframe.Protocol)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &framedAgent{t: t, conn: conn, link: resp.Header.Get(LinkIDHeader),
		frames: make(chan *linkpb.MasterFrame, 1024), errs: make(chan error, 1)}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		go func() {
			rd := linkframe.NewReader(br, recordio.DefaultMaxRecordSize)
			for {
				f := &linkpb.MasterFrame{}
				if err := rd.ReadFrame(f); err != nil {
					a.errs <- err
					return
				}
				a.frames <- f
			}
		}()
	}
	return a, resp
}

// next returns the next frame that is not a PING (pings are answered
// when pong is set).
func (a *framedAgent) next(pong bool) *linkpb.MasterFrame {
	a.t.Helper()
	for {
		select {
		case f := <-a.frames:
			if ev := f.GetEvent(); ev.GetType() == linkpb.MasterEvent_PING {
				if pong {
					a.call(f.GetChannel(), &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
						Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(ev.GetPing().GetSeq())}})
				}
				continue
			}
			return f
		case err := <-a.errs:
			a.t.Fatalf("framed link ended: %v", err)
		case <-time.After(waitFor):
			a.t.Fatal("no frame from the master")
		}
	}
}

// ended waits for the master to close the connection.
func (a *framedAgent) ended() error {
	a.t.Helper()
	for {
		select {
		case <-a.frames:
		case err := <-a.errs:
			return err
		case <-time.After(waitFor):
			a.t.Fatal("the master kept the connection")
		}
	}
}

func (a *framedAgent) write(b []byte) {
	a.t.Helper()
	if _, err := a.conn.Write(b); err != nil {
		a.t.Fatal(err)
	}
}

func (a *framedAgent) frame(f *linkpb.AgentFrame) {
	a.t.Helper()
	b, err := linkframe.Append(nil, f)
	if err != nil {
		a.t.Fatal(err)
	}
	a.write(b)
}

func (a *framedAgent) call(ch uint32, call *linkpb.AgentCall) {
	a.frame(&linkpb.AgentFrame{Channel: proto.Uint32(ch), Call: call})
}

// linksOpen reads master/links_open and the framed connections.
func linksOpen(t *testing.T, base string) (links, conns float64) {
	t.Helper()
	var m map[string]float64
	getJSON(t, base+"/metrics/snapshot", &m)
	return m["master/links_open"], m["master/link_connections_framed"]
}

// waitLinks polls until the master has want links open and wantConns
// framed connections.
func waitLinks(t *testing.T, base string, want, wantConns float64) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		links, conns := linksOpen(t, base)
		if links == want && conns == wantConns {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("links open %v, framed connections %v; want %v, %v", links, conns, want, wantConns)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
}

// TestFramedLink: REGISTER with the Upgrade switches to frames (101,
// REGISTERED on channel 0 with link version 3); pings are answered in
// frames and keep the agent; a second session registers on channel 1 of
// the same connection and gets offered; closing it leaves channel 0's;
// calls on a closed channel are refused 409 with the session closed.
func TestFramedLink(t *testing.T) {
	_, base := startMaster(t, func(c *Config) {
		// Frequent pings, and room for a loaded machine to answer late.
		c.AgentPingTimeout, c.MaxAgentPingTimeouts = 50*time.Millisecond, 20
	})
	a, resp := dialFramed(t, base, registerOf("f0", func(*linkpb.AgentCall_Register) {}))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != linkframe.Protocol || a.link == "" {
		t.Fatalf("handshake: %s %v", resp.Status, resp.Header)
	}
	f := a.next(true)
	reg := f.GetEvent().GetRegistered()
	if f.GetChannel() != 0 || reg.GetLinkId() != a.link || reg.GetLinkVersion() != linkframe.Version || reg.GetAgentSecret() == "" {
		t.Fatalf("first frame %v", f)
	}
	a.call(1, registerOf("f1", func(*linkpb.AgentCall_Register) {}))
	f = a.next(true)
	if f.GetChannel() != 1 || f.GetEvent().GetType() != linkpb.MasterEvent_REGISTERED || f.GetEvent().GetRegistered().GetLinkId() == a.link {
		t.Fatalf("channel 1's first frame %v", f)
	}
	waitLinks(t, base, 2, 1)

	// Pings over several ping timeouts, answered on the frames: both stay.
	fw := subscribe(t, base, codec.JSON, fwInfo("fw"))
	hosts := map[string]bool{}
	for len(hosts) < 2 {
		for _, o := range fw.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers() {
			hosts[o.GetHostname()] = true
		}
	}
	seen := 0
	for seen < 10 {
		select {
		case f := <-a.frames:
			if ev := f.GetEvent(); ev.GetType() == linkpb.MasterEvent_PING {
				seen++
				a.call(f.GetChannel(), &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
					Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(ev.GetPing().GetSeq())}})
			} else if f.GetClosed() {
				t.Fatalf("session closed while answering pings: %v", f)
			}
		case err := <-a.errs:
			t.Fatal(err)
		case <-time.After(waitFor):
			t.Fatal("no pings")
		}
	}
	waitLinks(t, base, 2, 1)

	a.frame(&linkpb.AgentFrame{Channel: proto.Uint32(1), Close: proto.Bool(true)})
	waitLinks(t, base, 1, 1)
	a.call(1, &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}})
	f = a.next(true)
	if f.GetChannel() != 1 || !f.GetClosed() || f.GetRefused().GetStatus() != http.StatusConflict {
		t.Fatalf("call on a closed channel: %v", f)
	}
	// Channels are not used again.
	a.call(1, registerOf("f1", func(*linkpb.AgentCall_Register) {}))
	f = a.next(true)
	if f.GetRefused().GetStatus() != http.StatusBadRequest || !strings.Contains(f.GetRefused().GetMessage(), "used before") {
		t.Fatalf("REGISTER on a used channel: %v", f)
	}
	// A call naming another session's link id is refused, the session kept.
	a.call(0, &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(), LinkId: proto.String("other"),
		Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}})
	f = a.next(true)
	if f.GetChannel() != 0 || f.GetClosed() || f.GetRefused().GetStatus() != http.StatusBadRequest {
		t.Fatalf("call with another link id: %v", f)
	}
	a.conn.Close()
	waitLinks(t, base, 0, 0)
}

// TestFramedLinkHostilePeer: a frame over the bound, a frame that does
// not decode, or bytes that are not frames end the connection and its
// sessions; the master keeps serving.
func TestFramedLinkHostilePeer(t *testing.T) {
	_, base := startMaster(t, func(c *Config) { c.MaxCallBytes = 1 << 10 })
	huge := binary.BigEndian.AppendUint32(nil, 4<<10+1) // over 4x MaxCallBytes
	notProto := linkframe.AppendEncoded(nil, []byte{0xff, 0xff, 0xff})
	for name, b := range map[string][]byte{"too large": huge, "not protobuf": notProto} {
		t.Run(name, func(t *testing.T) {
			a, resp := dialFramed(t, base, registerOf("h-"+strings.ReplaceAll(name, " ", "-"), func(*linkpb.AgentCall_Register) {}))
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %s", resp.Status)
			}
			a.next(false)
			waitLinks(t, base, 1, 1)
			a.write(b)
			if err := a.ended(); err != io.EOF && !isEOF(err) {
				t.Fatalf("connection ended with %v", err)
			}
			waitLinks(t, base, 0, 0)
		})
	}
	// A refused handshake is an HTTP answer, as in the HTTP form.
	bad := registerOf("bad", func(r *linkpb.AgentCall_Register) { r.Scheme = proto.String("gopher") })
	if _, resp := dialFramed(t, base, bad); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad REGISTER with Upgrade: %s", resp.Status)
	}
	registerAgent(t, base, codec.JSON, "after", "cpus:1;mem:64") // still serving
}

// TestFramedLinkVersions: an agent that does not ask for the Upgrade (a
// version 2 agent) gets the HTTP form with link version 3 announced; an
// Upgrade to another protocol is ignored; a master serving the HTTP form
// only (as before version 3) ignores the Upgrade and announces version
// 2, so a version 3 agent falls back (internal/agent tests that side).
func TestFramedLinkVersions(t *testing.T) {
	_, base := startMaster(t)
	old := registerAgent(t, base, codec.Protobuf, "v2", "cpus:1;mem:64")
	if status, body := old.send(&linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum(),
		Pong: &linkpb.AgentCall_Pong{Seq: proto.Uint64(1)}}); status != http.StatusAccepted {
		t.Fatalf("old agent's call: %d %s", status, body)
	}
	u, _ := url.Parse(base)
	for _, tc := range []struct {
		name, base, upgrade string
		version             uint32
	}{
		{"other protocol", base, "meso-link/99", linkframe.Version},
		{"http-only master", func() string {
			_, b := startMaster(t, func(c *Config) { c.NoFramedLink = true })
			return b
		}(), linkframe.Protocol, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu, _ := url.Parse(tc.base)
			conn, err := net.Dial("tcp", tu.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = conn.Write(upgradeRequest(t, u, registerOf("up-"+tc.upgrade, func(*linkpb.AgentCall_Register) {}), tc.upgrade))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("answer %s, want 200 (the HTTP form)", resp.Status)
			}
			rd := recordio.NewReader(resp.Body, 0)
			ev := &linkpb.MasterEvent{}
			if err := rd.ReadMessage(codec.Protobuf, ev); err != nil {
				t.Fatal(err)
			}
			if got := ev.GetRegistered().GetLinkVersion(); got != tc.version {
				t.Fatalf("link version %d, want %d", got, tc.version)
			}
		})
	}
}
