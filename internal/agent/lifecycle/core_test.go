package lifecycle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/executorpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// harness drives a Core from the scenario scripts in testdata. Times are
// seconds since an arbitrary epoch (at=<s>); uuids the Core generates are
// g1, g2, ...; container ids c1, c2, ...; uuids given in scripts are
// short strings, zero-padded to 16 bytes on the wire.
type harness struct {
	t     *testing.T
	core  *Core
	epoch time.Time
	uuids int
	ids   int
	aware map[string]bool // partition-aware frameworks
	ckpt  map[string]bool // checkpointing frameworks
	cfg   Config
	disk  *disk // what Checkpoints asked to persist
}

func uuid(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

func showUUID(b []byte) string { return strings.TrimRight(string(b), "\x00") }

func (h *harness) new(d *datadriven.TestData) {
	cfg := Config{
		Agent:    &mesospb.AgentInfo{Hostname: proto.String("host1"), Port: proto.Int32(5051)},
		Launcher: "/bin/meso",
		NewUUID: func() []byte {
			h.uuids++
			return uuid(fmt.Sprintf("g%d", h.uuids))
		},
		NewContainerID: func() string {
			h.ids++
			return fmt.Sprintf("c%d", h.ids)
		},
		MaxCompletedTasksPerExecutor:      2,
		MaxCompletedExecutorsPerFramework: 2,
		MaxCompletedFrameworks:            2,
	}
	secs := func(key string, dst *time.Duration) {
		var s float64
		if d.MaybeScanArgs(h.t, key, &s) {
			*dst = time.Duration(s * float64(time.Second))
		}
	}
	secs("timeout", &cfg.ExecutorRegistrationTimeout)
	secs("grace", &cfg.ExecutorShutdownGracePeriod)
	secs("retry-min", &cfg.StatusUpdateRetryMin)
	secs("retry-max", &cfg.StatusUpdateRetryMax)
	h.cfg = cfg
	h.core = New(cfg)
	h.aware = map[string]bool{}
	h.ckpt = map[string]bool{}
	h.disk = newDisk()
}

func (h *harness) at(d *datadriven.TestData) time.Time {
	var s float64
	d.MaybeScanArgs(h.t, "at", &s)
	return h.epoch.Add(time.Duration(s * float64(time.Second)))
}

func (h *harness) arg(d *datadriven.TestData, key, def string) string {
	v := def
	d.MaybeScanArgs(h.t, key, &v)
	return v
}

// unsent reads unsent=(kill:t1,message:data,ack:t1): events a stream
// could not write.
func (h *harness) unsent(d *datadriven.TestData) []*executorpb.Event {
	var out []*executorpb.Event
	for _, u := range h.list(d, "unsent") {
		kind, arg, _ := strings.Cut(u, ":")
		tid := &mesospb.TaskID{Value: proto.String(arg)}
		switch kind {
		case "kill":
			out = append(out, &executorpb.Event{Type: executorpb.Event_KILL.Enum(), Kill: &executorpb.Event_Kill{TaskId: tid}})
		case "message":
			out = append(out, &executorpb.Event{Type: executorpb.Event_MESSAGE.Enum(), Message: &executorpb.Event_Message{Data: []byte(arg)}})
		case "ack":
			out = append(out, &executorpb.Event{Type: executorpb.Event_ACKNOWLEDGED.Enum(),
				Acknowledged: &executorpb.Event_Acknowledged{TaskId: tid, Uuid: uuid("x")}})
		default:
			h.t.Fatalf("unknown unsent event %q", u)
		}
	}
	return out
}

func (h *harness) list(d *datadriven.TestData, key string) []string {
	arg, ok := d.Arg(key)
	if !ok {
		return nil
	}
	return arg.Vals
}

func (h *harness) framework(d *datadriven.TestData) *mesospb.FrameworkInfo {
	id := h.arg(d, "fw", "f1")
	if d.HasArg("partition-aware") {
		h.aware[id] = true
	}
	if d.HasArg("checkpoint") {
		h.ckpt[id] = true
	}
	info := &mesospb.FrameworkInfo{
		User: proto.String(h.arg(d, "user", "alice")),
		Name: proto.String("framework " + id),
		Id:   &mesospb.FrameworkID{Value: proto.String(id)},
	}
	if h.ckpt[id] {
		info.Checkpoint = proto.Bool(true)
	}
	if h.aware[id] {
		info.Capabilities = []*mesospb.FrameworkInfo_Capability{{Type: mesospb.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
	}
	return info
}

func (h *harness) task(id string, d *datadriven.TestData) *mesospb.TaskInfo {
	t := &mesospb.TaskInfo{
		Name:    proto.String("task " + id),
		TaskId:  &mesospb.TaskID{Value: proto.String(id)},
		AgentId: &mesospb.AgentID{Value: proto.String("a1")},
		Resources: []*mesospb.Resource{{
			Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(),
			Scalar: &mesospb.Value_Scalar{Value: proto.Float64(0.5)},
		}},
	}
	if !d.HasArg("executor") {
		t.Command = &mesospb.CommandInfo{Value: proto.String(h.arg(d, "cmd", "sleep 1"))}
		if d.HasArg("no-command") {
			t.Command = nil
		}
	}
	return t
}

func (h *harness) executorInfo(d *datadriven.TestData) *mesospb.ExecutorInfo {
	if !d.HasArg("executor") {
		return nil
	}
	info := &mesospb.ExecutorInfo{
		ExecutorId: &mesospb.ExecutorID{Value: proto.String(h.arg(d, "executor", ""))},
		Resources: []*mesospb.Resource{{
			Name: proto.String("mem"), Type: mesospb.Value_SCALAR.Enum(),
			Scalar: &mesospb.Value_Scalar{Value: proto.Float64(32)},
		}},
	}
	if !d.HasArg("no-command") {
		info.Command = &mesospb.CommandInfo{Value: proto.String("./my-executor")}
	}
	if g := h.arg(d, "executor-grace", ""); g != "" {
		var secs float64
		fmt.Sscan(g, &secs)
		info.ShutdownGracePeriod = &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(secs * 1e9))}
	}
	return info
}

func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{t: t, epoch: time.Unix(1_000_000, 0)}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			h.t = t
			return h.run(d)
		})
	})
}

