package rdd

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/rddpb"
	mesosexec "github.com/mesoproject/meso/executor"
)

// envFine marks the executor of a fine-grained session: a Mesos executor
// that gets its tasks in LAUNCH events and reports results in status
// updates.
const envFine = "MESO_RDD_FINE"

// maxDirectResult is spark.task.maxDirectResultSize's default (1 MiB): a
// larger result is kept by the executor and fetched by the driver.
const maxDirectResult = 1 << 20

// Status data of a fine-grained task: one byte saying how the result is
// given, then the encoded rddpb.TaskResult, or the path on the executor's
// server where the driver fetches it.
const (
	resultDirect   byte = 0
	resultIndirect byte = 1
)

// fineResults holds results too large for a status update until the
// driver fetched them (once).
type fineResults struct {
	mu sync.Mutex
	m  map[string][]byte // guarded by mu; by Mesos task id
}

func (f *fineResults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("task")
	f.mu.Lock()
	b, ok := f.m[id]
	delete(f.m, id)
	f.mu.Unlock()
	if !ok {
		http.Error(w, "no result for task "+id, http.StatusNotFound)
		return
	}
	w.Write(b)
}

// runMesos is the executor's Mesos side in fine-grained mode: it runs every
// LAUNCHed task and reports its result in the terminal update, until the
// agent shuts it down or the subscription ends.
func (e *executor) runMesos(ctx context.Context, big *fineResults) error {
	env, err := mesosexec.EnvFromOS()
	if err != nil {
		return fmt.Errorf("rdd: fine-grained executor %s: %w", e.id, err)
	}
	c := mesosexec.New(env.Config())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	var mu sync.Mutex
	kills := map[string]context.CancelFunc{} // guarded by mu
	var wg sync.WaitGroup
	defer wg.Wait()
	update := func(id string, st mesospb.TaskState, data []byte, msg string) {
		s := &mesospb.TaskStatus{TaskId: &mesospb.TaskID{Value: proto.String(id)}, State: st.Enum(), Data: data}
		if msg != "" {
			s.Message = proto.String(msg)
		}
		if err := c.Update(ctx, s); err != nil {
			e.log.Warn("status update", "task", id, "state", st, "err", err)
		}
	}
	for ev := range c.Events() {
		switch ev.GetType() {
		case executorpb.Event_LAUNCH:
			ti := ev.GetLaunch().GetTask()
			id := ti.GetTaskId().GetValue()
			var msg rddpb.PollTasksResponse
			if err := proto.Unmarshal(ti.GetData(), &msg); err != nil || len(msg.GetTasks()) != 1 {
				update(id, mesospb.TaskState_TASK_ERROR, nil, fmt.Sprintf("bad task data: %v", err))
				continue
			}
			for _, p := range msg.GetPipelines() {
				e.mu.Lock()
				_, have := e.pipelines[p.GetId()]
				e.mu.Unlock()
				if !have {
					e.addPipeline(p)
				}
			}
			tctx, kill := context.WithCancel(ctx)
			mu.Lock()
			kills[id] = kill
			mu.Unlock()
			update(id, mesospb.TaskState_TASK_RUNNING, nil, "")
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := e.run(tctx, msg.GetTasks()[0], nil)
				mu.Lock()
				delete(kills, id)
				mu.Unlock()
				killed := tctx.Err() != nil
				kill()
				b, err := proto.Marshal(resultToProto(res))
				state := mesospb.TaskState_TASK_FINISHED
				switch {
				case err != nil:
					update(id, mesospb.TaskState_TASK_FAILED, nil, "encoding the result: "+err.Error())
					return
				case killed:
					update(id, mesospb.TaskState_TASK_KILLED, nil, "")
					return
				case res.Err != nil:
					state = mesospb.TaskState_TASK_FAILED
				}
				data := append([]byte{resultDirect}, b...)
				if len(b) > maxDirectResult {
					big.mu.Lock()
					big.m[id] = b
					big.mu.Unlock()
					data = append([]byte{resultIndirect}, "/result/"+id...)
					e.log.Info("result kept for the driver to fetch", "task", id, "bytes", len(b))
				}
				update(id, state, data, "")
			}()
		case executorpb.Event_KILL:
			id := ev.GetKill().GetTaskId().GetValue()
			mu.Lock()
			kill := kills[id]
			mu.Unlock()
			if kill != nil {
				kill() // the task's goroutine reports TASK_KILLED
			}
		case executorpb.Event_SHUTDOWN:
			cancel()
		}
	}
	return <-errc
}

// fineMode reports whether this executor process is a fine-grained Mesos
// executor.
func fineMode() bool { return os.Getenv(envFine) == "1" && os.Getenv("MESOS_AGENT_ENDPOINT") != "" }
