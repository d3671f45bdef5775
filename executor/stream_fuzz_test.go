package executor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/recordio"
	"github.com/mesoproject/meso/executor"
)

func task(id string) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
		AgentId: &mesospb.AgentID{Value: proto.String("a1")}}
}

// execStreamSeeds are event streams: SUBSCRIBED then events, and broken
// ones.
func execStreamSeeds(f *testing.F, c codec.Codec) [][]byte {
	sub := &executorpb.Event{Type: executorpb.Event_SUBSCRIBED.Enum(), Subscribed: &executorpb.Event_Subscribed{
		ExecutorInfo: &mesospb.ExecutorInfo{ExecutorId: &mesospb.ExecutorID{Value: proto.String("e1")},
			Command: &mesospb.CommandInfo{Value: proto.String("x")}},
		FrameworkInfo: &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("n")},
		AgentInfo:     &mesospb.AgentInfo{Hostname: proto.String("h")}}}
	launch := func(id string) *executorpb.Event {
		return &executorpb.Event{Type: executorpb.Event_LAUNCH.Enum(), Launch: &executorpb.Event_Launch{Task: task(id)}}
	}
	group := &executorpb.Event{Type: executorpb.Event_LAUNCH_GROUP.Enum(), LaunchGroup: &executorpb.Event_LaunchGroup{
		TaskGroup: &mesospb.TaskGroupInfo{Tasks: []*mesospb.TaskInfo{task("g1"), task("g2")}}}}
	ack := func(id string) *executorpb.Event {
		return &executorpb.Event{Type: executorpb.Event_ACKNOWLEDGED.Enum(), Acknowledged: &executorpb.Event_Acknowledged{
			TaskId: &mesospb.TaskID{Value: proto.String(id)}, Uuid: make([]byte, 16)}}
	}
	var out [][]byte
	for _, evs := range [][]*executorpb.Event{
		{sub, launch("t1"), launch("t2"), ack("t1")},
		{sub, group, ack("g2"), launch("g2"), launch("t1")},
		{launch("t1"), sub, ack("nope")},
		{sub, {Type: executorpb.Event_ACKNOWLEDGED.Enum()}, {Type: executorpb.Event_HEARTBEAT.Enum()}},
	} {
		var buf bytes.Buffer
		w := recordio.NewWriter(&buf)
		for _, e := range evs {
			if err := w.WriteMessage(c, e); err != nil {
				f.Fatal(err)
			}
		}
		out = append(out, buf.Bytes())
	}
	return append(out, []byte("2\n{}"), []byte("9\n{"), []byte("x\n"), nil)
}

// FuzzEventStream feeds arbitrary bytes as the agent's answer to SUBSCRIBE:
// Run delivers exactly the records that decode, in order, then reports the
// disconnection; the tasks it reports unacknowledged are those launched
// and not acknowledged since, in launch order.
func FuzzEventStream(f *testing.F) {
	codecs := []codec.Codec{codec.Protobuf, codec.JSON}
	for i, c := range codecs {
		for _, s := range execStreamSeeds(f, c) {
			f.Add(uint8(i), s)
		}
	}
	var body atomic.Pointer[[]byte]
	var ctype atomic.Value
	// served counts the SUBSCRIBEs answered with the input: only the first
	// of each run is, so the model below sees exactly one stream (a stream
	// without SUBSCRIBED is retried until the recovery timeout).
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := &executorpb.Call{}
		data, _ := io.ReadAll(r.Body)
		if c, err := codec.ForContentType(r.Header.Get("Content-Type")); err != nil || c.Unmarshal(data, call) != nil {
			http.Error(w, "bad call", http.StatusBadRequest)
			return
		}
		if call.GetType() != executorpb.Call_SUBSCRIBE {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if served.Add(1) > 1 {
			http.Error(w, "agent unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", ctype.Load().(string))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		dec := codecs[int(which)%len(codecs)]
		body.Store(&data)
		ctype.Store(dec.MediaType())
		served.Store(0)
		c := executor.New(executor.Config{
			AgentEndpoint: srv.Listener.Addr().String(),
			FrameworkID:   &mesospb.FrameworkID{Value: proto.String("f1")},
			ExecutorID:    &mesospb.ExecutorID{Value: proto.String("e1")},
			Codec:         dec, EventBuffer: len(data) + 1,
			// A stream that never delivers SUBSCRIBED is retried until the
			// recovery timeout: a short one keeps such inputs cheap and is
			// long enough for a first attempt to read the whole stream.
			RecoveryTimeout: 250 * time.Millisecond,
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := c.Run(ctx)
		if ctx.Err() != nil {
			t.Fatalf("Run on %q did not end with the stream", data)
		}
		if !errors.Is(err, executor.ErrDisconnected) {
			t.Fatalf("Run on %q = %v, want ErrDisconnected", data, err)
		}
		var got []*executorpb.Event
		for ev := range c.Events() {
			got = append(got, ev)
		}

		// The model: the records that decode, and the tasks they leave
		// unacknowledged.
		var want []*executorpb.Event
		tasks := map[string]*mesospb.TaskInfo{}
		var order []string
		add := func(ti *mesospb.TaskInfo) {
			id := ti.GetTaskId().GetValue()
			if _, ok := tasks[id]; !ok {
				order = append(order, id)
			}
			tasks[id] = ti
		}
		rd := recordio.NewReader(bytes.NewReader(data), recordio.DefaultMaxRecordSize)
		for {
			ev := &executorpb.Event{}
			if rd.ReadMessage(dec, ev) != nil {
				break
			}
			want = append(want, ev)
			switch ev.GetType() {
			case executorpb.Event_LAUNCH:
				add(ev.GetLaunch().GetTask())
			case executorpb.Event_LAUNCH_GROUP:
				for _, ti := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
					add(ti)
				}
			case executorpb.Event_ACKNOWLEDGED:
				id := ev.GetAcknowledged().GetTaskId().GetValue()
				if _, ok := tasks[id]; ok {
					delete(tasks, id)
					order = slices.DeleteFunc(order, func(s string) bool { return s == id })
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("Run delivered %d events of %q, want %d", len(got), data, len(want))
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("event %d = %v, want %v", i, got[i], want[i])
			}
		}
		unacked, updates := c.Unacknowledged()
		if len(updates) != 0 {
			t.Fatalf("%d unacknowledged updates, none sent", len(updates))
		}
		if len(unacked) != len(order) {
			t.Fatalf("unacknowledged tasks %v, want %v", unacked, order)
		}
		for i, ti := range unacked {
			if ti.GetTaskId().GetValue() != order[i] || !proto.Equal(ti, tasks[order[i]]) {
				t.Fatalf("unacknowledged task %d = %v, want %v", i, ti, tasks[order[i]])
			}
		}
	})
}
