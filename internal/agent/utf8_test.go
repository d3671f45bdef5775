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

// Invalid UTF-8 in a string field of a JSON executor call is refused with
// 400 and a message naming the field (issue 8, item 6): in SUBSCRIBE's
// unacknowledged tasks and in an UPDATE's message and labels. The executor
// stays subscribed.
func TestExecutorAPIRefusesInvalidUTF8(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, m, nil)
	m.session().send(runTask("f1", commandTask("t1", "sleep 100")))
	a.cz.launch(t)
	ex := newExecClient(t, a.url, codec.JSON, "f1", "t1")

	send := func(call *executorpb.Call) (int, string) {
		t.Helper()
		b, err := codec.JSON.Marshal(call)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`"BAD"`)) {
			t.Fatalf("no \"BAD\" in %s", b)
		}
		b = bytes.ReplaceAll(b, []byte(`"BAD"`), []byte("\"B\xffD\""))
		req, _ := http.NewRequest(http.MethodPost, a.url+ExecutorAPIPath, bytes.NewReader(b))
		req.Header.Set("Content-Type", codec.JSON.MediaType())
		req.Header.Set("Accept", codec.JSON.MediaType())
		resp, err := (&http.Client{Timeout: waitLimit}).Do(req) // an accepted SUBSCRIBE would stream
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	check := func(what string, call *executorpb.Call, field string) {
		t.Helper()
		status, msg := send(call)
		if status != 400 || !strings.Contains(msg, field) || !strings.Contains(msg, "invalid UTF-8") {
			t.Errorf("%s: %d %q, want 400 naming %s", what, status, msg, field)
		}
	}

	sub := ex.newCall(executorpb.Call_SUBSCRIBE)
	sub.Subscribe = &executorpb.Call_Subscribe{UnacknowledgedTasks: []*mesospb.TaskInfo{{
		Name: proto.String("BAD"), TaskId: &mesospb.TaskID{Value: proto.String("t1")},
		AgentId: &mesospb.AgentID{Value: proto.String("a")}}}}
	check("SUBSCRIBE with an invalid task name", sub, `"subscribe.unacknowledged_tasks[0].name"`)

	ex.subscribe()
	if ev := ex.event(); ev.GetType() != executorpb.Event_SUBSCRIBED {
		t.Fatalf("first event %v", ev)
	}
	status := func() *mesospb.TaskStatus {
		return &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String("t1")},
			State: mesospb.TaskState_TASK_RUNNING.Enum()}
	}
	update := ex.newCall(executorpb.Call_UPDATE)
	update.Update = &executorpb.Call_Update{Status: status()}
	update.Update.Status.Message = proto.String("BAD")
	check("UPDATE with an invalid message", update, `"update.status.message"`)
	update.Update.Status = status()
	update.Update.Status.Labels = &mesospb.Labels{Labels: []*mesospb.Label{{Key: proto.String("BAD")}}}
	check("UPDATE with an invalid label", update, `"update.status.labels.labels[0].key"`)

	// Still subscribed: a valid update goes through.
	if code := ex.update("t1", mesospb.TaskState_TASK_RUNNING, nil); code != 202 {
		t.Fatalf("valid UPDATE answered %d", code)
	}
}
