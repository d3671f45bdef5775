package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/launcher"
)

// formatUpdate prints a status update the way mesos-execute does.
func formatUpdate(w io.Writer, st *mesospb.TaskStatus) {
	fmt.Fprintf(w, "Received status update %s for task '%s'\n", st.GetState(), st.GetTaskId().GetValue())
	if st.Message != nil {
		fmt.Fprintf(w, "  message: '%s'\n", st.GetMessage())
	}
	if st.Source != nil {
		fmt.Fprintf(w, "  source: %s\n", st.GetSource())
	}
	if st.Reason != nil {
		fmt.Fprintf(w, "  reason: %s\n", st.GetReason())
	}
	if st.Healthy != nil {
		fmt.Fprintf(w, "  healthy?: %t\n", st.GetHealthy())
	}
}

var (
	exitedRE   = regexp.MustCompile(`Command exited with status (\d+)`)
	signaledRE = regexp.MustCompile(`Command terminated with signal (.+?)\s*$`)
)

// taskExitCode turns a terminal status into meso execute's exit code (see
// the command's help).
func taskExitCode(st *mesospb.TaskStatus) int {
	state := st.GetState()
	if state == mesospb.TaskState_TASK_FINISHED {
		return 0
	}
	if state != mesospb.TaskState_TASK_FAILED && state != mesospb.TaskState_TASK_KILLED {
		return 1
	}
	msg := st.GetMessage()
	if m := exitedRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n < 256 {
			return n
		}
	}
	if m := signaledRE.FindStringSubmatch(msg); m != nil {
		if sig, ok := signalByName(m[1]); ok {
			return 128 + int(sig)
		}
	}
	if state == mesospb.TaskState_TASK_KILLED {
		return 128 + int(syscall.SIGKILL)
	}
	return 1
}

// signalByName maps the text of launcher.SignalName back to the signal.
func signalByName(name string) (syscall.Signal, bool) {
	for sig := syscall.Signal(1); sig < 32; sig++ {
		if launcher.SignalName(sig) == name {
			return sig, true
		}
	}
	return 0, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// printSandbox prints the task's stdout and stderr from its sandbox, or
// says why it cannot.
func (x *execution) printSandbox(ctx context.Context, final *mesospb.TaskStatus) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	agent, err := x.agentURL(ctx, final.GetAgentId().GetValue())
	if err != nil {
		fmt.Fprintf(x.stderr, "Cannot show the task's output: %v\n", err)
		return
	}
	// Offers say https for a TLS agent; /master/state's pid (the fallback)
	// and an older master's offers say nothing or http, and a TLS cluster
	// serves https.
	if rest, ok := strings.CutPrefix(agent, "http://"); ok && x.secure {
		agent = "https://" + rest
	}
	fw := x.client.FrameworkID().GetValue()
	// The command executor's id is the task id.
	dir, gone := sandboxDir(ctx, x.http, agent, fw, sandboxExecutorID(x.plan.task))
	for _, out := range []struct {
		file string
		w    io.Writer
	}{{"stdout", x.stdout}, {"stderr", x.stderr}} {
		data, err := readSandboxFile(ctx, x.http, agent, dir+"/"+out.file)
		if errors.Is(err, errRefused) && gone != nil {
			fmt.Fprintf(x.stderr, "Cannot show the task's output: %v\n", gone)
			return
		}
		if err != nil {
			fmt.Fprintf(x.stderr, "Cannot read the task's %s: %v\n", out.file, err)
			continue
		}
		fmt.Fprintf(out.w, "==> %s of task '%s' <==\n", out.file, x.plan.task.GetTaskId().GetValue())
		out.w.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			fmt.Fprintln(out.w)
		}
	}
}

// agentURL finds the base URL of an agent: from the url field of the offer
// when the master set it, else from the master's /master/state.
func (x *execution) agentURL(ctx context.Context, agentID string) (string, error) {
	if u := x.offer.GetUrl(); x.offer.GetAgentId().GetValue() == agentID && u != nil {
		host := u.GetAddress().GetIp()
		if host == "" {
			host = u.GetAddress().GetHostname()
		}
		if host != "" {
			scheme := u.GetScheme()
			if scheme == "" {
				scheme = "http"
			}
			return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(u.GetAddress().GetPort()))), nil
		}
	}
	leader := x.client.Leader()
	if leader == "" {
		return "", errors.New("not subscribed to a master")
	}
	var state masterState
	if err := getJSON(ctx, x.http, leader+"/master/state", &state); err != nil {
		return "", err
	}
	return state.agentURL(agentID)
}

