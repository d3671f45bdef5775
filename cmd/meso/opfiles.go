package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// errUnknownTask: the master knows no task of that id.
var errUnknownTask = errors.New("unknown task")

// sandboxFlags are the flags of cat and tail.
type sandboxFlags struct {
	opFlags
	framework string
}

func (f *sandboxFlags) add(cmd *cobra.Command) {
	f.opFlags.add(cmd)
	cmd.Flags().StringVar(&f.framework, "framework", "", "the task's framework id, when several frameworks have a task of that id")
}

func newCatCmd() *cobra.Command {
	var f sandboxFlags
	cmd := &cobra.Command{
		Use:   "cat TASK [FILE]",
		Short: "Print a file of a task's sandbox (default stdout)",
		Long: `cat finds the task through the master's operator API (GET_TASKS, GET_AGENTS),
its sandbox through its agent's /state, and prints FILE (a path relative to
the sandbox, default stdout) through the agent's operator READ_FILE.`,
		Example:           "  meso cat my-task\n  meso cat my-task stderr",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeIDs(&f.opFlags, masterpb.Call_GET_TASKS, taskIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := f.locate(cmd.Context(), args)
			if err != nil {
				return err
			}
			_, err = sb.copy(cmd.Context(), cmd.OutOrStdout(), 0, -1)
			return err
		},
	}
	f.add(cmd)
	return cmd
}

