package agent

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/agent/lifecycle"
	"github.com/mesoproject/meso/internal/resources"
)

// FuzzExecutorAPI feeds arbitrary bodies to POST /api/v1/executor, for an
// agent that runs one executor (f1/t1): the agent must answer with a
// status the API defines, never panic nor fail with a 5xx.
func FuzzExecutorAPI(f *testing.F) {
	call := func(typ executorpb.Call_Type) *executorpb.Call {
		return &executorpb.Call{Type: typ.Enum(), FrameworkId: &mesospb.FrameworkID{Value: proto.String("f1")},
			ExecutorId: &mesospb.ExecutorID{Value: proto.String("t1")}}
	}
	update := call(executorpb.Call_UPDATE)
	update.Update = &executorpb.Call_Update{Status: &mesospb.TaskStatus{
		TaskId: &mesospb.TaskID{Value: proto.String("t1")}, State: mesospb.TaskState_TASK_RUNNING.Enum(), Uuid: make([]byte, 16)}}
	message := call(executorpb.Call_MESSAGE)
	message.Message = &executorpb.Call_Message{Data: []byte("hi")}
	for _, c := range []*executorpb.Call{call(executorpb.Call_SUBSCRIBE), update, message, call(executorpb.Call_HEARTBEAT)} {
		for i, cd := range []codec.Codec{codec.JSON, codec.Protobuf} {
			b, err := cd.Marshal(c)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), b)
		}
	}
	f.Add(uint8(0), []byte(`{"type":"UPDATE","framework_id":{"value":"f1"},"executor_id":{"value":"t1"},"update":{"status":{"task_id":{"value":"t1"},"state":"TASK_STAGING"}}}`))
	f.Add(uint8(0), []byte(`{"type":"SUBSCRIBE"}`))
	f.Add(uint8(1), []byte("\x08\x01\x12\x00"))

	a, err := New(Config{
		Master: "127.0.0.1:1", WorkDir: f.TempDir(), Launcher: "/bin/true",
		Containerizer: newFakeContainerizer(), Detected: &resources.Detected{CPUs: 1},
	})
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	if err := a.start(context.Background(), ln); err != nil {
		f.Fatal(err)
	}
	a.mu.Lock()
	a.dispatchLocked(a.core.Registered("a1", time.Now()))
	a.mu.Unlock()
	_ = a.apply("run task", func(now time.Time) ([]lifecycle.Effect, error) {
		return a.core.RunTask(frameworkInfo("f1"), nil, commandTask("t1", "true"), now)
	})
	// The fake containerizer's launch returns at once, but in the
	// background: SUBSCRIBE is answered 503 until it has.
	if err := pollUntil(func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, run := range a.containers {
			if run.launching {
				return false
			}
		}
		return len(a.containers) > 0
	}); err != nil {
		f.Fatal("the task's container never launched")
	}
	h := a.Handler()
	done, cancel := context.WithCancel(context.Background())
	cancel() // streams end as soon as they have written what is queued

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ct := []string{codec.MediaTypeJSON, codec.MediaTypeProtobuf}[which%2]
		req := httptest.NewRequestWithContext(done, http.MethodPost, ExecutorAPIPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 202, 400, 403, 406, 413, 415:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code >= 400 && rec.Body.Len() == 0 {
			t.Fatalf("status %d without a message", rec.Code)
		}
	})
}

// FuzzAgentOperatorAPI feeds arbitrary bodies to POST /api/v1 of an agent
// running one executor: 200, 4xx or 501 with a message, never a panic or
// another 5xx.
func FuzzAgentOperatorAPI(f *testing.F) {
	for _, c := range []*agentpb.Call{
		{Type: agentpb.Call_GET_STATE.Enum()},
		{Type: agentpb.Call_GET_CONTAINERS.Enum()},
		{Type: agentpb.Call_READ_FILE.Enum(), ReadFile: &agentpb.Call_ReadFile{Path: proto.String("/"), Offset: proto.Uint64(0)}},
		{Type: agentpb.Call_LIST_FILES.Enum(), ListFiles: &agentpb.Call_ListFiles{Path: proto.String("a1")}},
		{Type: agentpb.Call_LAUNCH_CONTAINER.Enum()},
	} {
		for i, cd := range []codec.Codec{codec.JSON, codec.Protobuf} {
			b, err := cd.Marshal(c)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), b)
		}
	}
	f.Add(uint8(0), []byte(`{"type":"READ_FILE","read_file":{"path":"../../etc/passwd","offset":18446744073709551615,"length":18446744073709551615}}`))
	a, err := New(Config{
		Master: "127.0.0.1:1", WorkDir: f.TempDir(), Launcher: "/bin/true",
		Containerizer: newFakeContainerizer(), Detected: &resources.Detected{CPUs: 1},
	})
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	if err := a.start(context.Background(), ln); err != nil {
		f.Fatal(err)
	}
	a.mu.Lock()
	a.dispatchLocked(a.core.Registered("a1", time.Now()))
	a.mu.Unlock()
	_ = a.apply("run task", func(now time.Time) ([]lifecycle.Effect, error) {
		return a.core.RunTask(frameworkInfo("f1"), nil, commandTask("t1", "true"), now)
	})
	h := a.Handler()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ct := []string{codec.MediaTypeJSON, codec.MediaTypeProtobuf}[which%2]
		req := httptest.NewRequest(http.MethodPost, "/api/v1", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 403, 404, 406, 413, 415, 501:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code >= 400 && rec.Body.Len() == 0 {
			t.Fatalf("status %d without a message", rec.Code)
		}
	})
}