// masterState is the part of /master/state that locates agents.
type masterState struct {
	Slaves []struct {
		ID       string `json:"id"`
		PID      string `json:"pid"` // "slave(1)@10.0.0.1:5051"
		Hostname string `json:"hostname"`
		Port     int    `json:"port"`
	} `json:"slaves"`
}

func (s *masterState) agentURL(id string) (string, error) {
	for _, a := range s.Slaves {
		if a.ID != id {
			continue
		}
		if _, hostport, ok := strings.Cut(a.PID, "@"); ok && hostport != "" {
			return "http://" + hostport, nil
		}
		if a.Hostname != "" && a.Port > 0 {
			return "http://" + net.JoinHostPort(a.Hostname, strconv.Itoa(a.Port)), nil
		}
		return "", fmt.Errorf("master lists agent %s without an address", id)
	}
	return "", fmt.Errorf("master does not list agent %s", id)
}

// agentState is the part of an agent's /state that locates sandboxes.
type agentState struct {
	Frameworks          []stateFramework `json:"frameworks"`
	CompletedFrameworks []stateFramework `json:"completed_frameworks"`
}

type stateFramework struct {
	ID                 string          `json:"id"`
	Executors          []stateExecutor `json:"executors"`
	CompletedExecutors []stateExecutor `json:"completed_executors"`
}

type stateExecutor struct {
	ID        string `json:"id"`
	Directory string `json:"directory"`
}

// sandboxDir finds an executor's sandbox directory in the agent's /state,
// falling back to the virtual path Mesos agents also serve. gone is nil
// when /state lists the executor; otherwise it says why reading from the
// fallback is likely to fail, for the caller to give instead of the files
// API's answer (which can only say the path is not served).
func sandboxDir(ctx context.Context, hc *http.Client, agent, frameworkID, executorID string) (dir string, gone error) {
	var state agentState
	if err := getJSON(ctx, hc, agent+"/state", &state); err == nil {
		for _, fw := range slices.Concat(state.Frameworks, state.CompletedFrameworks) {
			if fw.ID != frameworkID {
				continue
			}
			for _, ex := range slices.Concat(fw.Executors, fw.CompletedExecutors) {
				if ex.ID == executorID && ex.Directory != "" {
					return ex.Directory, nil
				}
			}
		}
	}
	return "/frameworks/" + frameworkID + "/executors/" + executorID + "/runs/latest",
		fmt.Errorf("the agent at %s no longer knows executor '%s' of framework %s, so its sandbox cannot be read: "+
			"the agent restarted without recovering it (a framework that does not checkpoint loses its tasks and "+
			"sandboxes when the agent restarts; meso execute --checkpoint keeps them) or removed the sandbox",
			agent, executorID, frameworkID)
}

// filesChunk is how much one /files/read request asks for.
const filesChunk = 1 << 20

// maxSandboxOutput bounds how much of a file is printed.
const maxSandboxOutput = 64 << 20

// readSandboxFile reads a whole file through the agent's /files/read, in
// chunks until an empty one.
func readSandboxFile(ctx context.Context, hc *http.Client, agent, path string) ([]byte, error) {
	var out []byte
	for len(out) < maxSandboxOutput {
		q := url.Values{"path": {path}, "offset": {strconv.Itoa(len(out))}, "length": {strconv.Itoa(filesChunk)}}
		var chunk struct {
			Data   string `json:"data"`
			Offset int    `json:"offset"`
		}
		if err := getJSON(ctx, hc, agent+"/files/read?"+q.Encode(), &chunk); err != nil {
			return out, err
		}
		if chunk.Data == "" { // at the end (a server may answer less than asked)
			break
		}
		out = append(out, chunk.Data...)
	}
	return out, nil
}

// refusal is an error status answered to a GET; it matches errRefused.
type refusal string

func (r refusal) Error() string { return string(r) }

func (r refusal) Is(target error) bool { return target == errRefused }

// getJSON GETs u and decodes its JSON body into v.
func getJSON(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return refusal(fmt.Sprintf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body))))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
