package agent

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// Attack (c): with --authenticate_http_executors a SUBSCRIBE or UPDATE
// with the ids read from /state but without the executor's token (or
// with another executor's) is refused 401; the token the agent put in
// the executor's environment is accepted, and survives an agent restart
// on the same work dir.
func TestExecutorTokenRequired(t *testing.T) {
	m := newFakeMaster(t)
	dir := t.TempDir()
	a := startAgent(t, m, func(c *Config) { c.AuthenticateHTTPExecutors = true; c.WorkDir = dir })
	s := m.session()
	s.send(runTask("f1", commandTask("t1", "sleep 100")))
	spec := a.cz.launch(t)
	var token string
	for _, kv := range spec.Env {
		if v, ok := strings.CutPrefix(kv, "MESOS_EXECUTOR_AUTHENTICATION_TOKEN="); ok {
			token = v
		}
	}
	if token == "" {
		t.Fatalf("no MESOS_EXECUTOR_AUTHENTICATION_TOKEN in the executor's environment %q", spec.Env)
	}
	for name, tok := range map[string]string{"no token": "", "wrong token": strings.Repeat("0", len(token)),
		"another executor's": executorToken(a.tokenKey, "f1", "other")} {
		thief := newExecClient(t, a.url, codec.JSON, "f1", "t1")
		thief.token = tok
		resp := thief.post(thief.newCall(executorpb.Call_SUBSCRIBE), codec.JSON.MediaType())
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("SUBSCRIBE with %s: %s, want 401 with a Bearer challenge", name, resp.Status)
		}
		if status := thief.update("t1", mesospb.TaskState_TASK_FINISHED, mesospb.NewUUID()); status != http.StatusUnauthorized {
			t.Errorf("forged TASK_FINISHED with %s: %d, want 401", name, status)
		}
	}
	ex := newExecClient(t, a.url, codec.JSON, "f1", "t1")
	ex.token = token
	ex.subscribe()
	if ev := ex.event(); ev.GetType() != executorpb.Event_SUBSCRIBED {
		t.Fatalf("first event = %v", ev)
	}
	key, err := loadExecutorKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if executorToken(key, "f1", "t1") != token {
		t.Error("the token key changed on reload: executors would lose their tokens across an agent restart")
	}
}