func (h *harness) run(d *datadriven.TestData) string {
	c := h.core
	fw := func() string { return h.arg(d, "fw", "f1") }
	ex := func() string { return h.arg(d, "executor", "") }
	switch d.Cmd {
	case "new":
		h.new(d)
		return "ok"
	case "registered":
		return show(c.Registered(h.arg(d, "id", "a1"), h.at(d)), nil)
	case "disconnected":
		c.Disconnected()
		return "ok"
	case "reset":
		return show(c.Reset(), nil)
	case "run":
		return show(c.RunTask(h.framework(d), h.executorInfo(d), h.task(h.arg(d, "task", ""), d), h.at(d)))
	case "run-group":
		group := &mesospb.TaskGroupInfo{}
		for _, id := range h.list(d, "tasks") {
			group.Tasks = append(group.Tasks, h.task(id, d))
		}
		return show(c.RunTaskGroup(h.framework(d), h.executorInfo(d), group, h.at(d)))
	case "subscribe":
		sub := &executorpb.Call_Subscribe{}
		for _, id := range h.list(d, "unacked-tasks") {
			sub.UnacknowledgedTasks = append(sub.UnacknowledgedTasks, &mesospb.TaskInfo{TaskId: &mesospb.TaskID{Value: proto.String(id)}})
		}
		for _, u := range h.list(d, "unacked-updates") {
			parts := strings.Split(u, ":") // task:STATE:uuid
			sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, &executorpb.Call_Update{Status: &mesospb.TaskStatus{
				TaskId: &mesospb.TaskID{Value: proto.String(parts[0])},
				State:  mesospb.TaskState(mesospb.TaskState_value[parts[1]]).Enum(),
				Uuid:   uuid(parts[2]),
			}})
		}
		return show(c.ExecutorSubscribe(fw(), ex(), sub, h.at(d)))
	case "disconnect":
		c.ExecutorDisconnected(fw(), ex(), h.unsent(d)...)
		return "ok"
	case "update":
		st := &mesospb.TaskStatus{
			TaskId:  &mesospb.TaskID{Value: proto.String(h.arg(d, "task", ""))},
			State:   mesospb.TaskState(mesospb.TaskState_value[h.arg(d, "state", "")]).Enum(),
			Message: proto.String(h.arg(d, "msg", "")),
		}
		if u := h.arg(d, "uuid", ""); u != "" {
			st.Uuid = uuid(u)
			if u == "short" {
				st.Uuid = []byte("short")
			}
		}
		if s := h.arg(d, "source", ""); s != "" {
			st.Source = mesospb.TaskStatus_Source(mesospb.TaskStatus_Source_value[s]).Enum()
		}
		if ts := h.arg(d, "timestamp", ""); ts != "" {
			f, err := strconv.ParseFloat(ts, 64)
			if err != nil {
				h.t.Fatalf("timestamp: %v", err)
			}
			st.Timestamp = proto.Float64(f)
		}
		if e := h.arg(d, "status-executor", ""); e != "" {
			st.ExecutorId = &mesospb.ExecutorID{Value: proto.String(e)}
		}
		return show(c.ExecutorUpdate(fw(), ex(), st, h.at(d)))
	case "message":
		return show(c.ExecutorMessage(fw(), ex(), []byte(h.arg(d, "data", ""))))
	case "framework-message":
		return show(c.FrameworkMessage(fw(), ex(), []byte(h.arg(d, "data", ""))))
	case "update-framework":
		return show(c.UpdateFramework(h.framework(d), h.at(d)))
	case "kill":
		var policy *mesospb.KillPolicy
		if g := h.arg(d, "grace", ""); g != "" {
			var secs float64
			fmt.Sscan(g, &secs)
			policy = &mesospb.KillPolicy{GracePeriod: &mesospb.DurationInfo{Nanoseconds: proto.Int64(int64(secs * 1e9))}}
		}
		return show(c.KillTask(fw(), h.arg(d, "task", ""), policy, h.at(d)))
	case "ack":
		return show(c.Acknowledge(fw(), h.arg(d, "task", ""), uuid(h.arg(d, "uuid", "")), h.at(d)))
	case "shutdown-executor":
		return show(c.ShutdownExecutor(fw(), ex(), h.at(d)))
	case "shutdown-framework":
		return show(c.ShutdownFramework(fw(), h.at(d)))
	case "exited":
		var status int
		d.MaybeScanArgs(h.t, "status", &status)
		term := Termination{Status: int32(status), Message: h.arg(d, "msg", "")}
		if r := h.arg(d, "reason", ""); r != "" {
			term.Limited = true
			term.Reason = mesospb.TaskStatus_Reason(mesospb.TaskStatus_Reason_value[r])
		}
		return show(c.ExecutorExited(fw(), ex(), h.arg(d, "container", ""), term, h.at(d)))
	case "launch-failed":
		return show(c.ContainerLaunchFailed(fw(), ex(), h.arg(d, "container", ""), h.arg(d, "msg", ""), h.at(d)))
	case "tick":
		return show(c.Tick(h.at(d)), nil)
	case "deadline":
		t, ok := c.NextDeadline()
		if !ok {
			return "none"
		}
		return fmt.Sprintf("%gs", t.Sub(h.epoch).Seconds())
	case "checkpoints":
		effs := c.Checkpoints()
		h.disk.apply(effs)
		return show(effs, nil)
	case "disk":
		return h.disk.show()
	case "restart":
		// A new Core recovers from what the checkpoints persisted.
		var timeout float64 = 60
		d.MaybeScanArgs(h.t, "timeout", &timeout)
		h.core = New(h.cfg)
		return show(h.core.Recover(h.disk.recovered(h.arg(d, "id", "a1")), time.Duration(timeout*float64(time.Second)), h.at(d)))
	case "state":
		return showState(c)
	case "registration":
		return showRegistration(c)
	}
	h.t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func show(effs []Effect, err error) string {
	var b strings.Builder
	for _, e := range effs {
		b.WriteString(showEffect(e))
		b.WriteByte('\n')
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

func showEffect(e Effect) string {
	switch e := e.(type) {
	case LaunchExecutor:
		kind := "custom"
		if e.CommandExecutor {
			kind = "command"
		}
		var res []string
		for _, r := range e.Resources {
			res = append(res, fmt.Sprintf("%s:%g", r.GetName(), r.GetScalar().GetValue()))
		}
		return fmt.Sprintf("launch %s/%s container=%s %s user=%s resources=%s cmd=%q args=%q name=%q",
			e.FrameworkID, e.ExecutorID, e.ContainerID, kind, e.User, strings.Join(res, ";"),
			e.Executor.GetCommand().GetValue(), e.Executor.GetCommand().GetArguments(), e.Executor.GetName())
	case SendExecutor:
		return fmt.Sprintf("executor %s/%s %s", e.FrameworkID, e.ExecutorID, showEvent(e.Event))
	case SendMaster:
		return "master " + showCall(e)
	case DestroyContainer:
		return fmt.Sprintf("destroy %s/%s container=%s", e.FrameworkID, e.ExecutorID, e.ContainerID)
	case CheckpointFramework:
		return "checkpoint framework " + e.Info.GetId().GetValue()
	case CheckpointExecutor:
		return "checkpoint " + showCheckpoint(e.Executor)
	case RemoveCheckpoint:
		if e.ExecutorID == "" {
			return "remove-checkpoint framework " + e.FrameworkID
		}
		return fmt.Sprintf("remove-checkpoint %s/%s container=%s", e.FrameworkID, e.ExecutorID, e.ContainerID)
	}
	return fmt.Sprintf("unknown effect %T", e)
}

func showEvent(ev *executorpb.Event) string {
	s := ev.GetType().String()
	switch ev.GetType() {
	case executorpb.Event_SUBSCRIBED:
		sub := ev.GetSubscribed()
		s += fmt.Sprintf(" agent=%s host=%s framework=%s executor=%s container=%s",
			sub.GetAgentInfo().GetId().GetValue(), sub.GetAgentInfo().GetHostname(),
			sub.GetFrameworkInfo().GetId().GetValue(), sub.GetExecutorInfo().GetExecutorId().GetValue(),
			sub.GetContainerId().GetValue())
	case executorpb.Event_LAUNCH:
		s += " " + ev.GetLaunch().GetTask().GetTaskId().GetValue()
	case executorpb.Event_LAUNCH_GROUP:
		var ids []string
		for _, t := range ev.GetLaunchGroup().GetTaskGroup().GetTasks() {
			ids = append(ids, t.GetTaskId().GetValue())
		}
		s += " " + strings.Join(ids, ",")
	case executorpb.Event_KILL:
		s += " " + ev.GetKill().GetTaskId().GetValue()
		if gp := ev.GetKill().GetKillPolicy().GetGracePeriod(); gp != nil {
			s += fmt.Sprintf(" grace=%v", time.Duration(gp.GetNanoseconds()))
		}
	case executorpb.Event_ACKNOWLEDGED:
		s += fmt.Sprintf(" %s uuid=%s", ev.GetAcknowledged().GetTaskId().GetValue(), showUUID(ev.GetAcknowledged().GetUuid()))
	case executorpb.Event_MESSAGE:
		s += fmt.Sprintf(" %q", ev.GetMessage().GetData())
	}
	return s
}

func showCall(e SendMaster) string {
	call := e.Call
	s := call.GetType().String()
	switch {
	case call.GetStatusUpdate() != nil:
		u := call.GetStatusUpdate()
		st := u.GetStatus()
		s += fmt.Sprintf(" %s/%s %s %s", u.GetFrameworkId().GetValue(), st.GetTaskId().GetValue(), st.GetState(), st.GetSource())
		if st.Reason != nil {
			s += " " + st.GetReason().String()
		}
		if st.GetMessage() != "" {
			s += fmt.Sprintf(" %q", st.GetMessage())
		}
		s += fmt.Sprintf(" agent=%s", st.GetAgentId().GetValue())
		if st.ExecutorId != nil {
			s += fmt.Sprintf(" executor=%s", st.GetExecutorId().GetValue())
		}
		s += fmt.Sprintf(" uuid=%s latest=%s", showUUID(st.GetUuid()), u.GetLatestState())
	case call.GetExecutorExited() != nil:
		x := call.GetExecutorExited()
		s += fmt.Sprintf(" %s/%s status=%d", x.GetFrameworkId().GetValue(), x.GetExecutorId().GetValue(), x.GetStatus())
		if x.GetMessage() != "" {
			s += fmt.Sprintf(" %q", x.GetMessage())
		}
	case call.GetFrameworkMessage() != nil:
		m := call.GetFrameworkMessage()
		s += fmt.Sprintf(" %s/%s %q", m.GetFrameworkId().GetValue(), m.GetExecutorId().GetValue(), m.GetData())
	}
	return s
}

func showTask(t *mesospb.Task) string {
	s := fmt.Sprintf("%s %s", t.GetTaskId().GetValue(), t.GetState())
	if t.StatusUpdateState != nil {
		s += fmt.Sprintf(" sent=%s/%s", t.GetStatusUpdateState(), showUUID(t.GetStatusUpdateUuid()))
	}
	return s
}

func showState(c *Core) string {
	var b strings.Builder
	snap := c.Snapshot()
	fmt.Fprintf(&b, "agent %q\n", snap.AgentID)
	fws := func(label string, list []FrameworkView) {
		for _, fw := range list {
			fmt.Fprintf(&b, "%s %s\n", label, fw.Info.GetId().GetValue())
			exs := func(label string, list []ExecutorView) {
				for _, ex := range list {
					fmt.Fprintf(&b, "  %s %s %s container=%s connected=%v", label, ex.Info.GetExecutorId().GetValue(), ex.State, ex.ContainerID, ex.Connected)
					if ex.State == ExecutorTerminated {
						fmt.Fprintf(&b, " exit=%d", ex.ExitStatus)
					}
					b.WriteByte('\n')
					for _, t := range ex.Queued {
						fmt.Fprintf(&b, "    queued %s\n", t.GetTaskId().GetValue())
					}
					for _, t := range ex.Tasks {
						fmt.Fprintf(&b, "    task %s\n", showTask(t))
					}
					for _, t := range ex.Completed {
						fmt.Fprintf(&b, "    completed %s\n", showTask(t))
					}
				}
			}
			exs("executor", fw.Executors)
			exs("completed-executor", fw.Completed)
		}
	}
	fws("framework", snap.Frameworks)
	fws("completed-framework", snap.Completed)
	st := c.Stats()
	fmt.Fprintf(&b, "stats frameworks=%d pending-updates=%d", st.Frameworks, st.PendingUpdates)
	var keys []string
	for s, n := range st.Executors {
		keys = append(keys, fmt.Sprintf(" executors.%s=%d", s, n))
	}
	for s, n := range st.Tasks {
		keys = append(keys, fmt.Sprintf(" tasks.%s=%d", s, n))
	}
	sort.Strings(keys)
	b.WriteString(strings.Join(keys, ""))
	b.WriteByte('\n')
	return b.String()
}

func showRegistration(c *Core) string {
	var b strings.Builder
	reg := c.Registration()
	for _, f := range reg.GetFrameworks() {
		fmt.Fprintf(&b, "framework %s\n", f.GetId().GetValue())
	}
	for _, e := range reg.GetExecutors() {
		fmt.Fprintf(&b, "executor %s/%s\n", e.GetFrameworkId().GetValue(), e.GetExecutorInfo().GetExecutorId().GetValue())
	}
	for _, t := range reg.GetTasks() {
		fmt.Fprintf(&b, "task %s/%s %s\n", t.GetFrameworkId().GetValue(), t.GetTaskId().GetValue(), t.GetState())
	}
	if b.Len() == 0 {
		return "empty"
	}
	return b.String()
}
