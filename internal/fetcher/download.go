package fetcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"sync"
	"time"
)

// errStalled is the cause of a download aborted by the stall timeout.
var errStalled = errors.New("download stalled")

// body is an open source: its bytes and their number (-1 when unknown).
type body struct {
	io.ReadCloser
	size int64
}

// open starts reading src; local files with the permissions of own (see
// openAs). HTTP downloads are watched: when no byte arrives for stall, the
// request is aborted.
func (f *Fetcher) open(ctx context.Context, src source, own *owner) (*body, error) {
	if src.kind == sourceFile {
		return openFile(src.path, own)
	}
	return f.openHTTP(ctx, src.url)
}

// openFile opens a local source; openAs refuses anything but a regular file.
func openFile(p string, own *owner) (*body, error) {
	file, err := own.openAs(p)
	if err != nil {
		return nil, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, err
	}
	return &body{ReadCloser: file, size: st.Size()}, nil
}

func (f *Fetcher) openHTTP(ctx context.Context, u string) (*body, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{cancel: cancel, stall: f.cfg.StallTimeout}
	w.timer = time.AfterFunc(w.stall, w.fire)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		w.stop()
		return nil, fmt.Errorf("GET: %w", err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		w.stop()
		return nil, fmt.Errorf("GET: %w", w.explain(ctx, unwrapURLError(err)))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		w.stop()
		return nil, fmt.Errorf("GET: %s", resp.Status)
	}
	w.rc = resp.Body
	w.ctx = ctx
	return &body{ReadCloser: w, size: resp.ContentLength}, nil
}

// unwrapURLError drops net/http's `Get "url": ` prefix: the URI is named
// once, by the caller.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// watchdog is an HTTP response body that aborts its request when no byte
// has arrived for stall (Mesos' --fetcher_stall_timeout).
type watchdog struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	stall  time.Duration
	timer  *time.Timer
	once   sync.Once
}

func (w *watchdog) fire() {
	w.cancel(fmt.Errorf("%w: no data for %v", errStalled, w.stall))
}

func (w *watchdog) stop() {
	w.once.Do(func() {
		w.timer.Stop()
		w.cancel(context.Canceled)
	})
}

func (w *watchdog) Read(p []byte) (int, error) {
	n, err := w.rc.Read(p)
	if n > 0 {
		w.timer.Reset(w.stall)
	}
	if err != nil && err != io.EOF {
		err = w.explain(w.ctx, err)
	}
	return n, err
}

func (w *watchdog) Close() error {
	err := w.rc.Close()
	w.stop()
	return err
}

// explain replaces the error of an aborted request by the stall cause.
func (w *watchdog) explain(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
		return cause
	}
	return err
}

// copyChunk bounds each copy step so that cancellation is noticed while
// file-to-file copies keep the kernel's fast path (copy_file_range).
const copyChunk = 8 << 20

// copyCtx copies src to dst until EOF or ctx is done.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.CopyN(dst, src, copyChunk)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// tempName is a fresh hidden name beside final, for write-then-rename.
func tempName(final string) string {
	var b [8]byte
	rand.Read(b[:])
	return path.Join(path.Dir(final), ".meso-fetch-"+hex.EncodeToString(b[:]))
}

// writeSandboxFile streams r into name (relative to the sandbox), through
// a temporary file renamed into place, so that name never holds a partial
// download. Every path is resolved inside root.
func writeSandboxFile(ctx context.Context, root *os.Root, name string, r io.Reader, perm fs.FileMode) (int64, error) {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
	}
	tmp := tempName(name)
	file, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, err
	}
	n, err := copyCtx(ctx, file, r)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return n, err
	}
	return n, nil
}