func newTailCmd() *cobra.Command {
	var f sandboxFlags
	var follow bool
	var n int
	cmd := &cobra.Command{
		Use:   "tail [-f] [-n N] TASK [FILE]",
		Short: "Print the last lines of a file of a task's sandbox (default stdout), -f to follow it",
		Long: `tail prints the last N lines of FILE (relative to the task's sandbox, default
stdout), read through the agent's operator READ_FILE. With -f it then polls
for new output (every 100ms, backing off to 2s while nothing comes, waiting
as long as a busy agent's Retry-After asks) until interrupted.`,
		Example:           "  meso tail -f my-task\n  meso tail -n 100 my-task stderr",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeIDs(&f.opFlags, masterpb.Call_GET_TASKS, taskIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return fmt.Errorf("-n must be 0 or more, got %d", n)
			}
			ctx := cmd.Context()
			sb, err := f.locate(ctx, args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			off, err := sb.tail(ctx, out, n)
			if err != nil || !follow {
				return err
			}
			err = sb.follow(ctx, out, off)
			if ctx.Err() != nil { // interrupted: the way -f ends
				return nil
			}
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until interrupted")
	cmd.Flags().IntVarP(&n, "lines", "n", 10, "how many last lines to print")
	return cmd
}

// sandboxFile is a file of a task's sandbox on its agent.
type sandboxFile struct {
	c     *opClient
	agent string // scheme://host:port
	path  string // absolute path on the agent
	gone  error  // why reads fail when the agent does not list the executor (sandboxDir)
}

// locate finds the file args name: TASK [FILE].
func (f *sandboxFlags) locate(ctx context.Context, args []string) (*sandboxFile, error) {
	file := "stdout"
	if len(args) > 1 {
		file = args[1]
	}
	if path.IsAbs(file) || slices.Contains(strings.Split(file, "/"), "..") {
		return nil, fmt.Errorf("FILE %q must be a path inside the sandbox (relative, without ..)", file)
	}
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	task, err := findTask(ctx, c, args[0], f.framework)
	if err != nil {
		return nil, err
	}
	agent, err := agentBase(ctx, c, task.GetAgentId().GetValue())
	if err != nil {
		return nil, err
	}
	exec := task.GetExecutorId().GetValue()
	if exec == "" { // a command task: its executor has the task's id
		exec = task.GetTaskId().GetValue()
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	dir, gone := sandboxDir(ctx, c.http, agent, task.GetFrameworkId().GetValue(), exec)
	return &sandboxFile{c: c, agent: agent, path: dir + "/" + file, gone: gone}, nil
}

// findTask finds the task of id (of framework fw when given): a live one
// first, else the latest completed one.
func findTask(ctx context.Context, c *opClient, id, fw string) (*mesospb.Task, error) {
	resp := &masterpb.Response{}
	if _, err := c.callMaster(ctx, masterCall(masterpb.Call_GET_TASKS), resp); err != nil {
		return nil, err
	}
	g := resp.GetGetTasks()
	var found []*mesospb.Task
	for _, list := range [][]*mesospb.Task{g.GetTasks(), g.GetUnreachableTasks(), g.GetPendingTasks(), g.GetCompletedTasks()} {
		for _, t := range list {
			if t.GetTaskId().GetValue() == id && (fw == "" || t.GetFrameworkId().GetValue() == fw) {
				found = append(found, t)
			}
		}
		if len(found) > 0 {
			break
		}
	}
	switch {
	case len(found) == 0 && fw != "":
		return nil, fmt.Errorf("%w %q of framework %q: the master lists no such task", errUnknownTask, id, fw)
	case len(found) == 0:
		return nil, fmt.Errorf("%w %q: the master lists no such task", errUnknownTask, id)
	case len(found) > 1 && fw == "":
		var fws []string
		for _, t := range found {
			fws = append(fws, t.GetFrameworkId().GetValue())
		}
		return nil, fmt.Errorf("task %q exists in several frameworks (%s): name one with --framework", id, strings.Join(fws, ", "))
	}
	return found[len(found)-1], nil
}

// agentBase finds the URL of agent id from the master's GET_AGENTS.
func agentBase(ctx context.Context, c *opClient, id string) (string, error) {
	resp := &masterpb.Response{}
	if _, err := c.callMaster(ctx, masterCall(masterpb.Call_GET_AGENTS), resp); err != nil {
		return "", err
	}
	for _, a := range resp.GetGetAgents().GetAgents() {
		info := a.GetAgentInfo()
		if info.GetId().GetValue() != id {
			continue
		}
		if _, hp, ok := strings.Cut(a.GetPid(), "@"); ok && hp != "" {
			return c.agentScheme + "://" + hp, nil
		}
		if info.GetHostname() != "" && info.GetPort() > 0 {
			return c.agentScheme + "://" + net.JoinHostPort(info.GetHostname(), strconv.Itoa(int(info.GetPort()))), nil
		}
		return "", fmt.Errorf("the master lists agent %s without an address", id)
	}
	return "", fmt.Errorf("the master does not list agent %s (removed?)", id)
}

// readChunk is how much one READ_FILE asks for.
const readChunk = 1 << 20

// maxBusy is how many 503s in a row one read waits out before it fails.
const maxBusy = 30

// read reads up to length bytes at off (length < 0: a chunk), waiting out
// an agent's 503 Retry-After. It returns the data and the file's size.
func (s *sandboxFile) read(ctx context.Context, off int64, length int64) ([]byte, int64, error) {
	if length < 0 || length > readChunk {
		length = readChunk
	}
	call := &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(), ReadFile: &agentpb.Call_ReadFile{
		Path: proto.String(s.path), Offset: proto.Uint64(uint64(off)), Length: proto.Uint64(uint64(length))}}
	for tries := 1; ; tries++ {
		resp := &agentpb.Response{}
		err := s.c.callAgent(ctx, s.agent, call, resp)
		var busy *retryAfter
		if errors.As(err, &busy) && tries < maxBusy {
			if werr := waitFor(ctx, busy.wait); werr != nil {
				return nil, 0, werr
			}
			continue
		}
		if errors.Is(err, errRefused) && s.gone != nil {
			return nil, 0, s.gone
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", s.path, err)
		}
		rf := resp.GetReadFile()
		return rf.GetData(), int64(rf.GetSize()), nil
	}
}

// copy writes the file from off up to limit bytes (limit < 0: to its end as
// of now) to w and returns the offset reached.
func (s *sandboxFile) copy(ctx context.Context, w io.Writer, off, limit int64) (int64, error) {
	for limit != 0 {
		data, _, err := s.read(ctx, off, limit)
		if err != nil {
			return off, err
		}
		if len(data) == 0 {
			break
		}
		if _, err := w.Write(data); err != nil {
			return off, err
		}
		off += int64(len(data))
		if limit > 0 {
			limit -= int64(len(data))
		}
	}
	return off, nil
}

// tail writes the last n lines and returns the offset of the file's end.
func (s *sandboxFile) tail(ctx context.Context, w io.Writer, n int) (int64, error) {
	_, size, err := s.read(ctx, 0, 0)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return size, nil
	}
	// Read back from the end, doubling the window until it holds n lines.
	var data []byte
	start := size
	for window := int64(8 << 10); ; window *= 2 {
		start = max(size-window, 0)
		var buf bytes.Buffer
		if _, err := s.copy(ctx, &buf, start, size-start); err != nil {
			return 0, err
		}
		data = buf.Bytes()
		if start == 0 || bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) >= n {
			break
		}
	}
	body := bytes.TrimSuffix(data, []byte("\n"))
	cut := 0
	for i, seen := len(body)-1, 0; i >= 0; i-- {
		if body[i] == '\n' {
			if seen++; seen == n {
				cut = i + 1
				break
			}
		}
	}
	_, err = w.Write(data[cut:])
	return start + int64(len(data)), err
}

// Polling bounds of tail -f.
const (
	followMin = 100 * time.Millisecond
	followMax = 2 * time.Second
)

// follow prints what is appended to the file from off until ctx ends. A
// file that shrank below off (truncated) is followed again from its start.
func (s *sandboxFile) follow(ctx context.Context, w io.Writer, off int64) error {
	wait := followMin
	for {
		data, size, err := s.read(ctx, off, -1)
		if err != nil {
			return err
		}
		switch {
		case len(data) > 0:
			if _, err := w.Write(data); err != nil {
				return err
			}
			off += int64(len(data))
			wait = followMin
			continue // more may be there at once
		case size < off:
			off = 0
			continue
		}
		if err := waitFor(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, followMax)
	}
}

// waitFor waits d or until ctx ends.
func waitFor(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
