package docker

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
)

// openOutputs opens <sandbox>/stdout and <sandbox>/stderr for appending
// (created when missing), as the posix containerizer does.
func openOutputs(sandbox string) (stdout, stderr *os.File, err error) {
	open := func(name string) (*os.File, error) {
		f, err := os.OpenFile(filepath.Join(sandbox, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open sandbox output: %w", err)
		}
		return f, nil
	}
	if stdout, err = open("stdout"); err != nil {
		return nil, nil, err
	}
	if stderr, err = open("stderr"); err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// output copies a container's multiplexed output stream (an attach or a
// followed log) into the sandbox files, until the stream ends.
type output struct {
	src  io.Closer
	done chan struct{} // closed when the copy has ended and the files are closed
	once sync.Once
}

// copyOutput starts copying r (whose connection src is) into stdout and
// stderr, which it closes at the end.
func (z *Containerizer) copyOutput(src io.Closer, r io.Reader, stdout, stderr *os.File) *output {
	o := &output{src: src, done: make(chan struct{})}
	run := func() {
		defer close(o.done)
		defer stderr.Close()
		defer stdout.Close()
		if _, err := stdcopy.StdCopy(stdout, stderr, r); err != nil && z.ctx.Err() == nil {
			z.log.Debug("container output stream ended", "sandbox", filepath.Dir(stdout.Name()), "err", err)
		}
		o.abort()
	}
	if !z.spawn(run) { // closed: copy nothing
		o.abort()
		stdout.Close()
		stderr.Close()
		close(o.done)
	}
	return o
}

// abort ends the copy by closing its stream.
func (o *output) abort() { o.once.Do(func() { o.src.Close() }) }

// drain waits up to d for the stream to end by itself (it does once the
// container has stopped), then ends it.
func (o *output) drain(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-o.done:
	case <-t.C:
		o.abort()
		<-o.done
	}
}
