package master

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/internal/resources"
	"google.golang.org/protobuf/proto"
)

// registerOf is a new agent's REGISTER on host (port 5051, 1 cpu, 64 MiB),
// with what set adds.
func registerOf(host string, set func(*linkpb.AgentCall_Register)) *linkpb.AgentCall {
	r := resources.MustParse("cpus:1;mem:64")
	call := &linkpb.AgentCall{Type: linkpb.AgentCall_REGISTER.Enum(), Register: &linkpb.AgentCall_Register{
		AgentInfo: &mesospb.AgentInfo{Hostname: proto.String(host), Port: proto.Int32(5051), Resources: r.ToProto("", false)}}}
	set(call.Register)
	return call
}

// An agent registering with scheme "https" (it serves TLS) is offered with
// url.scheme "https"; one without says "http"; another scheme is 400.
func TestOfferURLSchemeFromRegister(t *testing.T) {
	_, base := startMaster(t)
	reg := func(host, scheme string) *linkpb.AgentCall {
		return registerOf(host, func(r *linkpb.AgentCall_Register) {
			if scheme != "" {
				r.Scheme = proto.String(scheme)
			}
		})
	}
	registerWith(t, base, codec.JSON, reg("secure", "https"))
	registerWith(t, base, codec.JSON, reg("plain", ""))
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	offersSay(t, f, "url.scheme", func(o *mesospb.Offer) string { return o.GetUrl().GetScheme() },
		map[string]string{"secure": "https", "plain": "http"})
	refused(t, base, reg("odd", "ftp"), `"ftp"`)
}

// offersSay reads offers until one of each host in want came, checking
// field (named what) of each against want.
func offersSay(t *testing.T, f *framework, what string, field func(*mesospb.Offer) string, want map[string]string) {
	t.Helper()
	for len(want) > 0 {
		for _, o := range f.nextOf(schedulerpb.Event_OFFERS).GetOffers().GetOffers() {
			if w, ok := want[o.GetHostname()]; ok {
				if got := field(o); got != w {
					t.Errorf("offer of %s: %s %q, want %q", o.GetHostname(), what, got, w)
				}
				delete(want, o.GetHostname())
			}
		}
	}
}

// refused posts a REGISTER that the link must answer 400 naming want.
func refused(t *testing.T, base string, call *linkpb.AgentCall, want string) {
	t.Helper()
	resp, err := http.Post(base+"/internal/v1/link", codec.MediaTypeJSON, bytes.NewReader(encode(t, codec.JSON, call)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) {
		t.Errorf("REGISTER %v: %d %s, want 400 naming %s", call.GetRegister(), resp.StatusCode, body, want)
	}
}

// An agent registering with its IP is offered with url.address.ip and
// listed with Mesos' pid slave(1)@IP:port (GET_AGENTS and /master/state);
// one without keeps its hostname in the pid; an ip that is not an IP
// address is 400.
func TestAgentIPFromRegister(t *testing.T) {
	_, base := startMaster(t)
	reg := func(host, ip string) *linkpb.AgentCall {
		return registerOf(host, func(r *linkpb.AgentCall_Register) {
			if ip != "" {
				r.Ip = proto.String(ip)
			}
		})
	}
	registerWith(t, base, codec.JSON, reg("withip", "10.1.2.3"))
	registerWith(t, base, codec.JSON, reg("noip", ""))
	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	offersSay(t, f, "url.address.ip", func(o *mesospb.Offer) string { return o.GetUrl().GetAddress().GetIp() },
		map[string]string{"withip": "10.1.2.3", "noip": ""})
	resp, err := http.Get(base + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	state, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, pid := range []string{`"pid":"slave(1)@10.1.2.3:5051"`, `"pid":"slave(1)@noip:5051"`} {
		if !bytes.Contains(state, []byte(pid)) {
			t.Errorf("/master/state lacks %s:\n%s", pid, state)
		}
	}
	refused(t, base, reg("odd", "not-an-ip"), `"not-an-ip"`)
}
