package httpbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// InMemoryBody is a request body a server already holds whole in memory
// (h1pipe's): TakeWhole gives its bytes, valid until the handler returns,
// when none of it was read yet, and counts them read; ReadBody then does
// not copy them.
type InMemoryBody interface {
	TakeWhole() ([]byte, bool)
}

// ReadBody reads r's body, of at most limit bytes, under the bounds (see
// the package doc). On success the caller must call release once it no
// longer needs the body's bytes (after decoding them); release is a no-op
// after an error. Errors wrap ErrTooLarge, ErrBusy, ErrTimeout or ErrRead,
// with a message fit for the client.
func (b *Bounds) ReadBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, release func(), err error) {
	release = func() {}
	if r.ContentLength > limit {
		return nil, release, fmt.Errorf("%w: request body of %d bytes exceeds the limit of %d bytes",
			ErrTooLarge, r.ContentLength, limit)
	}
	known := r.ContentLength >= 0
	if wb, ok := r.Body.(InMemoryBody); ok && known {
		if body, ok := wb.TakeWhole(); ok && int64(len(body)) == r.ContentLength {
			return body, release, nil
		}
	}
	size := limit // what a body of unknown length may grow to
	if known {
		size = r.ContentLength
	}
	in := http.MaxBytesReader(w, r.Body, limit)
	// One byte over the expected size lets fill see the end of the body.
	buf, ended, err := fill(in, make([]byte, 0, min(size, SmallBody)+1))
	if err != nil {
		return nil, release, readError(err, limit)
	}
	if ended {
		return buf, release, nil
	}

	ctx, cancel := context.WithDeadline(r.Context(), b.bodyDeadline(r))
	defer cancel()
	held, err := b.budget.acquire(ctx, size)
	if err != nil {
		return nil, release, fmt.Errorf("%w: request bodies in memory are at their bound of %d bytes (--http_body_memory); try again",
			ErrBusy, b.cfg.BodyMemory)
	}
	var once sync.Once
	release = func() { once.Do(func() { b.budget.release(held) }) }
	for !ended {
		if len(buf) == cap(buf) {
			grown := min(2*int64(cap(buf)), limit+1)
			if known {
				grown = size + 1
			}
			buf = append(make([]byte, 0, grown), buf...)
		}
		if buf, ended, err = fill(in, buf); err != nil {
			release()
			return nil, func() {}, readError(err, limit)
		}
	}
	return buf, release, nil
}

// fill reads from r into buf until buf is full or r ends, which it
// reports.
func fill(r io.Reader, buf []byte) ([]byte, bool, error) {
	for len(buf) < cap(buf) {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

// readError classifies an error reading a body.
func readError(err error, limit int64) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: request body exceeds the limit of %d bytes", ErrTooLarge, limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: the request body did not arrive within the body timeout (--http_body_timeout)", ErrTimeout)
	}
	return fmt.Errorf("%w: %w", ErrRead, err)
}
