package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/linkpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

func TestFormatNumber(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {23456, "23,456"},
		{1234567, "1,234,567"}, {12345.6, "12,346"}, {100.4, "100"}, {99.96, "100.0"},
		{12.34, "12.3"}, {1.234, "1.23"}, {0.01, "0.01"}, {-1234, "-1,234"},
	} {
		if got := formatNumber(tc.in); got != tc.want {
			t.Errorf("formatNumber(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLineRegexp(t *testing.T) {
	for _, line := range []string{
		"to RUNNING: 23,456 tasks/s",
		"to FINISHED (acked): 12,345 tasks/s",
		"update latency p99: 1.25 ms",
		"agents: 10,000",
		"master+sim RSS peak: 1,024 MiB",
	} {
		if !LineRegexp.MatchString(line) {
			t.Errorf("LineRegexp does not match %q", line)
		}
	}
	for _, line := range []string{"to RUNNING 23,456 tasks/s", "agents: ", "x: 1 2 3", "# header"} {
		if LineRegexp.MatchString(line) {
			t.Errorf("LineRegexp matches %q", line)
		}
	}
}

func TestTableRoundTrip(t *testing.T) {
	rep := &Report{
		Agents: 10000, Frameworks: 100, Tasks: 200000, TaskDuration: 2,
		ToRunningRate: 23456.4, ToFinishedRate: 12345, RegistrationRate: 3125.5, RegistrationTime: 3.2,
		FinishedAcked: 200000, UpdateLatency: Latency{P50: 1.234, P90: 12.5, P99: 250},
		Memory:    &Memory{Scope: "master", RSSBytes: 512 << 20, RSSPeakBytes: 600 << 20},
		LoadStart: [3]float64{5.12, 4, 3}, LoadEnd: [3]float64{7.3, 6, 5},
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"to RUNNING: 23,456 tasks/s\n", "to FINISHED (acked): 12,345 tasks/s\n",
		"registration: 3,126 agents/s\n", "registration time: 3.20 s\n",
		"update latency p50: 1.23 ms\n", "master RSS: 512 MiB\n", "load average at start: 5.12\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "heap") {
		t.Errorf("an external master's table has heap figures:\n%s", text)
	}
	figs, err := ParseTable(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != len(rep.Figures()) {
		t.Errorf("parsed %d figures, wrote %d", len(figs), len(rep.Figures()))
	}
	if f := figs["to RUNNING"]; f.Value != 23456 || f.Unit != "tasks/s" {
		t.Errorf("to RUNNING parsed as %+v", f)
	}
	if f := figs["tasks FINISHED (acked)"]; f.Value != 200000 || f.Unit != "" {
		t.Errorf("tasks FINISHED (acked) parsed as %+v", f)
	}
	if _, err := ParseTable(text + "not a figure\n"); !errors.Is(err, ErrTable) {
		t.Errorf("ParseTable of a bad line: %v, want ErrTable", err)
	}

	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.ToRunningRate != rep.ToRunningRate || back.Memory.RSSBytes != rep.Memory.RSSBytes || back.LoadEnd != rep.LoadEnd {
		t.Errorf("JSON round trip: got %+v", back)
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	l := summarize(s) // sorts s
	if l.Samples != 100 || l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("summarize(1..100 ms) = %+v", l)
	}
	if got := percentile(s[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one sample = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
	if got := percentile(s[:3], 50); got != 2*time.Millisecond {
		t.Errorf("p50 of 1,2,3 ms = %v", got)
	}
	if l := summarize(nil); l != (Latency{}) {
		t.Errorf("summarize(nil) = %+v", l)
	}
}

func TestFits(t *testing.T) {
	q := func(s string) resources.Quantities { return resources.MustParse(s).Quantities() }
	for _, tc := range []struct {
		avail, need string
		limit, want int
	}{
		{"cpus:8;mem:16384;disk:100;ports:[31000-32000]", "cpus:0.1;mem:32", 1000, 80},
		{"cpus:8;mem:16384", "cpus:0.1;mem:32", 25, 25},
		{"cpus:8;mem:64", "cpus:0.1;mem:32", 1000, 2},
		{"cpus:0.05;mem:64", "cpus:0.1;mem:32", 1000, 0},
		{"mem:64", "cpus:0.1;mem:32", 1000, 0},
		{"cpus:8;mem:64", "cpus:0.1;gpus:1", 1000, 0},
		{"cpus:1;mem:64;disk:10", "cpus:0.3", 1000, 3},
		{"cpus(web):1;cpus:1;mem:64", "cpus:0.5", 1000, 4},
	} {
		if got := fits(q(tc.avail), q(tc.need), tc.limit); got != tc.want {
			t.Errorf("fits(%s, %s, %d) = %d, want %d", tc.avail, tc.need, tc.limit, got, tc.want)
		}
	}
}

func TestShare(t *testing.T) {
	total := 0
	for i := range 3 {
		total += share(2000, 3, i)
	}
	if total != 2000 || share(2000, 3, 0) != 667 || share(2000, 3, 2) != 666 {
		t.Errorf("shares of 2000 over 3: %d %d %d", share(2000, 3, 0), share(2000, 3, 1), share(2000, 3, 2))
	}
}

func TestParseSys(t *testing.T) {
	if got := parseLoadAverage("11.41 10.48 7.72 3/812 12345\n"); got != [3]float64{11.41, 10.48, 7.72} {
		t.Errorf("parseLoadAverage = %v", got)
	}
	status := "Name:\tmeso\nVmPeak:\t 999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t8\n"
	rss, peak, err := parseProcStatus(bufio.NewScanner(strings.NewReader(status)))
	if err != nil || rss != 1024<<10 || peak != 2048<<10 {
		t.Errorf("parseProcStatus = %d, %d, %v", rss, peak, err)
	}
	if _, _, err := parseProcStatus(bufio.NewScanner(strings.NewReader("VmRSS: x kB\n"))); err == nil {
		t.Error("parseProcStatus accepted a bad number")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Agents: 0, Frameworks: 1, Tasks: 1},
		{Agents: 1, Frameworks: 0, Tasks: 1},
		{Agents: 1, Frameworks: 2, Tasks: 1},
		{Agents: 1, Frameworks: 1, Tasks: 1, TaskResources: resources.MustParse("ports:[1-2]")},
		{Agents: 1, Frameworks: 1, Tasks: 1, TaskResources: resources.MustParse("cpus:100")},
		{Agents: 1, Frameworks: 1, Tasks: 1, MasterPID: 42},
		{Agents: 1, Frameworks: 1, Tasks: 1, SteadyDuration: time.Second},
		{Agents: 1, Frameworks: 1, Tasks: 1, PipelineCalls: -1},
	} {
		if err := cfg.validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("validate(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestFinisherOrder(t *testing.T) {
	f := newFinisher()
	t0 := time.Unix(1000, 0)
	a := &simAgent{}
	for i, d := range []int{30, 10, 20, 10} {
		f.add(t0.Add(time.Duration(d)*time.Millisecond), a, taskKey{"f", string(rune('a' + i))})
	}
	due, next := f.takeDue(t0.Add(15 * time.Millisecond))
	if len(due) != 2 || due[0].key.task == "a" || due[1].key.task == "a" || !next.Equal(t0.Add(20*time.Millisecond)) {
		t.Fatalf("due at +15ms: %+v, next %v", due, next)
	}
	due, next = f.takeDue(t0.Add(time.Second))
	if len(due) != 2 || due[0].key.task != "c" || due[1].key.task != "a" || !next.IsZero() {
		t.Fatalf("due at +1s: %+v, next %v", due, next)
	}
}

func TestLatencyBook(t *testing.T) {
	b := newLatencyBook()
	u := bytes.Repeat([]byte{7}, 16)
	b.sent(u, 10*time.Millisecond)
	b.sent(u, 20*time.Millisecond) // a retry keeps the first send
	if d, ok := b.received(u, 35*time.Millisecond); !ok || d != 25*time.Millisecond {
		t.Errorf("received = %v, %v", d, ok)
	}
	if _, ok := b.received(u, time.Second); ok {
		t.Error("a duplicate delivery was measured again")
	}
	if _, ok := b.received([]byte{1}, time.Second); ok {
		t.Error("a short uuid was measured")
	}
}

func TestCallQueue(t *testing.T) {
	r := &runner{epoch: time.Now()}
	p := &agentPool{r: r}
	a1, a2 := &simAgent{p: p}, &simAgent{p: p}
	q := newCallQueue()
	update := func(a *simAgent, uuid int) outCall {
		st := newStatus("a1", "t1", mesospb.TaskState_TASK_RUNNING, time.Now())
		st.Uuid = make([]byte, 16)
		st.Uuid[0], st.Uuid[1] = byte(uuid), byte(uuid>>8)
		return outCall{a: a, call: &linkpb.AgentCall{StatusUpdate: &linkpb.AgentCall_StatusUpdate{Status: st}}}
	}
	uuidOf := func(oc outCall) byte { return oc.call.GetStatusUpdate().GetStatus().GetUuid()[0] }
	pong := outCall{a: a2, call: &linkpb.AgentCall{Type: linkpb.AgentCall_PONG.Enum()}}
	if !q.push(update(a1, 1)) || !q.push(update(a1, 2)) || !q.push(pong) {
		t.Fatal("a first push was refused")
	}
	if q.push(update(a1, 1)) {
		t.Error("a retry of a queued update was queued again")
	}
	if q.len() != 3 {
		t.Errorf("len = %d, want 3", q.len())
	}
	if a, calls, ok := q.pop(); !ok || a != a2 || len(calls) != 1 || calls[0].call.GetType() != linkpb.AgentCall_PONG {
		t.Fatalf("pop = %v; want the agent with a PONG first", calls)
	}
	q.done(a2)
	a, calls, ok := q.pop()
	if !ok || a != a1 || len(calls) != 2 || uuidOf(calls[0]) != 1 || uuidOf(calls[1]) != 2 {
		t.Fatalf("pop = %v; want both of agent 1's updates, in order, in one batch", calls)
	}
	if !q.push(update(a1, 1)) {
		t.Error("a retry of a sent update was refused")
	}
	q.push(update(a2, 3))
	// Agent 1's request is not answered yet: its new call waits.
	if a, calls, ok := q.pop(); !ok || a != a2 || len(calls) != 1 || uuidOf(calls[0]) != 3 {
		t.Fatalf("pop = %v; want agent 2's update, agent 1 being busy", calls)
	}
	popped := make(chan []outCall)
	go func() {
		_, calls, _ := q.pop()
		popped <- calls
	}()
	q.done(a1)
	if calls := <-popped; len(calls) != 1 || uuidOf(calls[0]) != 1 {
		t.Fatalf("pop after done = %v; want agent 1's retry", calls)
	}
	q.done(a1)
	q.done(a2)
	for i := range maxBatchCalls + 1 {
		q.push(update(a1, 1000+i))
	}
	if _, calls, _ := q.pop(); len(calls) != maxBatchCalls {
		t.Errorf("batch of %d calls, want at most %d", len(calls), maxBatchCalls)
	}
	q.done(a1)
	if _, calls, _ := q.pop(); len(calls) != 1 {
		t.Errorf("batch of %d calls, want the 1 left", len(calls))
	}
	if q.len() != 0 {
		t.Errorf("len = %d, want 0", q.len())
	}
	q.close()
	if _, _, ok := q.pop(); ok {
		t.Error("pop after close returned a call")
	}
}
