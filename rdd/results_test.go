package rdd_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mesoproject/meso/api/rddpb"
	"github.com/mesoproject/meso/api/rddpb/rddpbconnect"
	"github.com/mesoproject/meso/rdd"
)

// undecodable's codec encodes but cannot decode: records of it reach the
// driver in cluster mode and cannot be read there.
type undecodable struct{ X int }

type undecodableCodec struct{}

func (undecodableCodec) Append(dst []byte, v undecodable) []byte {
	return fmt.Appendf(dst, "u%d;", v.X)
}
func (undecodableCodec) Decode([]byte) (undecodable, int, error) {
	return undecodable{}, 0, errors.New("this codec cannot decode")
}
func (undecodable) MakeCodec() any { return undecodableCodec{} }

var undecodables = rdd.Func(func(n int) *rdd.RDD[undecodable] {
	return rdd.Map(rdd.Range(0, n, 4), func(i int) undecodable { return undecodable{i} })
})

// A result the driver cannot decode fails the job with an error naming the
// dataset and the codec's error (as Spark aborts a job on a result it
// cannot deserialize), not retried as a task failure; the session still
// runs the next job.
func TestUndecodableResultFailsTheJob(t *testing.T) {
	s := rdd.StartInProcessCluster(t, rdd.Config{}, 2)
	_, err := rdd.Collect(context.Background(), s, undecodables(100))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "this codec cannot decode") || !strings.Contains(err.Error(), "from the executor") {
		t.Fatalf("collect of undecodable records: %v, want the decoding error", err)
	}
	if st := s.Stats(); st.TasksFailed != 0 {
		t.Fatalf("%d task failures: the decoding error was retried", st.TasksFailed)
	}
	if n, err := rdd.Count(context.Background(), s, undecodables(100)); err != nil || n != 100 {
		t.Fatalf("count after the failed collect: %d, %v", n, err)
	}
}

var squares = rdd.Func(func(n, parts int) *rdd.RDD[int] {
	return rdd.Map(rdd.Range(0, n, parts), func(i int) int { return i * i })
})

// An executor that took tasks and whose result reports never arrive whole
// (its process died while posting: the body is cut off) has none of them
// applied; once the executor is lost, as the Mesos backend reports an
// executor's end, its tasks run again elsewhere and the job's result is
// exact.
func TestCutReportThenExecutorLost(t *testing.T) {
	// No prefetched tasks: the executor holds exactly its 4 slots' tasks.
	s := rdd.StartInProcessCluster(t, rdd.Config{TaskPrefetch: -1}, 1)
	url, token := rdd.DriverEndpoint(s)
	ctx := t.Context()
	rpc := rddpbconnect.NewDriverServiceClient(&http.Client{Transport: &http2Only{token: token}}, url)
	if _, err := rpc.Register(ctx, connect.NewRequest(&rddpb.RegisterRequest{ExecutorId: "dying", ShuffleAddress: "127.0.0.1:1",
		Slots: 4, Registry: rdd.RegistrySites()})); err != nil {
		t.Fatal(err)
	}
	const n, parts = 4000, 40
	job := collectSquaresInBackground(s, n, parts)
	// Take tasks as the dying executor until its 4 slots are full (the
	// job has 40: a poll may answer before the driver filled them all), and
	// post each report cut off in its value.
	deadline := time.Now().Add(30 * time.Second)
	var taken []*rddpb.Task
	for len(taken) < 4 {
		if time.Now().After(deadline) {
			t.Fatal("the dying executor got no task")
		}
		resp, err := rpc.PollTasks(ctx, connect.NewRequest(&rddpb.PollTasksRequest{ExecutorId: "dying"}))
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, resp.Msg.GetTasks()...)
	}
	for _, tk := range taken {
		req := &rddpb.ReportResultsRequest{ExecutorId: "dying", WantTasks: true, Results: []*rddpb.TaskResult{
			{Id: tk.GetId(), Value: bytes.Repeat([]byte{2}, 1000), Metrics: &rddpb.Metrics{}}}}
		body, err := rdd.ReportBody(req)
		if err != nil {
			t.Fatal(err)
		}
		if status := postCut(t, url, token, body, len(body)-300); status != http.StatusBadRequest {
			t.Fatalf("cut report: status %d, want 400", status)
		}
	}
	if stillRunning := rdd.RunningOn(s, "dying"); stillRunning != len(taken) {
		t.Fatalf("%d of the %d tasks of the cut reports still run on the dying executor, want all", stillRunning, len(taken))
	}
	select {
	case o := <-job.done:
		t.Fatalf("the job ended before its tasks' results arrived: %d records, %v", len(o.v), o.err)
	default:
	}
	if lost := job.loseExecutor(t, "dying", "killed while posting its results"); lost != len(taken) {
		t.Fatalf("%d tasks ended as lost with the executor, want %d", lost, len(taken))
	}
}

// postCut posts body to the driver's /results, declaring all of it but
// sending only its first n bytes before closing the connection, and
// returns the driver's status (0 when none came back).
func postCut(t *testing.T, url, token string, body []byte, n int) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: driver\r\n%s: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		rdd.ResultsPath, "X-Meso-Shuffle-Token", token, rdd.ResultsContentType, len(body))
	conn.Write(body[:n])
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// http2Only is a Connect client transport for the driver's RPC (HTTP/2
// without TLS) carrying the application's token.
type http2Only struct {
	token string
	once  sync.Once
	rt    http.RoundTripper
}

func (h *http2Only) RoundTrip(r *http.Request) (*http.Response, error) {
	h.once.Do(func() {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		h.rt = &http.Transport{Protocols: &p}
	})
	r = r.Clone(r.Context())
	r.Header.Set("X-Meso-Shuffle-Token", h.token)
	return h.rt.RoundTrip(r)
}

// squaresJob is Collect of squares(n, parts) running in the background.
type squaresJob struct {
	s    *rdd.Session
	n    int
	done chan squaresResult
}

type squaresResult struct {
	v   []int
	err error
}

func collectSquaresInBackground(s *rdd.Session, n, parts int) *squaresJob {
	j := &squaresJob{s: s, n: n, done: make(chan squaresResult, 1)}
	go func() {
		v, err := rdd.Collect(context.Background(), s, squares(n, parts))
		j.done <- squaresResult{v, err}
	}()
	return j
}

// loseExecutor loses executor id, waits for the job, checks its result is
// exact and returns how many of id's tasks ended lost with it
// (rdd.ErrExecutorLost).
func (j *squaresJob) loseExecutor(t *testing.T, id, why string) int {
	t.Helper()
	var mu sync.Mutex
	lost := 0
	j.s.AddListener(func(e rdd.Event) {
		if e.Kind == rdd.TaskEnd && e.Executor == id && strings.Contains(e.Error, rdd.ErrExecutorLost.Error()) {
			mu.Lock()
			lost++
			mu.Unlock()
		}
	})
	rdd.LoseExecutor(j.s, id, why)
	o := <-j.done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if len(o.v) != j.n {
		t.Fatalf("%d records, want %d", len(o.v), j.n)
	}
	for i, v := range o.v {
		if v != i*i {
			t.Fatalf("record %d is %d, want %d", i, v, i*i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return lost
}
