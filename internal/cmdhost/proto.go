package cmdhost

import (
	"bufio"
	"encoding/json"
	"net"
	"sync"
)

// Operations of the agent <-> host protocol: one JSON object per line.
const (
	opHello    = "hello"    // agent, first on a connection: Token; host answers opHello, or closes a connection whose token is wrong
	opLaunch   = "launch"   // agent: run the executor ID (Sandbox, Env); host answers opLaunched
	opLaunched = "launched" // host: Err empty when running
	opKill     = "kill"     // agent: Signal to ID (SIGTERM: shut down, SIGKILL: abort); host answers opKilled
	opKilled   = "killed"
	opList     = "list" // agent: which executors run; host answers opList with IDs
	opExit     = "exit" // agent: exit when idle; host answers opExit (Err when busy), then exits
	opExited   = "exited"
	opStarted  = "started" // host: the task of executor ID runs as process group Pid
)

// msg is one message either way. Seq pairs an answer with its request;
// opExited events have none.
type msg struct {
	Op      string   `json:"op"`
	Seq     uint64   `json:"seq,omitempty"`
	ID      string   `json:"id,omitempty"`
	Sandbox string   `json:"sandbox,omitempty"`
	Env     []string `json:"env,omitempty"`
	Signal  int      `json:"signal,omitempty"`
	Err     string   `json:"err,omitempty"`
	Status  int      `json:"status,omitempty"` // opExited: the wait status an executor process would have had
	IDs     []string `json:"ids,omitempty"`
	Pid     int      `json:"pid,omitempty"`
	Pids    []int    `json:"pids,omitempty"` // opList: the task pid of each of IDs (0: not started)
	Token   string   `json:"token,omitempty"`
}

// maxLine bounds one message (an executor's environment).
const maxLine = 4 << 20

// wire is one end of a connection: a line reader and a serialised writer.
type wire struct {
	c   net.Conn
	r   *bufio.Scanner
	wmu sync.Mutex
}

func newWire(c net.Conn) *wire {
	s := bufio.NewScanner(c)
	s.Buffer(make([]byte, 64<<10), maxLine)
	return &wire{c: c, r: s}
}

func (w *wire) read() (msg, error) {
	if !w.r.Scan() {
		err := w.r.Err()
		if err == nil {
			err = net.ErrClosed
		}
		return msg{}, err
	}
	var m msg
	err := json.Unmarshal(w.r.Bytes(), &m)
	return m, err
}

func (w *wire) write(m msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_, err = w.c.Write(b)
	return err
}
