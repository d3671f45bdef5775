package agent

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// TestExecutorAPIBadRequests: malformed or misdirected calls get a 4xx
// with a message, and the agent keeps serving.
func TestExecutorAPIBadRequests(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	s.send(runTask("f1", commandTask("t1", "sleep 100")))
	a.cz.launch(t)

	raw := func(method, contentType, accept string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, a.url+ExecutorAPIPath, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		t.Run(c.MediaType(), func(t *testing.T) {
			ex := newExecClient(t, a.url, c, "f1", "t1")
			enc := func(call *executorpb.Call) []byte {
				b, err := c.Marshal(call)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			update := ex.newCall(executorpb.Call_UPDATE)
			update.Update = &executorpb.Call_Update{Status: &mesospb.TaskStatus{
				TaskId: &mesospb.TaskID{Value: proto.String("t1")}, State: mesospb.TaskState_TASK_RUNNING.Enum()}}
			noUpdate := ex.newCall(executorpb.Call_UPDATE)
			noType := ex.newCall(executorpb.Call_SUBSCRIBE)
			noType.Type = nil
			otherFw := newExecClient(t, a.url, c, "f9", "t1").newCall(executorpb.Call_SUBSCRIBE)
			otherEx := newExecClient(t, a.url, c, "f1", "nope").newCall(executorpb.Call_SUBSCRIBE)

			for _, tc := range []struct {
				name         string
				method, ct   string
				accept       string
				body         []byte
				status       int
				wantInAnswer string
			}{
				{"wrong method", http.MethodGet, c.MediaType(), "", nil, 405, "POST"},
				{"no content type", http.MethodPost, "", "", enc(update), 400, "Content-Type"},
				{"unknown content type", http.MethodPost, "text/plain", "", enc(update), 415, "media type"},
				{"garbage", http.MethodPost, c.MediaType(), "", []byte("\xff\x00garbage{"), 400, "Failed to parse"},
				{"empty body", http.MethodPost, c.MediaType(), "", nil, 400, "Failed to parse"},
				{"no type", http.MethodPost, c.MediaType(), "", enc(noType), 400, "type"},
				{"update before subscribe", http.MethodPost, c.MediaType(), "", enc(update), 403, "not subscribed"},
				{"update without payload", http.MethodPost, c.MediaType(), "", enc(noUpdate), 400, "'update'"},
				{"unknown framework", http.MethodPost, c.MediaType(), "", enc(otherFw), 400, "Framework cannot be found"},
				{"unknown executor", http.MethodPost, c.MediaType(), "", enc(otherEx), 400, "Executor cannot be found"},
				{"not acceptable", http.MethodPost, c.MediaType(), "text/html", enc(ex.newCall(executorpb.Call_SUBSCRIBE)), 406, "Accept"},
				{"heartbeat", http.MethodPost, c.MediaType(), "", enc(ex.newCall(executorpb.Call_HEARTBEAT)), 202, ""},
			} {
				status, msg := raw(tc.method, tc.ct, tc.accept, tc.body)
				if status != tc.status || !strings.Contains(msg, tc.wantInAnswer) {
					t.Errorf("%s: got %d %q, want %d containing %q", tc.name, status, msg, tc.status, tc.wantInAnswer)
				}
			}
		})
	}
	// Still serving: the executor can subscribe and update.
	ex := newExecClient(t, a.url, codec.JSON, "f1", "t1")
	ex.subscribe()
	if ev := ex.event(); ev.GetType() != executorpb.Event_SUBSCRIBED {
		t.Fatalf("first event %v", ev)
	}
	ex.event() // LAUNCH
	bad := ex.newCall(executorpb.Call_UPDATE)
	bad.Update = &executorpb.Call_Update{Status: &mesospb.TaskStatus{
		TaskId: &mesospb.TaskID{Value: proto.String("t1")}, State: mesospb.TaskState_TASK_STAGING.Enum()}}
	if resp := ex.post(bad, ""); resp.StatusCode != 400 {
		t.Fatalf("TASK_STAGING from the executor answered %s", resp.Status)
	}
	// An update without uuid gets one from the agent, and an ACKNOWLEDGED.
	if code := ex.update("t1", mesospb.TaskState_TASK_RUNNING, nil); code != 202 {
		t.Fatalf("UPDATE without uuid answered %d", code)
	}
	if ev := ex.event(); ev.GetType() != executorpb.Event_ACKNOWLEDGED || len(ev.GetAcknowledged().GetUuid()) != 16 {
		t.Fatalf("event %v", ev)
	}
}

// TestResubscribeReplacesStream: a second SUBSCRIBE closes the first stream.
func TestResubscribeReplacesStream(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	s := m.session()
	s.send(runTask("f1", commandTask("t1", "sleep 100")))
	a.cz.launch(t)
	first := newExecClient(t, a.url, codec.Protobuf, "f1", "t1")
	first.subscribe()
	first.event()
	first.event()
	second := newExecClient(t, a.url, codec.JSON, "f1", "t1")
	second.subscribe()
	if ev := second.event(); ev.GetType() != executorpb.Event_SUBSCRIBED {
		t.Fatalf("event %v", ev)
	}
	if err := first.events.ReadMessage(codec.Protobuf, &executorpb.Event{}); err == nil {
		t.Fatal("the first stream is still open")
	}
	// Tasks it did not list as known are sent again.
	if ev := second.event(); ev.GetType() != executorpb.Event_LAUNCH {
		t.Fatalf("event %v", ev)
	}
}
