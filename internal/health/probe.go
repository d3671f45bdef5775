package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"

	"github.com/mesoproject/meso/internal/launcher"
	"github.com/mesoproject/meso/internal/mesosflag"
)

// Prober runs probes for one task.
type Prober struct {
	// Env and Dir are the environment and working directory of COMMAND
	// probes: the task's (its sandbox). The command's own variables are
	// added on top.
	Env []string
	Dir string
	// Output receives a COMMAND probe's stdout and stderr (Mesos sends both
	// to the executor's stderr); nil discards them.
	Output io.Writer
	// Host is where HTTP and TCP probes connect (default Host, 127.0.0.1).
	Host string
}

// Run runs one probe, bounded by its timeout and ctx.
func (p *Prober) Run(ctx context.Context, pr Probe) Result {
	if pr.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pr.Timeout)
		defer cancel()
	}
	var r Result
	switch pr.Kind {
	case KindCommand:
		r = p.command(ctx, pr)
	case KindHTTP:
		r = p.http(ctx, pr)
	case KindTCP:
		r = p.tcp(ctx, pr)
	default:
		r.Err = fmt.Errorf("%w: unknown probe kind %d", ErrInvalid, pr.Kind)
	}
	if r.Err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.Err = fmt.Errorf("%s probe timed out after %s", pr.Kind, mesosflag.FormatDuration(pr.Timeout))
	}
	return r
}

func (p *Prober) host() string {
	if p.Host != "" {
		return p.Host
	}
	return Host
}

// command runs the check's command in its own process group; a timeout
// kills the group.
func (p *Prober) command(ctx context.Context, pr Probe) Result {
	dir := p.Dir
	if dir == "" {
		dir = "."
	}
	cmd, err := launcher.Command(pr.Command, dir, p.Env)
	if err != nil {
		return Result{Err: fmt.Errorf("cannot run the check's command: %w", err)}
	}
	out := p.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	proc, err := launcher.Start(cmd)
	if err != nil {
		return Result{Err: fmt.Errorf("cannot start the check's command: %w", err)}
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
		_ = proc.Signal(syscall.SIGKILL)
		<-proc.Done()
		return Result{Err: ctx.Err()}
	}
	ps, err := proc.Wait(context.Background())
	switch {
	case err != nil:
		return Result{Err: fmt.Errorf("waiting for the check's command: %w", err)}
	case !ps.Exited():
		return Result{Err: errors.New(launcher.DescribeExit(ps))}
	}
	return Result{ExitCode: ps.ExitCode()}
}

// http GETs the URL, following redirects and ignoring certificate errors
// as Mesos' `curl -L -k` does.
func (p *Prober) http(ctx context.Context, pr Probe) Result {
	url := pr.Scheme + "://" + net.JoinHostPort(p.host(), strconv.Itoa(int(pr.Port))) + pr.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{Err: err}
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return Result{StatusCode: resp.StatusCode}
}

// probeClient keeps no connections: each probe opens its own, as a fresh
// curl would, so a server that stops accepting is noticed.
var probeClient = &http.Client{Transport: &http.Transport{
	DisableKeepAlives: true,
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // Mesos' curl -k
	Proxy:             nil,
}}

// tcp opens and closes a connection. A refused connection is a result
// (Connected false); running out of time is not.
func (p *Prober) tcp(ctx context.Context, pr Probe) Result {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(p.host(), strconv.Itoa(int(pr.Port))))
	if err != nil {
		if ctx.Err() != nil {
			return Result{Err: ctx.Err()}
		}
		return Result{Connected: false}
	}
	conn.Close()
	return Result{Connected: true}
}
