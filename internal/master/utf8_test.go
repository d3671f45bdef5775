package master

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
)

// withInvalidUTF8 encodes m as JSON and turns the string "BAD" in it into
// bytes that are not UTF-8.
func withInvalidUTF8(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b := encode(t, codec.JSON, m)
	if !bytes.Contains(b, []byte(`"BAD"`)) {
		t.Fatalf("no \"BAD\" in %s", b)
	}
	return bytes.ReplaceAll(b, []byte(`"BAD"`), []byte("\"B\xffD\""))
}

// postBounded is post that gives up after waitFor: an accepted SUBSCRIBE
// would stream forever.
func postBounded(t *testing.T, url string, body []byte, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Invalid UTF-8 in a string field of a JSON scheduler call is refused with
// 400 and a message naming the field (issue 8, item 6), at SUBSCRIBE and in
// later calls; it never reaches the master's books.
func TestSchedulerRefusesInvalidUTF8(t *testing.T) {
	_, base := startMaster(t)
	url := base + "/api/v1/scheduler"
	json := map[string]string{"Content-Type": codec.JSON.MediaType(), "Accept": codec.JSON.MediaType()}

	labelled := fwInfo("web")
	labelled.Labels = &mesospb.Labels{Labels: []*mesospb.Label{{Key: proto.String("team"), Value: proto.String("BAD")}}}
	for _, c := range []struct {
		name  string
		info  *mesospb.FrameworkInfo
		field string
	}{
		{"framework name", fwInfo("BAD"), `"subscribe.framework_info.name"`},
		{"label", labelled, `"subscribe.framework_info.labels.labels[0].value"`},
	} {
		body := withInvalidUTF8(t, &schedulerpb.Call{Type: schedulerpb.Call_SUBSCRIBE.Enum(),
			Subscribe: &schedulerpb.Call_Subscribe{FrameworkInfo: c.info}})
		resp, msg := postBounded(t, url, body, json)
		if resp.StatusCode != 400 || !strings.Contains(msg, c.field) || !strings.Contains(msg, "invalid UTF-8") {
			t.Errorf("SUBSCRIBE with an invalid %s: %d %q, want 400 naming %s", c.name, resp.StatusCode, msg, c.field)
		}
	}

	f := subscribe(t, base, codec.JSON, fwInfo("web"))
	body := withInvalidUTF8(t, &schedulerpb.Call{Type: schedulerpb.Call_ACCEPT.Enum(),
		FrameworkId: &mesospb.FrameworkID{Value: proto.String(f.id)},
		Accept: &schedulerpb.Call_Accept{
			OfferIds: []*mesospb.OfferID{{Value: proto.String("o1")}},
			Operations: []*mesospb.Offer_Operation{{Type: mesospb.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{{
					Name: proto.String("BAD"), TaskId: &mesospb.TaskID{Value: proto.String("t")},
					AgentId: &mesospb.AgentID{Value: proto.String("a")}}}}}},
		}})
	resp, msg := post(t, url, body, map[string]string{"Content-Type": codec.JSON.MediaType(), StreamIDHeader: f.stream})
	if want := `"accept.operations[0].launch.task_infos[0].name"`; resp.StatusCode != 400 || !strings.Contains(msg, want) {
		t.Errorf("ACCEPT with an invalid task name: %d %q, want 400 naming %s", resp.StatusCode, msg, want)
	}
	// The framework's subscription is intact.
	f.mustCall(&schedulerpb.Call{Type: schedulerpb.Call_SUPPRESS.Enum()})
}
