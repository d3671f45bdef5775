package lifecycle

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func benchCore() *Core {
	var n uint64
	next := func() []byte {
		n++
		b := make([]byte, 16)
		binary.BigEndian.PutUint64(b[8:], n)
		return b
	}
	return New(Config{
		Agent:          &mesospb.AgentInfo{Hostname: proto.String("h")},
		Launcher:       "/bin/meso",
		NewUUID:        next,
		NewContainerID: func() string { return fmt.Sprintf("c%x", next()) },
	})
}

// BenchmarkCommandTask is the core's cost of one command task's whole life:
// RUN_TASK, SUBSCRIBE, three updates, their three acknowledgements and the
// executor's exit, with `live` other tasks running on the agent.
func BenchmarkCommandTask(b *testing.B) {
	for _, live := range []int{0, 1000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			c := benchCore()
			now := time.Unix(1, 0)
			c.Registered("a1", now)
			fw := &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("f"), Id: &mesospb.FrameworkID{Value: proto.String("f1")}}
			task := func(id string) *mesospb.TaskInfo {
				return &mesospb.TaskInfo{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
					AgentId: &mesospb.AgentID{Value: proto.String("a1")}, Command: &mesospb.CommandInfo{Value: proto.String("true")}}
			}
			for i := range live {
				id := fmt.Sprintf("live%d", i)
				c.RunTask(fw, nil, task(id), now)
				c.ExecutorSubscribe("f1", id, nil, now)
			}
			states := []mesospb.TaskState{mesospb.TaskState_TASK_STARTING, mesospb.TaskState_TASK_RUNNING, mesospb.TaskState_TASK_FINISHED}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("t%d", i)
				c.RunTask(fw, nil, task(id), now)
				c.ExecutorSubscribe("f1", id, nil, now)
				var uuids [][]byte
				for _, s := range states {
					u := make([]byte, 16)
					binary.BigEndian.PutUint64(u, uint64(i)<<2|uint64(s))
					uuids = append(uuids, u)
					st := &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(id)}, State: s.Enum(), Uuid: u}
					if _, err := c.ExecutorUpdate("f1", id, st, now); err != nil {
						b.Fatal(err)
					}
				}
				for _, u := range uuids {
					if _, err := c.Acknowledge("f1", id, u, now); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := c.ExecutorExited("f1", id, c.ContainerID("f1", id), Termination{}, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTick is one timer tick with n unacknowledged updates pending,
// none of them due.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			c := benchCore()
			now := time.Unix(1, 0)
			c.Registered("a1", now)
			fw := &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("f"), Id: &mesospb.FrameworkID{Value: proto.String("f1")}}
			for i := range n {
				id := fmt.Sprintf("t%d", i)
				c.RunTask(fw, nil, &mesospb.TaskInfo{Name: proto.String(id), TaskId: &mesospb.TaskID{Value: proto.String(id)},
					AgentId: &mesospb.AgentID{Value: proto.String("a1")}, Command: &mesospb.CommandInfo{Value: proto.String("true")}}, now)
				c.ExecutorSubscribe("f1", id, nil, now)
				st := &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(id)}, State: mesospb.TaskState_TASK_RUNNING.Enum()}
				c.ExecutorUpdate("f1", id, st, now)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.Tick(now.Add(time.Second))
				c.NextDeadline()
			}
		})
	}
}
