package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
)

// task is a launched task running its script.
type task struct {
	info   *mesospb.TaskInfo
	killed chan struct{} // closed by stop
	once   sync.Once
}

func (t *task) stop() { t.once.Do(func() { close(t.killed) }) }

// sortedTasks lists the running tasks by id; e.mu must be held.
func (e *executor) sortedTasks() []*task {
	out := make([]*task, 0, len(e.tasks))
	for _, id := range sortedKeys(e.tasks) {
		out = append(out, e.tasks[id])
	}
	return out
}

// launch starts a task's script, unless the task runs already (a LAUNCH
// repeated after a resubscription).
func (e *executor) launch(ctx context.Context, info *mesospb.TaskInfo) {
	id := info.GetTaskId().GetValue()
	e.mu.Lock()
	if e.tasks[id] != nil {
		e.mu.Unlock()
		return
	}
	t := &task{info: info, killed: make(chan struct{})}
	e.tasks[id] = t
	e.launched++
	e.mu.Unlock()
	go e.runTask(ctx, t)
}

func (e *executor) kill(taskID string) {
	e.mu.Lock()
	t := e.tasks[taskID]
	e.mu.Unlock()
	if t != nil {
		t.stop()
	}
}

// runTask reports TASK_RUNNING, follows the script, and reports the end.
func (e *executor) runTask(ctx context.Context, t *task) {
	id := t.info.GetTaskId().GetValue()
	state, msg := e.script(ctx, t)
	if err := e.update(ctx, id, state, msg); err != nil {
		log.Printf("task %s: sending %s: %v", id, state, err)
	}
}

// script runs a task's steps and returns its terminal state.
func (e *executor) script(ctx context.Context, t *task) (mesospb.TaskState, string) {
	id := t.info.GetTaskId().GetValue()
	if err := e.update(ctx, id, mesospb.TaskState_TASK_RUNNING, ""); err != nil {
		return mesospb.TaskState_TASK_FAILED, err.Error()
	}
	for step := range strings.SplitSeq(string(t.info.GetData()), ";") {
		name, arg, _ := strings.Cut(strings.TrimSpace(step), ":")
		switch name {
		case "", "finish":
			return mesospb.TaskState_TASK_FINISHED, "finished as asked"
		case "fail":
			return mesospb.TaskState_TASK_FAILED, "failed as asked"
		case "hang":
			<-t.killed
			return mesospb.TaskState_TASK_KILLED, "killed"
		case "sleep":
			d, err := time.ParseDuration(arg)
			if err != nil {
				return mesospb.TaskState_TASK_FAILED, fmt.Sprintf("bad step %q: %v", step, err)
			}
			select {
			case <-time.After(d):
			case <-t.killed:
				return mesospb.TaskState_TASK_KILLED, "killed while sleeping"
			}
		case "crash":
			code, _ := strconv.Atoi(arg)
			log.Printf("task %s: crashing with status %d as asked", id, code)
			os.Exit(code)
		case "park":
			e.park(id)
		default:
			return mesospb.TaskState_TASK_FAILED, fmt.Sprintf("unknown step %q", step)
		}
	}
	return mesospb.TaskState_TASK_FINISHED, "script done"
}

// park drops the event stream and returns once the executor has
// subscribed again (see run).
func (e *executor) park(taskID string) {
	e.mu.Lock()
	p := &park{taskID: taskID, resumed: make(chan struct{})}
	e.parking = p
	cancel := e.cancelStream
	e.mu.Unlock()
	cancel()
	<-p.resumed
}
